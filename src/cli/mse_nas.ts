// `bionas search --method mse-nas` and `bionas rdm-check`: MSE-NAS (SPEC 10) over spiking
// genomes. A search of its own kind rather than a SearchStrategy: strategies are built around a
// supernet (its tensors checkpointed, a genotype derived from its alphas each epoch, weight and
// architecture halves of the data), and MSE-NAS has none: it scores untrained networks, one per
// genome. So `bionas search` hands --method mse-nas to this file (as `bionas benchmark` runs the
// table strategies), which runs its own run-loop job (src/search/mse_nas/search.ts): it registers
// itself as a search command (SearchCommand in src/search/strategies/strategy.ts).

import { deviceLine } from '../gpu/device.js';
import { initGpu } from '../gpu/runtime.js';
import { UsageError, type FlagTable, type FlagValues } from './flags.js';
import { jobCommandFlags } from './resume.js';
import { DATA_FLAGS, loadData, defaultRunDir } from './common.js';
import { openRunFolder } from '../run/folder.js';
import { runJob, startFresh, DEFAULT_CHECKPOINT_MINUTES } from '../run/loop.js';
import { SIGNAL_EXIT_CODES } from '../run/stop.js';
import { writeTextAtomic } from '../run/state.js';
import { fmtTime } from '../run/progress.js';
import { RDM_FITNESSES } from '../search/fitness/rdm.js';
import { NSGA2_POPULATION, NSGA2_OFFSPRING } from '../search/optimizers/nsga2.js';
import { registerSearchCommand } from '../search/strategies/registry.js';
import { scoringBatch, releaseScoringBatch } from '../search/mse_nas/score.js';
import { MseNasJob, MSE_NAS_KIND, parseObjectives, chooseFromFront, MSE_NAS_DEFAULT_FITNESS, type MseNasConfig } from '../search/mse_nas/search.js';
import { RdmCheckJob, checkTable, bestVariant, type RdmCheckConfig, type CheckRecord } from '../search/mse_nas/rdm_check.js';

/** Generations of MSE-NAS' released search (SPEC 10: 100). */
export const MSE_NAS_GENERATIONS = 100;
// The scored network's size: bionas choices that keep a CPU search short (BrainCog trains its
// found networks with T 10 and more channels; a search may score smaller than it trains).
export const MSE_NAS_CELLS = 3;
export const MSE_NAS_TIMESTEPS = 4;
export const MSE_NAS_C = 8;
/** Images of the scoring batch (bionas choice: 64, the size docs/MSE-NAS.md timed the RDMs at). */
export const MSE_NAS_SCORE_BATCH = 64;

const NETWORK_FLAGS: FlagTable = {
  cells: { type: 'int', min: 1, max: 100, default: MSE_NAS_CELLS, help: 'normal cells of a genome (bionas choice: 3)' },
  timesteps: { type: 'int', min: 1, max: 64, default: MSE_NAS_TIMESTEPS, help: 'time steps T of a scored network (BrainCog: 10; 4 keeps CPU runs short)' },
  C: { type: 'int', min: 1, default: MSE_NAS_C, help: 'channels of the first cells of a scored network (bionas choice: 8)' },
  'score-batch': { type: 'int', min: 2, max: 4096, default: MSE_NAS_SCORE_BATCH, help: 'training images every genome is scored on (one fixed, seeded batch)' },
  seed: { type: 'int', min: 0, default: 0, help: 'seed of NSGA-II, the scoring batch and the scored networks\' weights' },
  run: { type: 'string', help: 'run folder' },
  resume: { type: 'string', help: 'continue the run in this folder from its checkpoint (flags left out are taken from it)' },
  'log-every': { type: 'int', min: 1, default: 1, help: 'genomes between progress-bar refreshes' },
  ...DATA_FLAGS,
};

export const MSE_NAS_FLAGS: FlagTable = {
  method: { type: 'string', default: 'mse-nas', choices: ['mse-nas'], help: 'mse-nas (other methods: bionas search --help)' },
  population: { type: 'int', min: 2, default: NSGA2_POPULATION, help: 'NSGA-II population (MSE-NAS: 50)' },
  offspring: { type: 'int', min: 1, max: 10_000, default: NSGA2_OFFSPRING, help: 'offspring per generation (MSE-NAS: 50)' },
  generations: { type: 'int', min: 1, default: MSE_NAS_GENERATIONS, help: 'generations, the initial population\'s included (MSE-NAS: 100)' },
  fitness: { type: 'string', default: MSE_NAS_DEFAULT_FITNESS, choices: RDM_FITNESSES.map((f) => f.name), help: 'RDM fitness variant (docs/MSE-NAS.md; default: the best tau in bionas rdm-check)' },
  objectives: { type: 'string', default: 'rdm,spikes', help: 'minimised objectives, a comma list of rdm (minus the RDM fitness) and spikes (mean spikes per image)' },
  'checkpoint-minutes': { type: 'number', min: 0, default: DEFAULT_CHECKPOINT_MINUTES, help: 'also checkpoint inside a generation every this many minutes (0: at generation ends and stops only)' },
  ...NETWORK_FLAGS,
};

/** Flags a resumed search may change. */
const SEARCH_RESUMABLE = ['generations', 'log-every', 'checkpoint-minutes'];

function describeData(all: { name: string; count: number }, test: { count: number }) {
  return { dataset: all.name, train: all.count, test: test.count };
}

export async function mseNasCommand(argv: string[]): Promise<void> {
  const summary = 'MSE-NAS (Pan et al. 2023; SPEC 10): NSGA-II over spiking genomes (wiring, motif per cell, kernel and polarity per\n' +
    'edge), each scored without training by an RDM fitness of its spike counts on one fixed batch and by its spike count.\n' +
    'Writes front.jsonl, scores.jsonl, pareto.svg, genotype.json (for bionas train --genotype), summary.json, checkpoint.bin.';
  const flags = await jobCommandFlags(argv, 'search', 'search --method mse-nas', summary, MSE_NAS_FLAGS, SEARCH_RESUMABLE);
  if (!flags) return;
  const { f } = flags;
  let objectives;
  try {
    objectives = parseObjectives(f.objectives as string);
  } catch (e) {
    throw new UsageError(`bionas search: ${(e as Error).message}`);
  }
  const c: MseNasConfig = {
    population: f.population as number, offspring: f.offspring as number, generations: f.generations as number, cells: f.cells as number,
    timesteps: f.timesteps as number, C: f.C as number, scoreBatch: f['score-batch'] as number, fitness: f.fitness as string, objectives,
    seed: f.seed as number, logEvery: f['log-every'] as number,
  };
  const runDir = (f.resume as string | undefined) ?? (f.run as string | undefined) ?? defaultRunDir(MSE_NAS_KIND);
  const resume = f.resume !== undefined;
  const folder = await openRunFolder(runDir);
  try {
    if (!resume) await startFresh(folder, console.log);
    const rt = await initGpu();
    console.log(`device: ${deviceLine(rt.info)}`);
    const { train, test } = await loadData(f, c.seed);
    const batch = await scoringBatch(train, c.scoreBatch, c.seed, c.timesteps);
    const describe = { ...describeData(train, test), numClasses: train.numClasses };
    console.log(`MSE-NAS: population ${c.population}, ${c.offspring} offspring, ${c.generations} generations; genomes of ${c.cells} cells scored at T ${c.timesteps}, C ${c.C} ` +
      `on ${c.scoreBatch} images of ${train.name}; fitness ${c.fitness}; objectives ${objectives.join(', ')}; run folder ${runDir}`);
    const job = new MseNasJob(c, batch, { describe });
    try {
      const r = await runJob(job, {
        folder, resume, checkpointMinutes: f['checkpoint-minutes'] as number, describe, invocation: { command: 'search', flags: f }, resumeHint: `bionas search --resume ${runDir}`,
      });
      if (r.stopped) {
        if (r.signal) process.exitCode = SIGNAL_EXIT_CODES[r.signal];
        return;
      }
      const chosen = chooseFromFront(job.front);
      console.log(`\nsearch done in ${fmtTime(r.seconds)}: ${r.history('scores').length} genomes scored; final front of ${job.front.length}`);
      for (const m of job.front) console.log(`  ${m.genome}: ${c.fitness} ${m.fitness.toFixed(4)}, ${m.spikes.toFixed(0)} spikes/image`);
      console.log(`chosen (highest ${c.fitness} on the front): ${chosen.genome}`);
      console.log(`written: ${runDir}/genotype.json, front.jsonl, scores.jsonl, pareto.svg, summary.json, checkpoint.bin`);
      console.log(`train it: bionas train --genotype ${runDir}/genotype.json --preset mse_nas --timesteps ${c.timesteps} --dataset ${f.dataset}${f.data ? ` --data ${f.data}` : ''}`);
      const fs = await import('node:fs');
      writeTextAtomic(fs, `${runDir}/summary.json`, JSON.stringify({
        method: 'mse-nas', config: c, describe, seconds: r.seconds, evaluations: r.history('scores').length, front: job.front, chosen,
        fronts: r.history('front'),
      }, null, 1));
    } finally {
      releaseScoringBatch(batch);
    }
  } finally {
    folder.release();
  }
}

export const RDM_CHECK_FLAGS: FlagTable = {
  genomes: { type: 'int', min: 2, max: 100_000, default: 20, help: 'random genomes to score and train (SPEC 10 asks for at least 20)' },
  'train-epochs': { type: 'int', min: 1, max: 10_000, default: 1, help: 'epochs of the short training of each genome' },
  'train-batch': { type: 'int', min: 1, max: 4096, default: 32, help: 'batch size of the short training' },
  lr: { type: 'number', min: 0, default: 5e-3, help: 'AdamW learning rate of the short training (BrainCog MSE-NAS: 5e-3)' },
  ...NETWORK_FLAGS,
};

export async function rdmCheckCommand(argv: string[]): Promise<void> {
  const summary = 'The check MSE-NAS rests on (SPEC 10): N random spiking genomes, each scored with every RDM fitness variant and\n' +
    'the spike count (untrained, one fixed batch), then trained briefly (the same budget for all) and tested; reports\n' +
    'Kendall tau and Spearman rho of each variant against the test accuracy (report.md, check.json, check.svg,\n' +
    'genomes.jsonl). Checkpointed after every genome: a killed check resumes (--resume) without redoing one.';
  const flags = await jobCommandFlags(argv, 'rdm-check', 'rdm-check', summary, RDM_CHECK_FLAGS, ['log-every']);
  if (!flags) return;
  const { f } = flags;
  const c: RdmCheckConfig = {
    genomes: f.genomes as number, cells: f.cells as number, timesteps: f.timesteps as number, C: f.C as number, scoreBatch: f['score-batch'] as number,
    trainEpochs: f['train-epochs'] as number, trainBatch: f['train-batch'] as number, lr: f.lr as number, seed: f.seed as number, logEvery: f['log-every'] as number,
  };
  const runDir = (f.resume as string | undefined) ?? (f.run as string | undefined) ?? defaultRunDir('rdm-check');
  const resume = f.resume !== undefined;
  const folder = await openRunFolder(runDir);
  try {
    if (!resume) await startFresh(folder, console.log);
    const rt = await initGpu();
    console.log(`device: ${deviceLine(rt.info)}`);
    const { train, test } = await loadData(f as FlagValues, c.seed);
    if (train.count < c.trainBatch) throw new UsageError(`bionas rdm-check: --train-batch ${c.trainBatch} is more than the ${train.count} training images`);
    const batch = await scoringBatch(train, c.scoreBatch, c.seed, c.timesteps);
    const describe = describeData(train, test);
    console.log(`rdm-check: ${c.genomes} genomes of ${c.cells} cells, T ${c.timesteps}, C ${c.C}; scored on ${c.scoreBatch} images; trained ${c.trainEpochs} epoch(s) ` +
      `of ${Math.floor(train.count / c.trainBatch)} batches of ${c.trainBatch} on ${train.name}, tested on ${test.count}; run folder ${runDir}`);
    try {
      // A checkpoint after every genome (checkpointMinutes 0 saves at stops and the epoch end only,
      // so a tiny positive interval makes every step save).
      const r = await runJob(new RdmCheckJob(c, batch, { train, test }, describe), {
        folder, resume, checkpointMinutes: 1e-9, describe, invocation: { command: 'rdm-check', flags: f }, resumeHint: `bionas rdm-check --resume ${runDir}`,
      });
      if (r.stopped) {
        if (r.signal) process.exitCode = SIGNAL_EXIT_CODES[r.signal];
        return;
      }
      const rows = checkTable(r.history<CheckRecord>('genomes'));
      console.log(`\nrdm-check done in ${fmtTime(r.seconds)}; Kendall tau (Spearman rho) against test accuracy:`);
      const show = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
      for (const row of rows) console.log(`  ${row.name.padEnd(22)} ${show(row.tau)} (${show(row.rho)}); vs -test loss ${show(row.tauLoss)}`);
      const best = bestVariant(rows);
      console.log(best ? `best-ranking variant: ${best.name}` : 'no variant has a defined tau');
      console.log(`written: ${runDir}/report.md, check.json, check.svg, genomes.jsonl`);
    } finally {
      releaseScoringBatch(batch);
    }
  } finally {
    folder.release();
  }
}

registerSearchCommand({
  name: 'mse-nas',
  help: 'mse-nas: NSGA-II over spiking genomes with a training-free RDM fitness (flags: bionas search --method mse-nas --help)',
  checkpointKind: MSE_NAS_KIND,
  run: mseNasCommand,
});
