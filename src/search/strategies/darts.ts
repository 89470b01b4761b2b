// BioNAS-DARTS as a search strategy: an epoch is one phase of bi-level steps (an alpha step on
// a validation batch, then a weight step on a training batch; src/search/darts.ts has the
// math, first or second order). Its state: both optimizers and the partial sums of an epoch.

import { gpu } from '../../gpu/runtime.js';
import type { Batch } from '../../data/loader.js';
import type { SavedState } from '../../run/state.js';
import { optimizerTensors, restoreOptimizer } from '../../run/checkpoint.js';
import { fmtTime } from '../../run/progress.js';
import { RunningSums, type CarriedSums } from '../../run/sums.js';
import type { JobState, Phase, Position, RunContext } from '../../run/job.js';
import type { SGD } from '../../optim/sgd.js';
import type { Adam } from '../../optim/adam.js';
import { searchStep, makeOptimizers, searchLr, DARTS_SEARCH, BIONAS_SEARCH, type DartsConfig } from '../darts.js';
import type { Supernet } from '../supernet.js';
import { runSearch, type SearchOptions, type SearchResult } from '../run.js';
import { registerStrategy } from './registry.js';
import type { SearchData, SearchMethod, SearchStrategy, StrategyContext, StrategyPreset } from './strategy.js';

/** An epoch of BioNAS-DARTS, as recorded in metrics.jsonl and returned by runDartsSearch. */
export interface SearchEpoch {
  epoch: number;
  lr: number;
  trainLoss: number;
  trainAcc: number;
  validLoss: number;
  validAcc: number;
  seconds: number;
  imagesPerSec: number;
  genotype: string;
  [field: string]: unknown;
}

class DartsMethod implements SearchMethod {
  private readonly model: Supernet;
  private readonly data: SearchData;
  private readonly c: DartsConfig;
  private readonly log: (line: string) => void;
  private readonly wOpt: SGD;
  private readonly aOpt: Adam;
  private readonly sums = new RunningSums(['trainLoss', 'trainCorrect', 'validLoss', 'validCorrect'] as const);
  private readonly steps: number;
  private lr = 0;
  private trainBatches: Generator<Batch> | null = null;
  private validBatches: Generator<Batch> | null = null;
  private stepsThisRun = 0;
  private peakBytes = 0;

  constructor({ model, data, config, log }: StrategyContext<DartsConfig>) {
    this.model = model;
    this.data = data;
    this.c = config;
    this.log = log;
    ({ wOpt: this.wOpt, aOpt: this.aOpt } = makeOptimizers(model, config));
    this.steps = Math.min(data.train.length, data.valid.length);
    if (this.steps === 0) {
      this.close();
      throw new Error(`search: no full batch of ${config.batchSize} in the train (${data.train.data.count}) or validation (${data.valid.data.count}) half`);
    }
  }

  phases(epoch: number): Phase[] {
    return [{ name: 'search', steps: this.steps, label: `search ${epoch + 1}/${this.c.epochs}` }];
  }

  beginPhase(at: Position): void {
    this.sums.begin();
    this.lr = searchLr(this.c, at.epoch);
    this.trainBatches = this.data.train.epoch(at.epoch, at.step);
    this.validBatches = this.data.valid.epoch(at.epoch, at.step);
  }

  async step(): Promise<number> {
    const rt = gpu();
    const train = this.trainBatches!.next().value as Batch;
    const valid = this.validBatches!.next().value as Batch;
    if (this.stepsThisRun === 0) rt.pool.resetPeak();
    await searchStep(this.model, train, valid, this.c, this.lr, this.wOpt, this.aOpt, this.sums.t);
    const n = train.x.shape[0];
    for (const b of [train, valid]) {
      b.x.release();
      b.y.release();
    }
    this.sums.seen += n;
    if (++this.stepsThisRun === 1) {
      await rt.sync();
      this.peakBytes = rt.pool.peakLiveBytes;
      this.log(`peak GPU memory at batch ${this.c.batchSize}: ${(this.peakBytes / 2 ** 20).toFixed(1)} MiB (pool: ${(rt.pool.allocatedBytes / 2 ** 20).toFixed(1)} MiB allocated)`);
    }
    return 2 * n;
  }

  /** Mean losses and accuracies of the epoch so far (each half saw as many images). */
  private async means() {
    const v = await this.sums.values(), m = (k: keyof typeof v) => this.sums.mean(v, k);
    return { trainLoss: m('trainLoss'), trainAcc: m('trainCorrect'), validLoss: m('validLoss'), validAcc: m('validCorrect') };
  }

  async metrics(): Promise<Record<string, number>> {
    const s = await this.means();
    return { loss: s.trainLoss, acc: s.trainAcc, 'val loss': s.validLoss, 'val acc': s.validAcc };
  }

  endPhase(): void {
    this.trainBatches?.return(undefined);
    this.validBatches?.return(undefined);
    this.trainBatches = this.validBatches = null;
  }

  async endEpoch(epoch: number, ctx: RunContext): Promise<Record<string, unknown>> {
    const s = await this.means();
    const { seconds, imagesPerSec } = this.sums.timing(2);
    ctx.log(`search epoch ${epoch + 1}/${this.c.epochs}  lr ${this.lr.toPrecision(3)}  train loss ${s.trainLoss.toFixed(4)} acc ${(100 * s.trainAcc).toFixed(1)}%  ` +
      `valid loss ${s.validLoss.toFixed(4)} acc ${(100 * s.validAcc).toFixed(1)}%  ${Math.round(imagesPerSec)} img/s  ${fmtTime(seconds)}  eta ${fmtTime(seconds * (this.c.epochs - epoch - 1))}`);
    return { lr: this.lr, ...s, seconds, imagesPerSec };
  }

  async state(at: Position): Promise<JobState> {
    const w = optimizerTensors(this.wOpt, 'wOpt'), a = optimizerTensors(this.aOpt, 'aOpt');
    return { tensors: [...w.tensors, ...a.tensors], meta: { wOpt: w.meta, aOpt: a.meta, sums: await this.sums.carry(at.step) } };
  }

  restore(saved: SavedState, meta: Record<string, unknown>): void {
    restoreOptimizer(this.wOpt, saved, meta.wOpt as Record<string, unknown>, 'wOpt');
    restoreOptimizer(this.aOpt, saved, meta.aOpt as Record<string, unknown>, 'aOpt');
    this.sums.restore(meta.sums as CarriedSums | null);
  }

  summary() {
    return { fields: { peakBytes: this.peakBytes }, line: `peak GPU memory ${(this.peakBytes / 2 ** 20).toFixed(1)} MiB` };
  }

  close(): void {
    this.endPhase();
    this.sums.release();
    for (const opt of [this.wOpt, this.aOpt]) {
      opt.zeroGrad();
      opt.dispose();
    }
  }
}

/** Supernet and schedule presets (SPEC 4); first order unless --second-order. */
const PRESETS: Record<string, StrategyPreset<DartsConfig>> = {
  darts: { ...DARTS_SEARCH, secondOrder: false },
  bionas: { ...BIONAS_SEARCH, secondOrder: false },
  // A supernet small enough to search on a CPU in minutes (the README's demo): 3 cells of
  // 2 nodes (5 edges), 16x16 images. On llvmpipe each dispatch costs ~0.1 ms, and a 22-pair
  // 4-node cell is ~10,000 dispatches per forward-backward.
  tiny: { ...DARTS_SEARCH, secondOrder: false, epochs: 3, batchSize: 16, C: 4, layers: 3, steps: 2, logEvery: 2 },
};

export const DARTS_STRATEGY: SearchStrategy<DartsConfig> = registerStrategy<DartsConfig>({
  name: 'darts',
  title: 'BioNAS-DARTS',
  help: 'darts: gradient, bi-level (an Adam step on the alphas, then an SGD step on the weights, per batch)',
  flags: {
    'arch-lr': { type: 'number', min: 0, help: 'darts: Adam learning rate of the alphas (DARTS: 3e-4)' },
    'second-order': { type: 'bool', default: false, help: 'darts: unrolled (second-order) architecture gradient' },
  },
  presets: PRESETS,
  configure: (p, f, seed) => ({
    ...p, archLr: (f['arch-lr'] as number | undefined) ?? p.archLr, secondOrder: !!f['second-order'], seed,
  }),
  describe: (c) => `${c.epochs} epochs, batch ${c.batchSize}, ${c.secondOrder ? 'second' : 'first'} order`,
  create: (ctx) => new DartsMethod(ctx),
});

/** BioNAS-DARTS on `model` (see runSearch for what is written and how a stop resumes). */
export function runDartsSearch(model: Supernet, data: SearchData, c: DartsConfig, o: SearchOptions): Promise<SearchResult<SearchEpoch> & { peakBytes: number }> {
  return runSearch(DARTS_STRATEGY, model, data, c, o) as Promise<SearchResult<SearchEpoch> & { peakBytes: number }>;
}
