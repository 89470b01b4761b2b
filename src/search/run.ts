// Drives a BioNAS-DARTS search: epochs of search steps over paired train/validation batches,
// the alphas and genotype of every epoch, progress, atomic checkpoints (each epoch, and at the
// next step boundary after SIGINT/SIGTERM) and a summary. Resuming continues to the same
// genotype as an uninterrupted run with the same seed.

import { gpu } from '../gpu/runtime.js';
import { fillInPlace } from '../ops/fill.js';
import type { Generator } from '../ops/random.js';
import type { BatchLoader } from '../data/loader.js';
import { saveTensors, readState, loadInto } from '../run/state.js';
import { optimizerTensors, restoreOptimizer } from '../train/checkpoint.js';
import { Progress, fmtTime } from '../run/progress.js';
import { StopRequest } from '../run/stop.js';
import { searchStep, makeOptimizers, newStats, readStats, releaseStats, searchLr, type DartsConfig } from './darts.js';
import type { Supernet } from './supernet.js';
import { readAlphas, snapshot, derive, describeDerived, writeSearchOutputs, type AlphaSnapshot, type DerivedResult } from './outputs.js';

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
}

export interface SearchOptions {
  runDir?: string;
  resume?: boolean;
  gen: Generator;
  stopAfterSteps?: number;
  /** Aborting it stops the search at the next step, with a checkpoint (e.g. a page's stop button). */
  signal?: AbortSignal;
  log?: (s: string) => void;
  /** Saved into genotype.json and checkpoints (how to rebuild the supernet). */
  describe?: Record<string, unknown>;
}

export interface SearchResult {
  derived: DerivedResult;
  history: SearchEpoch[];
  alphas: AlphaSnapshot[];
  stopped: boolean;
  peakBytes: number;
  seconds: number;
}

export async function runDartsSearch(model: Supernet, data: { train: BatchLoader; valid: BatchLoader }, c: DartsConfig, o: SearchOptions): Promise<SearchResult> {
  const log = o.log ?? ((s: string) => console.log(s));
  const rt = gpu();
  const { wOpt, aOpt } = makeOptimizers(model, c);
  const steps = Math.min(data.train.length, data.valid.length);
  if (steps === 0) throw new Error(`search: no full batch of ${c.batchSize} in the train (${data.train.data.count}) or validation (${data.valid.data.count}) half`);
  const fs = o.runDir ? await import('node:fs') : null;
  const path = o.runDir ? await import('node:path') : null;
  if (o.runDir) fs!.mkdirSync(o.runDir, { recursive: true });
  const ckpt = o.runDir ? path!.join(o.runDir, 'checkpoint.bin') : null;

  let epoch = 0, nextBatch = 0, elapsed = 0;
  let history: SearchEpoch[] = [];
  let alphaHistory: AlphaSnapshot[] = [];
  let partial = { trainLoss: 0, trainCorrect: 0, validLoss: 0, validCorrect: 0, seen: 0 };
  if (o.resume && ckpt && fs!.existsSync(ckpt)) {
    const saved = await readState(ckpt);
    const meta = saved.meta as Record<string, any>;
    if (meta.kind !== 'darts-search') throw new Error(`${ckpt}: not a DARTS search checkpoint (kind ${meta.kind})`);
    loadInto(model.namedTensors().map(([n, t]) => [`model.${n}`, t]), saved, ckpt);
    restoreOptimizer(wOpt, saved, meta.wOpt, 'wOpt');
    restoreOptimizer(aOpt, saved, meta.aOpt, 'aOpt');
    o.gen.setState(meta.generator);
    ({ epoch, nextBatch, history, alphaHistory, partial, elapsed } = meta);
    log(`resumed ${ckpt}: epoch ${epoch + 1}, batch ${nextBatch}`);
  }
  const save = async (ep: number, batch: number, sums = { trainLoss: 0, trainCorrect: 0, validLoss: 0, validCorrect: 0, seen: 0 }) => {
    if (!ckpt) return;
    const w = optimizerTensors(wOpt, 'wOpt'), a = optimizerTensors(aOpt, 'aOpt');
    await saveTensors(ckpt, [...model.namedTensors().map(([n, t]) => [`model.${n}`, t] as [string, typeof t]), ...w.tensors, ...a.tensors], {
      kind: 'darts-search', epoch: ep, nextBatch: batch, config: c, wOpt: w.meta, aOpt: a.meta, generator: o.gen.state(),
      history, alphaHistory, partial: sums, elapsed: elapsed + (performance.now() - runStart) / 1000, describe: o.describe ?? null,
    });
  };

  const stop = new StopRequest(log, { signal: o.signal, afterSteps: o.stopAfterSteps });
  const runStart = performance.now();
  const stats = newStats();
  let stepsThisRun = 0;
  let peakBytes = 0;
  let derived: DerivedResult = derive(model.space, await readAlphas(model), model.steps);
  try {
    for (; epoch < c.epochs; epoch++, nextBatch = 0) {
      fillInPlace(stats.trainLoss, partial.trainLoss);
      fillInPlace(stats.trainCorrect, partial.trainCorrect);
      fillInPlace(stats.validLoss, partial.validLoss);
      fillInPlace(stats.validCorrect, partial.validCorrect);
      let seen = partial.seen;
      partial = { trainLoss: 0, trainCorrect: 0, validLoss: 0, validCorrect: 0, seen: 0 };
      const seenAtStart = seen;
      const lr = searchLr(c, epoch);
      const started = performance.now();
      const bar = new Progress(steps, `search ${epoch + 1}/${c.epochs}`);
      const validBatches = data.valid.epoch(epoch, nextBatch);
      for (const train of data.train.epoch(epoch, nextBatch)) {
        if (train.index >= steps) {
          train.x.release();
          train.y.release();
          break;
        }
        const valid = validBatches.next().value!;
        if (stepsThisRun === 0) rt.pool.resetPeak();
        await searchStep(model, train, valid, c, lr, wOpt, aOpt, stats);
        const n = train.x.shape[0];
        for (const b of [train, valid]) {
          b.x.release();
          b.y.release();
        }
        seen += n;
        stepsThisRun++;
        if (stepsThisRun === 1) {
          await rt.sync();
          peakBytes = rt.pool.peakLiveBytes;
          log(`peak GPU memory at batch ${c.batchSize}: ${(peakBytes / 2 ** 20).toFixed(1)} MiB (pool: ${(rt.pool.allocatedBytes / 2 ** 20).toFixed(1)} MiB allocated)`);
        }
        const last = train.index === steps - 1;
        if ((train.index + 1) % c.logEvery === 0 || last) {
          const s = await readStats(stats, seen, seen);
          const secs = (performance.now() - started) / 1000;
          bar.update(train.index + 1, { loss: s.trainLoss, acc: s.trainAcc, 'val acc': s.validAcc, 'img/s': Math.round((2 * (seen - seenAtStart)) / secs) });
        }
        if (stop.due(stepsThisRun) && !last) {
          bar.done();
          const s = await Promise.all([stats.trainLoss.data(), stats.trainCorrect.data(), stats.validLoss.data(), stats.validCorrect.data()]);
          await save(epoch, train.index + 1, { trainLoss: s[0][0], trainCorrect: s[1][0], validLoss: s[2][0], validCorrect: s[3][0], seen });
          log(`stopped at epoch ${epoch + 1}, batch ${train.index + 1}/${steps}${ckpt ? `; continue with --resume ${o.runDir}` : ''}`);
          return { derived, history, alphas: alphaHistory, stopped: true, peakBytes, seconds: elapsed + (performance.now() - runStart) / 1000 };
        }
      }
      validBatches.return(undefined);
      bar.done();
      const s = await readStats(stats, seen, seen);
      const alphas = await readAlphas(model);
      derived = derive(model.space, alphas, model.steps);
      alphaHistory.push(snapshot(model, alphas, epoch + 1));
      const seconds = (performance.now() - started) / 1000;
      const record: SearchEpoch = {
        epoch: epoch + 1, lr, ...s, seconds, imagesPerSec: (2 * (seen - seenAtStart)) / seconds, genotype: describeDerived(derived),
      };
      history.push(record);
      log(`search epoch ${record.epoch}/${c.epochs}  lr ${lr.toPrecision(3)}  train loss ${s.trainLoss.toFixed(4)} acc ${(100 * s.trainAcc).toFixed(1)}%  ` +
        `valid loss ${s.validLoss.toFixed(4)} acc ${(100 * s.validAcc).toFixed(1)}%  ${Math.round(record.imagesPerSec)} img/s  ${fmtTime(seconds)}  eta ${fmtTime(seconds * (c.epochs - epoch - 1))}`);
      log(`  genotype: ${record.genotype}`);
      if (o.runDir) {
        fs!.appendFileSync(path!.join(o.runDir, 'alphas.jsonl'), JSON.stringify(alphaHistory[alphaHistory.length - 1]) + '\n');
        await writeSearchOutputs(o.runDir, model.space, derived, alphaHistory, { epoch: epoch + 1, describe: o.describe ?? null });
      }
      await save(epoch + 1, 0);
      if (stop.due(stepsThisRun) && epoch + 1 < c.epochs) {
        log(`stopped after epoch ${epoch + 1}; continue with --resume ${o.runDir}`);
        return { derived, history, alphas: alphaHistory, stopped: true, peakBytes, seconds: elapsed + (performance.now() - runStart) / 1000 };
      }
    }
  } finally {
    stop.dispose();
    releaseStats(stats);
    for (const opt of [wOpt, aOpt]) {
      opt.zeroGrad();
      opt.dispose();
    }
  }
  return { derived, history, alphas: alphaHistory, stopped: false, peakBytes, seconds: elapsed + (performance.now() - runStart) / 1000 };
}
