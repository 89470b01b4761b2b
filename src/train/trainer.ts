// The training loop: epochs of SGD/Adam steps with a schedule, warm-up, gradient clipping,
// label smoothing, an auxiliary head and drop path; evaluation each epoch; metrics as JSON
// lines and an SVG of the curves; atomic checkpoints each epoch and when stopped by a
// signal, from which --resume continues to the same result as an uninterrupted run.
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
import { Generator } from '../ops/random.js';
import type { Module } from '../nn/module.js';
import { alignmentReport, type LayerAlignment } from '../nn/alignment.js';
import { BatchLoader } from '../data/loader.js';
import { saveCheckpoint, loadCheckpoint, restoreOptimizer, type Optimizer } from './checkpoint.js';
import { loadInto, writeTextAtomic } from '../run/state.js';
import { Progress, fmtTime } from '../run/progress.js';
import { StopRequest } from '../run/stop.js';
import { weightUpdate } from './step.js';
import { lineChart } from '../viz/chart.js';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  optimizer: 'sgd' | 'adam';
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

export interface TrainOptions {
  /** Folder for checkpoint.bin, metrics.jsonl and curves.svg; none: nothing is written. */
  runDir?: string;
  /** Continue from runDir/checkpoint.bin when it exists. */
  resume?: boolean;
  /** The model's generator (drop path, brSF redraws): its state is checkpointed. */
  gen: Generator;
  /** Stop (as a signal would) after this many steps of this run: tests of resume. */
  stopAfterSteps?: number;
  /** Aborting it stops the run at the next step, with a checkpoint (e.g. a page's stop button). */
  signal?: AbortSignal;
  /** Log per-layer alignment angles each epoch (models with learning rules). */
  logAlignment?: boolean;
  log?: (line: string) => void;
  /** Extra JSON saved in checkpoints (e.g. the model's description, to rebuild it). */
  describe?: Record<string, unknown>;
}

export interface TrainResult {
  history: EpochRecord[];
  stopped: boolean;
  final: EpochRecord | null;
}

export function makeOptimizer(params: Tensor[], c: TrainConfig): Optimizer {
  return c.optimizer === 'adam'
    ? new Adam(params, { lr: c.lr, weightDecay: c.weightDecay })
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

export async function train(model: TrainableModel, data: { train: BatchLoader; valid?: BatchLoader | null }, c: TrainConfig, o: TrainOptions): Promise<TrainResult> {
  const log = o.log ?? ((s: string) => console.log(s));
  const params = model.parameters();
  const opt = makeOptimizer(params, c);
  const steps = data.train.length;
  if (steps === 0) throw new Error(`training set of ${data.train.data.count} images gives no batch of ${c.batchSize}`);
  const fs = o.runDir ? await import('node:fs') : null;
  const path = o.runDir ? await import('node:path') : null;
  const ckptPath = o.runDir ? path!.join(o.runDir, 'checkpoint.bin') : null;
  if (o.runDir) fs!.mkdirSync(o.runDir, { recursive: true });

  let epoch = 0, nextBatch = 0;
  let history: EpochRecord[] = [];
  // Running sums of a partly done epoch, so a resumed epoch reports what an uninterrupted one would.
  let partial = { lossSum: 0, correct: 0, seen: 0 };
  if (o.resume && ckptPath && fs!.existsSync(ckptPath)) {
    const { saved, meta } = await loadCheckpoint(ckptPath);
    loadInto(model.namedTensors().map(([n, t]) => [`model.${n}`, t]), saved, ckptPath);
    restoreOptimizer(opt, saved, meta.optimizer);
    o.gen.setState(meta.generators.model as never);
    epoch = meta.epoch;
    nextBatch = meta.nextBatch;
    history = meta.history as EpochRecord[];
    if (meta.partial) partial = meta.partial as typeof partial;
    log(`resumed from ${ckptPath}: epoch ${epoch + 1}, batch ${nextBatch}`);
  }

  const stop = new StopRequest(log, { signal: o.signal, afterSteps: o.stopAfterSteps });

  const save = async (ep: number, batch: number, sums = { lossSum: 0, correct: 0, seen: 0 }) => {
    if (!ckptPath) return;
    await saveCheckpoint(ckptPath, model, opt, {
      kind: 'train', epoch: ep, nextBatch: batch, config: c, generators: { model: o.gen.state() }, history, partial: sums, describe: o.describe ?? null,
    });
  };

  const lossSum = keep(Tensor.empty([1]));
  const correct = keep(Tensor.empty([1]));
  let stepsThisRun = 0;
  let stopped = false;
  try {
    model.train();
    for (; epoch < c.epochs; epoch++, nextBatch = 0) {
      const schedule = { name: c.schedule, lr: c.lr, epochs: c.epochs, minLr: c.minLr, milestones: c.milestones, gamma: c.gamma, warmupEpochs: c.warmupEpochs };
      if (model.dropPathProb !== undefined) model.dropPathProb = (c.dropPath * epoch) / c.epochs;
      fillInPlace(lossSum, partial.lossSum);
      fillInPlace(correct, partial.correct);
      let seen = partial.seen;
      partial = { lossSum: 0, correct: 0, seen: 0 };
      const started = performance.now();
      const seenAtStart = seen;
      const bar = new Progress(steps, `epoch ${epoch + 1}/${c.epochs}`);
      let shownLoss = NaN, shownAcc = NaN;
      let lr = 0;
      for (const batch of data.train.epoch(epoch, nextBatch)) {
        lr = learningRate(schedule, epoch + batch.index / steps);
        scope(() => {
          const { logits, aux } = model.forwardTrain ? model.forwardTrain(batch.x) : { logits: model.forward(batch.x), aux: null };
          let loss = crossEntropy(logits, batch.y, { labelSmoothing: c.labelSmoothing });
          if (aux && c.auxWeight > 0) loss = add(loss, scale(crossEntropy(aux, batch.y, { labelSmoothing: c.labelSmoothing }), c.auxWeight));
          weightUpdate(loss, logits, batch.y, params, opt, lr, c.gradClip, { loss: lossSum, correct });
        });
        seen += batch.x.shape[0];
        batch.x.release();
        batch.y.release();
        stepsThisRun++;
        const last = batch.index === steps - 1;
        if ((batch.index + 1) % c.logEvery === 0 || last) {
          const [l, a] = await Promise.all([lossSum.data(), correct.data()]);
          shownLoss = l[0] / seen;
          shownAcc = a[0] / seen;
          const secs = (performance.now() - started) / 1000;
          bar.update(batch.index + 1, { loss: shownLoss, acc: shownAcc, 'img/s': Math.round((seen - seenAtStart) / secs), lr });
        }
        if (stop.due(stepsThisRun) && !last) {
          bar.done();
          const [ls, cs] = await Promise.all([lossSum.data(), correct.data()]);
          await save(epoch, batch.index + 1, { lossSum: ls[0], correct: cs[0], seen });
          stopped = true;
          log(`stopped at epoch ${epoch + 1}, batch ${batch.index + 1}/${steps}${ckptPath ? `; resume with --resume (${ckptPath})` : ''}`);
          return { history, stopped, final: history[history.length - 1] ?? null };
        }
      }
      bar.done();
      const [l, a] = await Promise.all([lossSum.data(), correct.data()]);
      const seconds = (performance.now() - started) / 1000;
      const record: EpochRecord = {
        epoch: epoch + 1, lr, trainLoss: l[0] / Math.max(1, seen), trainAcc: a[0] / Math.max(1, seen),
        validLoss: null, validAcc: null, imagesPerSec: (seen - seenAtStart) / seconds, seconds,
      };
      if (data.valid) {
        const v = await evaluate(model, data.valid);
        record.validLoss = v.loss;
        record.validAcc = v.acc;
      }
      if (o.logAlignment) record.alignment = await alignmentReport(model);
      history.push(record);
      const eta = ((c.epochs - epoch - 1) * seconds);
      log(`epoch ${record.epoch}/${c.epochs}  lr ${lr.toPrecision(3)}  train loss ${record.trainLoss.toFixed(4)} acc ${(100 * record.trainAcc).toFixed(2)}%` +
        (record.validAcc !== null ? `  valid loss ${record.validLoss!.toFixed(4)} acc ${(100 * record.validAcc).toFixed(2)}%` : '') +
        `  ${Math.round(record.imagesPerSec)} img/s  ${fmtTime(seconds)}  eta ${fmtTime(eta)}`);
      if (record.alignment?.some((r) => Number.isFinite(r.weightAngle))) {
        log('  alignment (deg, B vs W | rule grad vs exact): ' + record.alignment
          .filter((r) => Number.isFinite(r.weightAngle))
          .map((r) => `${r.layer}:${r.weightAngle.toFixed(1)}|${Number.isFinite(r.gradientAngle) ? r.gradientAngle.toFixed(1) : '-'}`).join(' '));
      }
      if (o.runDir) {
        fs!.appendFileSync(path!.join(o.runDir, 'metrics.jsonl'), JSON.stringify(record) + '\n');
        writeCurves(path!.join(o.runDir, 'curves.svg'), history, fs!);
      }
      await save(epoch + 1, 0);
      if (stop.due(stepsThisRun) && epoch + 1 < c.epochs) {
        stopped = true;
        log(`stopped after epoch ${epoch + 1}; resume with --resume`);
        return { history, stopped, final: record };
      }
    }
  } finally {
    stop.dispose();
    lossSum.release();
    correct.release();
    opt.zeroGrad();
    opt.dispose();
  }
  return { history, stopped, final: history[history.length - 1] ?? null };
}

export function writeCurves(file: string, history: EpochRecord[], fs: typeof import('node:fs')): void {
  const pts = (f: (r: EpochRecord) => number | null) => history.filter((r) => f(r) !== null).map((r) => [r.epoch, f(r)!] as [number, number]);
  const loss = lineChart([
    { name: 'train loss', points: pts((r) => r.trainLoss) },
    { name: 'valid loss', points: pts((r) => r.validLoss) },
  ], { title: 'Loss', xLabel: 'epoch', yLabel: 'cross-entropy', height: 300 });
  const acc = lineChart([
    { name: 'train acc', points: pts((r) => 100 * r.trainAcc) },
    { name: 'valid acc', points: pts((r) => (r.validAcc === null ? null : 100 * r.validAcc)) },
  ], { title: 'Accuracy', xLabel: 'epoch', yLabel: '%', height: 300 });
  // Two charts stacked in one file.
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="600">\n<g>${loss}</g>\n<g transform="translate(0 300)">${acc}</g>\n</svg>`;
  writeTextAtomic(fs, file, svg);
}
