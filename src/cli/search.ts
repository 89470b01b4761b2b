// `bionas search`: finds a cell in which every edge has an operation and a learning rule.

import { initGpu } from '../gpu/runtime.js';
import { Generator } from '../ops/random.js';
import { BatchLoader } from '../data/loader.js';
import { split } from '../data/dataset.js';
import { loadSpace, SPACE_PRESETS } from '../search/space.js';
import { buildSupernet } from '../search/supernet.js';
import { DARTS_SEARCH, BIONAS_SEARCH, type DartsConfig } from '../search/darts.js';
import { runDartsSearch } from '../search/run.js';
import { describeDerived, type DerivedResult } from '../search/outputs.js';
import { runEgSearch, EG_SEARCH, type EgConfig } from '../search/eg.js';
import { measureSearchMemory, extrapolateMemory, memoryPerImage } from '../search/memory.js';
import { parseFlags, helpText, type FlagTable, type FlagValues } from './flags.js';
import { writeTextAtomic } from '../run/state.js';
import { DATA_FLAGS, loadData, defaultRunDir } from './common.js';
import { fmtTime } from '../run/progress.js';

/** Supernet and schedule presets (SPEC 4); explicit flags override them. */
export const SEARCH_PRESETS: Record<string, typeof DARTS_SEARCH> = {
  darts: DARTS_SEARCH,
  bionas: BIONAS_SEARCH,
  // A supernet small enough to search on a CPU in minutes (the README's demo): 3 cells of
  // 2 nodes (5 edges), 16x16 images. On llvmpipe each dispatch costs ~0.1 ms, and a 22-pair
  // 4-node cell is ~10,000 dispatches per forward-backward.
  tiny: { ...DARTS_SEARCH, epochs: 3, batchSize: 16, C: 4, layers: 3, steps: 2, logEvery: 2 },
};

export const SEARCH_FLAGS: FlagTable = {
  method: { type: 'string', default: 'darts', choices: ['darts', 'eg'], help: 'search method: darts (gradient, bi-level) or eg (CMA-ES on the alphas, SGD on the weights)' },
  space: { type: 'string', default: 'bionas', help: `search space preset (${Object.keys(SPACE_PRESETS).join(', ')}) or a JSON file of {op, rule} pairs` },
  preset: { type: 'string', default: 'tiny', choices: Object.keys(SEARCH_PRESETS), help: 'supernet/hyper-parameter preset: darts (DARTS paper), bionas (BioNAS paper table), tiny (CPU demo)' },
  ...DATA_FLAGS,
  epochs: { type: 'int', min: 1, help: 'search epochs (default: from --preset)' },
  batch: { type: 'int', min: 1, help: 'batch size of both halves (default: from --preset)' },
  C: { type: 'int', min: 2, help: 'initial channels of the supernet (default: from --preset)' },
  layers: { type: 'int', min: 1, help: 'cells of the supernet (NAS-Bench-201: cells per stage) (default: from --preset)' },
  nodes: { type: 'int', min: 1, help: 'intermediate nodes per DARTS cell (DARTS: 4) (default: from --preset)' },
  lr: { type: 'number', min: 0, help: 'weight learning rate (cosine to --min-lr)' },
  'min-lr': { type: 'number', min: 0, help: 'final weight learning rate' },
  'arch-lr': { type: 'number', min: 0, help: 'Adam learning rate of the alphas (DARTS: 3e-4)' },
  'second-order': { type: 'bool', default: false, help: 'unrolled (second-order) architecture gradient' },
  seed: { type: 'int', min: 0, default: 0, help: 'seed of the split, weights, alphas, data order and feedback matrices' },
  run: { type: 'string', help: 'run folder (default: runs/search-<time>)' },
  resume: { type: 'string', help: 'continue the search in this run folder from its checkpoint' },
  memory: { type: 'bool', default: false, help: 'measure the peak GPU memory of one search step at batch 1, 2, 4, 8 (and --batch up to 32), extrapolate to --batch, and exit' },
  'train-epochs': { type: 'int', min: 0, default: 0, help: 'after the search, train the found network for this many epochs and print its test accuracy' },
  'log-every': { type: 'int', min: 1, help: 'steps between metric read-backs' },
  warmup: { type: 'int', min: 0, help: 'eg: warm-up epochs of the weights with frozen alphas (EG-NAS: 15)' },
  population: { type: 'int', min: 2, help: 'eg: CMA-ES population per generation (EG-NAS: 50)' },
  samples: { type: 'int', min: 1, help: 'eg: CMA-ES searches per epoch from initial means around the alphas (EG-NAS: 3)' },
  generations: { type: 'int', min: 1, help: 'eg: generations of each CMA-ES search per epoch (default 2)' },
  'candidates-per-pass': { type: 'int', min: 0, default: 0, help: 'eg: candidates scored side by side in one supernet pass (0: as many as fit in --score-memory)' },
  'score-memory': { type: 'int', min: 1, default: 4096, help: 'eg: MiB of GPU memory a scoring pass may take when --candidates-per-pass is 0' },
};

/** BioNAS-EG presets (EG-NAS defaults, and a CPU demo). */
export const EG_PRESETS: Record<string, typeof EG_SEARCH> = {
  darts: EG_SEARCH,
  bionas: EG_SEARCH,
  tiny: { ...EG_SEARCH, epochs: 2, warmupEpochs: 1, batchSize: 16, C: 4, layers: 3, steps: 2, population: 8, initialSamples: 2, generations: 1, logEvery: 2 },
};

export async function searchCommand(argv: string[]): Promise<void> {
  const summary = 'Searches a DARTS cell (or a NAS-Bench-201 cell) whose every edge is an (operation, learning rule) pair.\n' +
    'Writes genotype.json, alphas.jsonl, SVG drawings of the cells and of softmax(alpha) over epochs, and\n' +
    'checkpoints to the run folder. The data\'s training set is split 50/50 into weight and architecture halves.';
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(helpText('search', summary, SEARCH_FLAGS));
    return;
  }
  const f = parseFlags(argv, SEARCH_FLAGS, 'search');
  if (f.method === 'eg') return egSearch(f);
  const p = SEARCH_PRESETS[f.preset as string];
  const seed = f.seed as number;
  const config: DartsConfig = {
    ...p,
    epochs: (f.epochs as number) ?? p.epochs,
    batchSize: (f.batch as number) ?? p.batchSize,
    lr: (f.lr as number) ?? p.lr,
    minLr: (f['min-lr'] as number) ?? p.minLr,
    archLr: (f['arch-lr'] as number) ?? p.archLr,
    secondOrder: !!f['second-order'],
    logEvery: (f['log-every'] as number) ?? p.logEvery,
    seed,
  };
  const C = (f.C as number) ?? p.C, layers = (f.layers as number) ?? p.layers, steps = (f.nodes as number) ?? p.steps;
  if (f.memory) return memoryTable(f, config, C, layers, steps);
  const runDir = (f.resume as string) ?? (f.run as string) ?? defaultRunDir('search');
  applyImageSize(f);
  const { model, loaders, gen, describe, header } = await prepare(f, C, layers, config.batchSize, steps);
  console.log(`BioNAS-DARTS: ${header}; ${config.epochs} epochs, batch ${config.batchSize}, ${config.secondOrder ? 'second' : 'first'} order; run folder ${runDir}`);
  const result = await runDartsSearch(model, loaders, config, { runDir, resume: !!f.resume, gen, describe });
  model.dispose();
  if (result.stopped) return;
  console.log(`\nsearch done in ${fmtTime(result.seconds)}; peak GPU memory ${(result.peakBytes / 2 ** 20).toFixed(1)} MiB`);
  console.log(`genotype: ${describeDerived(result.derived)}`);
  console.log(`written: ${runDir}/genotype.json, normal.svg, reduce.svg, alphas_*.svg, alphas.jsonl`);
  const fs = await import('node:fs');
  writeTextAtomic(fs, `${runDir}/summary.json`, JSON.stringify({ config, describe, seconds: result.seconds, peakBytes: result.peakBytes, history: result.history, result: result.derived }, null, 1));
  await trainFound(f, runDir, result.derived, C, layers, config.batchSize);
}

/** `--memory`: the peak of a search step per batch size, then exit without running the steps. */
async function memoryTable(f: FlagValues, config: DartsConfig, C: number, layers: number, steps: number): Promise<void> {
  applyImageSize(f);
  const { model, header, image } = await prepare(f, C, layers, config.batchSize, steps);
  console.log(`memory of one search step: ${header}`);
  const batches = [...new Set([1, 2, 4, 8, ...(config.batchSize <= 32 ? [config.batchSize] : [])])].sort((a, b) => a - b);
  const points = measureSearchMemory(model, config, batches, image);
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  for (const p of points) console.log(`  batch ${String(p.batch).padStart(4)}: ${mib(p.bytes)}`);
  const at = extrapolateMemory(points, config.batchSize);
  const budget = 16 * 2 ** 30;
  const { perImage, largest: q } = memoryPerImage(points);
  const largest = Math.floor(q.batch + (budget - q.bytes) / perImage);
  console.log(`at the preset's batch ${at.batch}: ${mib(at.bytes)}${at.measured ? '' : ' (extrapolated linearly from the two largest)'}; ` +
    `${at.bytes <= budget ? 'fits' : `does not fit; batch ${largest} would`} in 16 GiB (${mib(perImage)} per image)`);
  // The encoded steps are still running on the adapter; nothing of them is needed.
  process.exit(0);
}

/** The data halves, loaders and supernet that both methods search. */
async function prepare(f: FlagValues, C: number, layers: number, batchSize: number, steps: number) {
  const seed = f.seed as number;
  const rt = await initGpu();
  console.log(`device: ${rt.info.description} (${rt.info.backend}, ${rt.info.featureLevel})`);
  const space = await loadSpace(f.space as string);
  const { train: all } = await loadData(f, seed);
  const [weightsHalf, archHalf] = split(all, Math.floor(all.count / 2), seed);
  const gen = new Generator(seed);
  const model = buildSupernet(space, { C, layers, steps, numClasses: all.numClasses, inChannels: all.channels, gen });
  const augment = { cropPadding: Math.round(all.height / 8), flip: true };
  const loaders = {
    train: new BatchLoader(weightsHalf, { batchSize, shuffle: true, seed, dropLast: true, augment }),
    valid: new BatchLoader(archHalf, { batchSize, shuffle: true, seed: seed + 1, dropLast: true, augment }),
  };
  const describe = { space: space.name, pairs: space.pairs, C, layers, steps, dataset: all.name, numClasses: all.numClasses };
  const header = `${space.name} space (${space.pairs.length} pairs${space.cell === 'nb201' ? ', NAS-Bench-201 cell' : ''}), supernet C=${C} ${layers} ` +
    `${space.cell === 'nb201' ? 'cells per stage' : `cells of ${steps} nodes`}, ${(model.parameterCount() / 1e6).toFixed(3)}M parameters; ${weightsHalf.count} + ${archHalf.count} images (${all.name})`;
  const image = { channels: all.channels, size: all.height, classes: all.numClasses };
  return { space, model, loaders, gen, describe, header, image };
}

async function egSearch(f: FlagValues): Promise<void> {
  const p = EG_PRESETS[f.preset as string];
  const config: EgConfig = {
    ...p,
    epochs: (f.epochs as number) ?? p.epochs,
    warmupEpochs: (f.warmup as number) ?? p.warmupEpochs,
    batchSize: (f.batch as number) ?? p.batchSize,
    lr: (f.lr as number) ?? p.lr,
    minLr: (f['min-lr'] as number) ?? p.minLr,
    population: (f.population as number) ?? p.population,
    initialSamples: (f.samples as number) ?? p.initialSamples,
    generations: (f.generations as number) ?? p.generations,
    logEvery: (f['log-every'] as number) ?? p.logEvery,
    candidatesPerPass: f['candidates-per-pass'] as number,
    scoreMemoryMiB: f['score-memory'] as number,
    seed: f.seed as number,
  };
  const C = (f.C as number) ?? p.C, layers = (f.layers as number) ?? p.layers, steps = (f.nodes as number) ?? p.steps;
  const runDir = (f.resume as string) ?? (f.run as string) ?? defaultRunDir('search-eg');
  applyImageSize(f);
  const { model, loaders, gen, describe, header } = await prepare(f, C, layers, config.batchSize, steps);
  console.log(`BioNAS-EG: ${header}; ${config.warmupEpochs} warm-up + ${config.epochs} epochs, population ${config.population} x ${config.initialSamples} searches x ` +
    `${config.generations} generations; run folder ${runDir}`);
  const result = await runEgSearch(model, loaders, config, { runDir, resume: !!f.resume, gen, describe: { ...describe, method: 'eg' } });
  model.dispose();
  if (result.stopped) return;
  console.log(`
search done in ${fmtTime(result.seconds)} (evolution ${fmtTime(result.evolveSeconds)}, ${result.candidates} candidates scored, ` +
    `${(result.candidates / Math.max(result.evolveSeconds, 1e-9)).toFixed(1)}/s)`);
  console.log(`genotype: ${describeDerived(result.derived)}`);
  console.log(`written: ${runDir}/genotype.json, normal.svg, reduce.svg, alphas_*.svg, evolution.svg, alphas.jsonl`);
  const fs = await import('node:fs');
  writeTextAtomic(fs, `${runDir}/summary.json`, JSON.stringify({ method: 'eg', config, describe, seconds: result.seconds, evolveSeconds: result.evolveSeconds, candidates: result.candidates, history: result.history, generations: result.generations, result: result.derived }, null, 1));
  await trainFound(f, runDir, result.derived, C, layers, config.batchSize);
}

/** The tiny preset searches 16x16 synthetic images unless --image-size says otherwise. */
function applyImageSize(f: FlagValues): void {
  if (f['image-size'] === undefined && f.preset === 'tiny') f['image-size'] = 16;
}

async function trainFound(f: FlagValues, runDir: string, derived: DerivedResult, C: number, layers: number, batchSize: number): Promise<void> {
  const seed = f.seed as number;
  const trainEpochs = f['train-epochs'] as number;
  if (trainEpochs > 0) {
    const { trainCommand } = await import('./train.js');
    const args = ['--epochs', String(trainEpochs), '--dataset', f.dataset as string, '--seed', String(seed), '--run', `${runDir}/train`, '--preset', 'quick',
      '--C', String(Math.max(8, C * 2)), '--layers', String(Math.max(3, layers)), '--batch', String(batchSize)];
    if (f.data) args.push('--data', f.data as string);
    if (f['train-size']) args.push('--train-size', String(f['train-size']));
    if (f['test-size']) args.push('--test-size', String(f['test-size']));
    if (f.dataset === 'synthetic') args.push('--synthetic-size', String(f['synthetic-size']), '--image-size', String(f['image-size'] ?? 32));
    if (derived.nb201) args.push('--arch', derived.nb201.arch);
    else args.push('--genotype', `${runDir}/genotype.json`);
    console.log(`\ntraining the found network: bionas train ${args.join(' ')}`);
    await trainCommand(args);
  }
}
