// The training loop's job: epochs of SGD/Adam steps with a schedule, warm-up, gradient
// clipping, label smoothing, an auxiliary head and drop path; evaluation each epoch; metrics as
// JSON lines and an SVG of the curves. The run loop (src/run/loop.ts) around it gives progress,
// stop handling, atomic checkpoints and resume to the same result as an uninterrupted run.
//
// A step is recorded into one command encoder: the batch is built on the GPU, and loss and
// accuracy accumulate in GPU tensors read back every `logEvery` steps, never inside a step.

import { Tensor, scope, keep } from '../tensor.js';
import { noGrad } from '../autograd.js';
import { add, scale, addInto } from '../ops/elementwise.js';
import { fillInPlace } from '../ops/fill.js';
import { crossEntropy, countCorrect } from '../ops/loss.js';
import { SGD } from '../optim/sgd.js';
import { Adam } from '../optim/adam.js';
import { learningRate, type ScheduleName } from '../optim/schedule.js';
import type { Generator as RandomGenerator } from '../ops/random.js';
import type { Module } from '../nn/module.js';
import { alignmentReport, type LayerAlignment } from '../analysis/alignment.js';
import type { Batch, BatchLoader } from '../data/loader.js';
import { optimizerTensors, restoreOptimizer, type Optimizer } from '../run/checkpoint.js';
import { loadInto, type SavedState } from '../run/state.js';
import { fmtTime } from '../run/progress.js';
import { runJob, type RunOptions } from '../run/loop.js';
import { RunningSums, type CarriedSums } from '../run/sums.js';
import type { Job, JobState, Phase, Position, RunContext } from '../run/job.js';
import { weightUpdate } from './step.js';
import { lineChart, stackCharts } from '../viz/chart.js';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  /** adamw: Adam with decoupled weight decay (PyTorch's AdamW). */
  optimizer: 'sgd' | 'adam' | 'adamw';
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  schedule: ScheduleName;
  minLr: number;
  milestones: number[];
  gamma: number;
  warmupEpochs: number;
  /** Max global gradient norm; 0 disables clipping. */
  gradClip: number;
  labelSmoothing: number;
  /** Weight of the auxiliary head's loss (DARTS: 0.4); used when the model has one. */
  auxWeight: number;
  /** Drop-path probability at the last epoch, ramped linearly from 0 (DARTS). */
  dropPath: number;
  seed: number;
  /** Read metrics back every this many steps (also the progress bar's refresh). */
  logEvery: number;
}

export const DEFAULT_TRAIN: TrainConfig = {
  epochs: 10, batchSize: 128, optimizer: 'sgd', lr: 0.1, momentum: 0.9, nesterov: false, weightDecay: 1e-4,
  schedule: 'cosine', minLr: 0, milestones: [], gamma: 0.1, warmupEpochs: 0, gradClip: 0, labelSmoothing: 0,
  auxWeight: 0, dropPath: 0, seed: 0, logEvery: 20,
};

/** A model the trainer can drive; the optional hooks are for networks with an auxiliary head and drop path. */
export interface TrainableModel extends Module {
  forwardTrain?(x: Tensor): { logits: Tensor; aux: Tensor | null };
  dropPathProb?: number;
}

export interface EpochRecord {
  epoch: number;
  lr: number;
  trainLoss: number;
  trainAcc: number;
  validLoss: number | null;
  validAcc: number | null;
  imagesPerSec: number;
  seconds: number;
  alignment?: LayerAlignment[];
}

export interface TrainOptions extends Omit<RunOptions, 'describe'> {
  /** The model's generator (drop path, brSF redraws): its state is checkpointed. */
  gen: RandomGenerator;
  /** Log per-layer alignment angles each epoch (models with learning rules). */
  logAlignment?: boolean;
  /** Extra JSON saved in checkpoints (e.g. the model's description, to rebuild it). */
  describe?: Record<string, unknown>;
}

export interface TrainResult {
  history: EpochRecord[];
  stopped: boolean;
  /** The signal that stopped the run, if one did. */
  signal: 'SIGINT' | 'SIGTERM' | null;
  final: EpochRecord | null;
}

export function makeOptimizer(params: Tensor[], c: TrainConfig): Optimizer {
  return c.optimizer === 'adam' || c.optimizer === 'adamw'
    ? new Adam(params, { lr: c.lr, weightDecay: c.weightDecay, decoupled: c.optimizer === 'adamw' })
    : new SGD(params, { lr: c.lr, momentum: c.momentum, nesterov: c.nesterov, weightDecay: c.weightDecay });
}

/** Mean loss and accuracy over a loader, in evaluation mode, without gradients. */
export async function evaluate(model: TrainableModel, loader: BatchLoader): Promise<{ loss: number; acc: number; count: number }> {
  model.eval();
  const lossSum = keep(fillInPlace(Tensor.empty([1]), 0));
  const correct = keep(fillInPlace(Tensor.empty([1]), 0));
  let count = 0;
  for (const batch of loader.epoch(0)) {
    scope(() =>
      noGrad(() => {
        const logits = model.forward(batch.x);
        const n = batch.x.shape[0];
        addInto(lossSum, scale(crossEntropy(logits, batch.y), n));
        addInto(correct, countCorrect(logits, batch.y));
        count += n;
      }),
    );
    batch.x.release();
    batch.y.release();
  }
  const [l, c] = await Promise.all([lossSum.data(), correct.data()]);
  lossSum.release();
  correct.release();
  model.train();
  return { loss: l[0] / Math.max(1, count), acc: c[0] / Math.max(1, count), count };
}

/** Training as a run-loop job: one phase per epoch, a step per batch. */
export class TrainJob implements Job {
  readonly kind = 'train';
  readonly resumable = ['epochs', 'logEvery'] as const;
  readonly streams = ['metrics'] as const;
  private readonly params: Tensor[];
  private readonly opt: Optimizer;
  private readonly steps: number;
  private readonly sums = new RunningSums(['loss', 'correct']);
  private lr = 0;
  private batches: Generator<Batch> | null = null;

  constructor(readonly model: TrainableModel, readonly data: { train: BatchLoader; valid?: BatchLoader | null },
    readonly c: TrainConfig, readonly gen: RandomGenerator, readonly logAlignment = false) {
    this.params = model.parameters();
    this.opt = makeOptimizer(this.params, c);
    this.steps = data.train.length;
    if (this.steps === 0) throw new Error(`training set of ${data.train.data.count} images gives no batch of ${c.batchSize}`);
  }

  get config(): Record<string, unknown> {
    return { ...this.c };
  }
  get epochs(): number {
    return this.c.epochs;
  }
  get logEvery(): number {
    return this.c.logEvery;
  }

  phases(epoch: number): Phase[] {
    return [{ name: 'train', steps: this.steps, label: `epoch ${epoch + 1}/${this.c.epochs}` }];
  }

  beginPhase(at: Position): void {
    const c = this.c;
    this.model.train();
    if (this.model.dropPathProb !== undefined) this.model.dropPathProb = (c.dropPath * at.epoch) / c.epochs;
    this.sums.begin();
    this.batches = this.data.train.epoch(at.epoch, at.step);
  }

  step(at: Position): number {
    const c = this.c;
    const batch = this.batches!.next().value as Batch;
    const schedule = { name: c.schedule, lr: c.lr, epochs: c.epochs, minLr: c.minLr, milestones: c.milestones, gamma: c.gamma, warmupEpochs: c.warmupEpochs };
    const lr = (this.lr = learningRate(schedule, at.epoch + batch.index / this.steps));
    scope(() => {
      const model = this.model;
      const { logits, aux } = model.forwardTrain ? model.forwardTrain(batch.x) : { logits: model.forward(batch.x), aux: null };
      let loss = crossEntropy(logits, batch.y, { labelSmoothing: c.labelSmoothing });
      if (aux && c.auxWeight > 0) loss = add(loss, scale(crossEntropy(aux, batch.y, { labelSmoothing: c.labelSmoothing }), c.auxWeight));
      weightUpdate(loss, logits, batch.y, this.params, this.opt, lr, c.gradClip, this.sums.t);
    });
    const n = batch.x.shape[0];
    this.sums.seen += n;
    batch.x.release();
    batch.y.release();
    return n;
  }

  async metrics(): Promise<Record<string, number>> {
    const v = await this.sums.values();
    return { loss: this.sums.mean(v, 'loss'), acc: this.sums.mean(v, 'correct'), lr: this.lr };
  }

  endPhase(): void {
    this.batches?.return(undefined);
    this.batches = null;
  }

  async endEpoch(epoch: number, ctx: RunContext): Promise<void> {
    const c = this.c;
    const v = await this.sums.values();
    const { seconds, imagesPerSec } = this.sums.timing();
    const record: EpochRecord = {
      epoch: epoch + 1, lr: this.lr, trainLoss: this.sums.mean(v, 'loss'), trainAcc: this.sums.mean(v, 'correct'),
      validLoss: null, validAcc: null, imagesPerSec, seconds,
    };
    if (this.data.valid) {
      const v = await evaluate(this.model, this.data.valid);
      record.validLoss = v.loss;
      record.validAcc = v.acc;
    }
    if (this.logAlignment) record.alignment = await alignmentReport(this.model);
    const eta = (c.epochs - epoch - 1) * seconds;
    ctx.log(`epoch ${record.epoch}/${c.epochs}  lr ${this.lr.toPrecision(3)}  train loss ${record.trainLoss.toFixed(4)} acc ${(100 * record.trainAcc).toFixed(2)}%` +
      (record.validAcc !== null ? `  valid loss ${record.validLoss!.toFixed(4)} acc ${(100 * record.validAcc).toFixed(2)}%` : '') +
      `  ${Math.round(record.imagesPerSec)} img/s  ${fmtTime(seconds)}  eta ${fmtTime(eta)}`);
    if (record.alignment?.some((r) => Number.isFinite(r.weightAngle))) {
      ctx.log('  alignment (deg, B vs W | rule grad vs exact): ' + record.alignment
        .filter((r) => Number.isFinite(r.weightAngle))
        .map((r) => `${r.layer}:${r.weightAngle.toFixed(1)}|${Number.isFinite(r.gradientAngle) ? r.gradientAngle.toFixed(1) : '-'}`).join(' '));
    }
    ctx.record('metrics', record as unknown as Record<string, unknown>);
    if (ctx.runDir) ctx.writeText('curves.svg', curvesSvg(ctx.history<EpochRecord>('metrics')));
  }

  async state(at: Position): Promise<JobState> {
    const o = optimizerTensors(this.opt);
    return {
      tensors: [...this.model.namedTensors().map(([n, t]) => [`model.${n}`, t] as [string, Tensor]), ...o.tensors],
      meta: { optimizer: o.meta, generators: { model: this.gen.state() }, sums: await this.sums.carry(at.step) },
    };
  }

  restore(saved: SavedState, meta: Record<string, unknown>): void {
    loadInto(this.model.namedTensors().map(([n, t]) => [`model.${n}`, t]), saved, 'checkpoint');
    restoreOptimizer(this.opt, saved, meta.optimizer as Record<string, unknown>);
    this.gen.setState((meta.generators as { model: never }).model);
    this.sums.restore(meta.sums as CarriedSums | null);
  }

  close(): void {
    this.endPhase();
    this.sums.release();
    this.opt.zeroGrad();
    this.opt.dispose();
  }
}

export async function train(model: TrainableModel, data: { train: BatchLoader; valid?: BatchLoader | null }, c: TrainConfig, o: TrainOptions): Promise<TrainResult> {
  const job = new TrainJob(model, data, c, o.gen, o.logAlignment);
  const r = await runJob(job, o);
  const history = r.history<EpochRecord>('metrics');
  return { history, stopped: r.stopped, signal: r.signal, final: history[history.length - 1] ?? null };
}


/** Loss and accuracy per epoch, two charts stacked in one SVG. */
export function curvesSvg(history: EpochRecord[]): string {
  const pts = (f: (r: EpochRecord) => number | null) => history.filter((r) => f(r) !== null).map((r) => [r.epoch, f(r)!] as [number, number]);
  const loss = lineChart([
    { name: 'train loss', points: pts((r) => r.trainLoss) },
    { name: 'valid loss', points: pts((r) => r.validLoss) },
  ], { title: 'Loss', xLabel: 'epoch', yLabel: 'cross-entropy', height: 300 });
  const acc = lineChart([
    { name: 'train acc', points: pts((r) => 100 * r.trainAcc) },
    { name: 'valid acc', points: pts((r) => (r.validAcc === null ? null : 100 * r.validAcc)) },
  ], { title: 'Accuracy', xLabel: 'epoch', yLabel: '%', height: 300 });
  return stackCharts([{ svg: loss, height: 300 }, { svg: acc, height: 300 }]);
}
