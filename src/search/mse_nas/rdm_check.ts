// The check MSE-NAS rests on (SPEC 10): does the training-free RDM fitness rank genomes as a
// short training does? N random genomes (drawn in order from one seeded stream, so the first k
// of a larger check are the k of a smaller one) are each scored with every RDM_FITNESSES variant
// and the spike count on one fixed scoring batch (./score.ts), then trained briefly (the same
// budget, data order and initial-weight seed for all) and tested. Kendall's tau-b and Spearman's
// rho of each variant against the test accuracy make the report. A run-loop job with one step
// per genome, checkpointed after each (the caller sets checkpointMinutes to 0 and stops are
// per genome): a killed check does not redo a genome it finished.

import type { Job, JobState, Phase, Position, RunContext } from '../../run/job.js';
import { Generator } from '../../ops/random.js';
import { BatchLoader } from '../../data/loader.js';
import { mulberry32, type ImageDataset } from '../../data/dataset.js';
import { SpikingNetwork } from '../../models/spiking_network.js';
import { spikingInput } from '../../snn/input.js';
import { randomGenome, genotypeJson, type SpikingGenome } from '../../snn/genome.js';
import { TrainJob, evaluate, DEFAULT_TRAIN, type TrainConfig } from '../../train/trainer.js';
import { RDM_FITNESSES } from '../fitness/rdm.js';
import { kendallTau, spearmanRho } from '../fitness/rank.js';
import { scoreGenome, type ScoringBatch } from './score.js';
import { describeGenome, MSE_NAS_PENALTY } from './search.js';
import { scatterChart, chartGrid } from '../../viz/scatter.js';

export interface RdmCheckConfig {
  genomes: number;
  cells: number;
  timesteps: number;
  C: number;
  scoreBatch: number;
  /** The short training: epochs over the training set, batch size, AdamW learning rate. */
  trainEpochs: number;
  trainBatch: number;
  lr: number;
  seed: number;
  logEvery: number;
}

/**
 * The short training of every genome: BrainCog's MSE-NAS recipe (AdamW, weight decay 0.01,
 * label smoothing 0.1, cosine to 1e-5; the `mse_nas` train preset) without its 5 warm-up
 * epochs, which would take a short run's whole budget.
 */
export function checkTrainConfig(c: RdmCheckConfig): TrainConfig {
  return {
    ...DEFAULT_TRAIN, epochs: c.trainEpochs, batchSize: c.trainBatch, optimizer: 'adamw', lr: c.lr, weightDecay: 0.01, schedule: 'cosine',
    minLr: 1e-5, warmupEpochs: 0, labelSmoothing: 0.1, gradClip: 0, seed: c.seed, logEvery: 1_000_000,
  };
}

/** The i-th genome of a check: draws in order from one stream seeded by `seed`. */
export function checkGenomes(n: number, cells: number, seed: number): SpikingGenome[] {
  const next = mulberry32(seed);
  return Array.from({ length: n }, () => randomGenome(cells, next));
}

export interface CheckRecord {
  index: number;
  genome: string;
  genotype: Record<string, unknown>;
  fitness: Record<string, number>;
  spikes: number;
  trainLoss: number;
  trainAcc: number;
  testAcc: number;
  testLoss: number;
  seconds: number;
}

export interface CheckRow {
  name: string;
  labels: boolean | null;
  source: string;
  tau: number;
  rho: number;
  /** Kendall tau against minus the test loss (a finer signal than accuracy after a short training, which ties often). */
  tauLoss: number;
  /** Genomes whose score was finite (the others rank last). */
  finite: number;
}

/** Tau and rho of every variant and of the spike count against the test accuracy. */
export function checkTable(records: readonly CheckRecord[]): CheckRow[] {
  const acc = records.map((r) => r.testAcc);
  const negLoss = records.map((r) => (Number.isFinite(r.testLoss) ? -r.testLoss : -MSE_NAS_PENALTY));
  const corr = (xs: number[]) => {
    // A failed score ranks below every real one.
    const ranked = xs.map((v) => (Number.isFinite(v) ? v : -MSE_NAS_PENALTY));
    return records.length >= 2 ? { tau: kendallTau(ranked, acc), rho: spearmanRho(ranked, acc), tauLoss: kendallTau(ranked, negLoss) } : { tau: NaN, rho: NaN, tauLoss: NaN };
  };
  const rows: CheckRow[] = RDM_FITNESSES.map((f) => {
    const xs = records.map((r) => r.fitness[f.name]);
    return { name: f.name, labels: f.needsLabels, source: f.source, ...corr(xs), finite: xs.filter(Number.isFinite).length };
  });
  const spikes = records.map((r) => r.spikes);
  rows.push({ name: 'spikes', labels: null, source: 'energy proxy (mean spikes per image)', ...corr(spikes), finite: spikes.filter(Number.isFinite).length });
  return rows;
}

/** The variant with the highest tau (spikes excluded: it is the other objective, not a fitness). */
export function bestVariant(rows: readonly CheckRow[]): CheckRow | null {
  const fits = rows.filter((r) => r.name !== 'spikes' && Number.isFinite(r.tau));
  return fits.length ? fits.reduce((a, b) => (b.tau > a.tau ? b : a)) : null;
}

const num = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');

export function checkReport(records: readonly CheckRecord[], c: RdmCheckConfig, describe: Record<string, unknown>): string {
  const rows = checkTable(records);
  const best = bestVariant(rows);
  const lines = [
    '# RDM check: training-free fitness vs short-training accuracy',
    '',
    `${records.length} of ${c.genomes} random genomes (seed ${c.seed}; ${c.cells} cells, T ${c.timesteps}, C ${c.C}), scored on ${c.scoreBatch} training images, ` +
    `then trained ${c.trainEpochs} epoch(s) at batch ${c.trainBatch} (AdamW lr ${c.lr}, weight decay 0.01, label smoothing 0.1, cosine) on ${String(describe.dataset)} ` +
    `(${String(describe.train)} training, ${String(describe.test)} test images).`,
    '',
    'Kendall tau and Spearman rho against the test accuracy; the last column: Kendall tau against minus the test loss.',
    '',
    '| fitness | labels | source | Kendall tau | Spearman rho | tau vs -loss | finite scores |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.name} | ${r.labels === null ? '-' : r.labels ? 'yes' : 'no'} | ${r.source} | ${num(r.tau)} | ${num(r.rho)} | ${num(r.tauLoss)} | ${r.finite}/${records.length} |`),
    '',
    best ? `Best-ranking variant: **${best.name}** (tau ${num(best.tau)}).` : 'No variant has a defined tau yet.',
    '',
    '| # | genome | test acc | test loss | spikes/image | ' + RDM_FITNESSES.map((f) => f.name).join(' | ') + ' |',
    '|---|---|---|---|---|' + RDM_FITNESSES.map(() => '---|').join(''),
    ...records.map((r) => `| ${r.index} | ${r.genome} | ${(100 * r.testAcc).toFixed(2)}% | ${num(r.testLoss, 4)} | ${r.spikes.toFixed(0)} | ${RDM_FITNESSES.map((f) => num(r.fitness[f.name], 4)).join(' | ')} |`),
    '',
  ];
  return lines.join('\n');
}

export function checkSvg(records: readonly CheckRecord[]): string {
  const rows = checkTable(records);
  const charts = rows.map((row) => scatterChart([{
    name: row.name, legend: false, color: row.name === 'spikes' ? '#ff7f0e' : '#1f77b4',
    points: records.map((r) => [row.name === 'spikes' ? r.spikes : r.fitness[row.name], 100 * r.testAcc] as [number, number]),
  }], { title: `${row.name}: tau ${num(row.tau)}`, xLabel: row.name === 'spikes' ? 'spikes per image' : 'score', yLabel: 'test accuracy (%)', width: 320, height: 260 }));
  return chartGrid(charts, 3, 320, 260);
}

export class RdmCheckJob implements Job {
  readonly kind = 'rdm-check';
  readonly streams = ['genomes'] as const;
  readonly resumable = ['logEvery'] as const;
  private readonly genomes: SpikingGenome[];

  constructor(readonly c: RdmCheckConfig, private readonly batch: ScoringBatch, private readonly data: { train: ImageDataset; test: ImageDataset },
    private readonly describe: Record<string, unknown>) {
    this.genomes = checkGenomes(c.genomes, c.cells, c.seed);
  }

  get config(): Record<string, unknown> {
    return { ...this.c };
  }
  get epochs(): number {
    return 1;
  }
  get logEvery(): number {
    return this.c.logEvery;
  }

  phases(): Phase[] {
    return [{ name: 'check', steps: this.c.genomes, label: 'rdm-check', unit: 'genome', logEvery: 1 }];
  }

  beginPhase(): void {}

  async step(at: Position, ctx: RunContext): Promise<number> {
    const t0 = performance.now();
    const c = this.c;
    const genome = this.genomes[at.step];
    const score = await scoreGenome(genome, this.batch, { T: c.timesteps, C: c.C, seed: c.seed }, RDM_FITNESSES.map((f) => f.name));
    const { trainLoss, trainAcc, testAcc, testLoss } = await this.trainBriefly(genome);
    const record: CheckRecord = {
      index: at.step, genome: describeGenome(genome), genotype: genotypeJson(genome), fitness: score.fitness, spikes: score.spikes,
      trainLoss, trainAcc, testAcc, testLoss, seconds: (performance.now() - t0) / 1000,
    };
    ctx.record('genomes', record as unknown as Record<string, unknown>);
    ctx.log(`genome ${at.step + 1}/${c.genomes} ${record.genome}: test ${(100 * testAcc).toFixed(2)}% (loss ${testLoss.toFixed(4)}), ${score.spikes.toFixed(0)} spikes/image, ${record.seconds.toFixed(1)} s`);
    this.writeOutputs(ctx);
    return 1;
  }

  /** The same short training for every genome: weights from the same seed, the same batches. */
  private async trainBriefly(genome: SpikingGenome): Promise<{ trainLoss: number; trainAcc: number; testAcc: number; testLoss: number }> {
    const c = this.c;
    const { train, test } = this.data;
    const gen = new Generator(c.seed);
    const model = new SpikingNetwork(genome, { T: c.timesteps, C: c.C, numClasses: train.numClasses, ...spikingInput(train, c.timesteps), gen });
    const loader = new BatchLoader(train, { batchSize: c.trainBatch, shuffle: true, seed: c.seed, dropLast: true, augment: { cropPadding: Math.round(train.height / 8), flip: true } });
    const job = new TrainJob(model, { train: loader }, checkTrainConfig(c), gen);
    try {
      let m: Record<string, number> = {};
      for (let epoch = 0; epoch < c.trainEpochs; epoch++) {
        job.beginPhase({ epoch, phase: 0, step: 0 });
        for (let step = 0; step < loader.length; step++) job.step({ epoch, phase: 0, step });
        m = await job.metrics();
        job.endPhase();
      }
      const t = await evaluate(model, new BatchLoader(test, { batchSize: Math.min(256, test.count) }));
      return { trainLoss: m.loss, trainAcc: m.acc, testAcc: t.acc, testLoss: t.loss };
    } finally {
      job.close();
      model.dispose();
    }
  }

  async metrics(): Promise<Record<string, number>> {
    return {};
  }

  private writeOutputs(ctx: RunContext): void {
    if (!ctx.runDir) return;
    const records = ctx.history<CheckRecord>('genomes');
    const rows = checkTable(records);
    ctx.writeText('report.md', checkReport(records, this.c, this.describe));
    ctx.writeText('check.svg', checkSvg(records));
    ctx.writeText('check.json', JSON.stringify({ config: this.c, describe: this.describe, table: rows, best: bestVariant(rows)?.name ?? null, genomes: records }, null, 1) + '\n');
  }

  async endEpoch(_epoch: number, ctx: RunContext): Promise<void> {
    this.writeOutputs(ctx);
  }

  async state(): Promise<JobState> {
    return { tensors: [], meta: {} };
  }

  restore(): void {}

  close(): void {}
}
