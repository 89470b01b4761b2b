// BioNAS-EG (after EG-NAS, as the BioNAS paper describes it): the alphas are evolved by CMA-ES
// and the weights trained by SGD.
//   1. Warm-up: `warmupEpochs` epochs of SGD on the weights with the alphas frozen.
//   2. Each epoch: draw K initial means around the current alphas (alpha + meanStep * N(0, I));
//      from each run CMA-ES for `generations` generations of `population` candidates with step
//      size sigma = max(1 / (epoch + 1), 0.02), the epoch counted from the end of the warm-up.
//      A candidate's fitness (lower is better) on a held-out batch is
//        CE(candidate) + 0.4 * s * cos(candidate, current alphas),
//      s = +1 when the candidate is at least as accurate as the current architecture (so
//      diverse good candidates win) and -1 otherwise (poor ones are pulled back).
//      The best individual over all searches replaces the alphas.
//   3. One epoch of SGD on the weights with the alphas frozen.
// Candidates are scored side by side (no gradients): up to `candidatesPerPass` of them in one
// pass of the supernet, the held-out batch repeated once per candidate, each copy mixed by its
// candidate's alphas and normalised by its own BN statistics, so a candidate scores as it
// would alone. With candidatesPerPass 0 the pass size is what fits in scoreMemoryMiB, measured
// from the pool during the current architecture's (single) pass. Losses and hits stay on the
// GPU and are read once per generation.

import { Tensor, scope, keep } from '../tensor.js';
import { noGrad } from '../autograd.js';
import { fillInPlace } from '../ops/fill.js';
import { concat, slice } from '../ops/concat.js';
import { withBatchGroups } from '../ops/batchnorm.js';
import { gpu } from '../gpu/runtime.js';
import { crossEntropy, countCorrect } from '../ops/loss.js';
import { SGD } from '../optim/sgd.js';
import { learningRate } from '../optim/schedule.js';
import { splitmix32 } from '../data/dataset.js';
import type { Batch, BatchLoader } from '../data/loader.js';
import type { Generator } from '../ops/random.js';
import { saveTensors, readState, loadInto, writeTextAtomic } from '../run/state.js';
import { optimizerTensors, restoreOptimizer } from '../train/checkpoint.js';
import { Progress, fmtTime } from '../run/progress.js';
import { StopRequest } from '../run/stop.js';
import { lineChart } from '../viz/chart.js';
import { CMAES } from './optimizers/cmaes.js';
import { weightUpdate } from '../train/step.js';
import { frozen } from './darts.js';
import type { Supernet } from './supernet.js';
import { readAlphas, snapshot, derive, describeDerived, writeSearchOutputs, type AlphaSnapshot, type DerivedResult } from './outputs.js';

export interface EgConfig {
  epochs: number;
  warmupEpochs: number;
  batchSize: number;
  lr: number;
  minLr: number;
  momentum: number;
  weightDecay: number;
  gradClip: number;
  population: number;
  /** K: CMA-ES searches per epoch, each from its own initial mean. */
  initialSamples: number;
  /** Std of the initial means around the current alphas. */
  meanStep: number;
  generations: number;
  /** Weight of the cosine-similarity diversity term. */
  diversityWeight: number;
  minSigma: number;
  seed: number;
  logEvery: number;
  /** Candidates scored in one supernet pass; 0: as many as fit in scoreMemoryMiB. */
  candidatesPerPass: number;
  /** GPU memory a scoring pass may take when candidatesPerPass is 0. */
  scoreMemoryMiB: number;
}

/** EG-NAS defaults (SPEC 4): population 50, 3 initial samples, step 0.1, 50 epochs, 15 warm-up. */
export const EG_SEARCH: Omit<EgConfig, 'seed'> & { C: number; layers: number; steps: number } = {
  epochs: 50, warmupEpochs: 15, batchSize: 256, lr: 0.1, minLr: 0, momentum: 0.9, weightDecay: 3e-4, gradClip: 5,
  population: 50, initialSamples: 3, meanStep: 0.1, generations: 2, diversityWeight: 0.4, minSigma: 0.02, logEvery: 20,
  candidatesPerPass: 0, scoreMemoryMiB: 4096, C: 16, layers: 8, steps: 4,
};

export interface GenerationRecord {
  epoch: number;
  search: number;
  generation: number;
  bestFitness: number;
  meanFitness: number;
  bestAccuracy: number;
  /** Mean distance of the candidates from their centroid (population diversity). */
  diversity: number;
  sigma: number;
}

export interface EgEpoch {
  epoch: number;
  phase: 'warmup' | 'search';
  lr: number;
  trainLoss: number;
  trainAcc: number;
  seconds: number;
  candidatesPerSec: number | null;
  genotype: string;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

function flatten(parts: Float32Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function writeAlphas(model: Supernet, x: ArrayLike<number>): void {
  let at = 0;
  for (const a of model.alphas) {
    a.write(Float32Array.from({ length: a.size }, (_, i) => x[at + i]));
    at += a.size;
  }
}

/** G candidates' alphas as population tensors [G, edges, pairs], one per alpha matrix. */
function populationAlphas(model: Supernet, xs: ArrayLike<number>[]): Tensor[] {
  let at = 0;
  return model.alphas.map((a) => {
    const data = new Float32Array(xs.length * a.size);
    xs.forEach((x, g) => {
      for (let i = 0; i < a.size; i++) data[g * a.size + i] = x[at + i];
    });
    at += a.size;
    return Tensor.fromData(data, xs.length === 1 ? a.shape : [xs.length, ...a.shape]);
  });
}

/** [loss_0, correct_0, loss_1, ...] of G candidates on batch b, in one pass of the supernet. */
function scorePass(model: Supernet, xs: ArrayLike<number>[], b: Batch): Tensor {
  const G = xs.length;
  const n = b.x.shape[0];
  return scope(() => noGrad(() => {
    const alphas = populationAlphas(model, xs);
    const x = G === 1 ? b.x : concat(Array.from({ length: G }, () => b.x), 0);
    const logits = withBatchGroups(G, () => model.forward(x, alphas));
    const parts: Tensor[] = [];
    for (let g = 0; g < G; g++) {
      const mine = G === 1 ? logits : slice(logits, 0, g * n, (g + 1) * n);
      parts.push(crossEntropy(mine, b.y), countCorrect(mine, b.y));
    }
    return concat(parts, 0);
  }));
}

/**
 * Loss and accuracy of the supernet on batch b under each candidate's alphas (flattened in the
 * order of model.alphas), `perPass` candidates per pass. The model's own alphas are untouched.
 */
export async function scoreCandidates(model: Supernet, xs: ArrayLike<number>[], b: Batch, perPass = xs.length): Promise<{ loss: number[]; acc: number[] }> {
  const size = model.alphas.reduce((n, a) => n + a.size, 0);
  xs.forEach((x, i) => {
    if (x.length !== size) throw new Error(`scoreCandidates: candidate ${i} has ${x.length} values, the alphas have ${size}`);
  });
  if (!(Number.isInteger(perPass) && perPass >= 1)) throw new Error(`scoreCandidates: candidates per pass must be a positive integer, got ${perPass}`);
  const scores: Tensor[] = [];
  for (let i = 0; i < xs.length; i += perPass) scores.push(scorePass(model, xs.slice(i, i + perPass), b));
  const all = scores.length === 1 ? scores[0] : noGrad(() => concat(scores, 0));
  const values = await all.data();
  if (all !== scores[0]) all.release();
  scores.forEach((t) => t.release());
  const n = b.x.shape[0];
  return { loss: xs.map((_, i) => values[2 * i]), acc: xs.map((_, i) => values[2 * i + 1] / n) };
}

/**
 * Candidates per scoring pass: the configured number, or as many as fit in scoreMemoryMiB
 * given the bytes one candidate's pass took (and its largest buffer under the adapter's limit).
 */
export function candidatesPerPass(c: Pick<EgConfig, 'candidatesPerPass' | 'scoreMemoryMiB'>, population: number,
  measured: { bytes: number; largestBuffer: number }, maxBufferBytes: number): number {
  if (c.candidatesPerPass > 0) return Math.min(c.candidatesPerPass, population);
  const byMemory = Math.floor((c.scoreMemoryMiB * 2 ** 20) / Math.max(measured.bytes, 1));
  const byBuffer = Math.floor(maxBufferBytes / Math.max(measured.largestBuffer, 1));
  return Math.max(1, Math.min(population, byMemory, byBuffer));
}

export interface EgOptions {
  runDir?: string;
  resume?: boolean;
  gen: Generator;
  stopAfterSteps?: number;
  /** Aborting it stops the search at the next step, with a checkpoint (e.g. a page's stop button). */
  signal?: AbortSignal;
  log?: (s: string) => void;
  describe?: Record<string, unknown>;
}

export interface EgResult {
  derived: DerivedResult;
  history: EgEpoch[];
  generations: GenerationRecord[];
  alphas: AlphaSnapshot[];
  stopped: boolean;
  seconds: number;
  evolveSeconds: number;
  candidates: number;
}

export async function runEgSearch(model: Supernet, data: { train: BatchLoader; valid: BatchLoader }, c: EgConfig, o: EgOptions): Promise<EgResult> {
  const log = o.log ?? ((s: string) => console.log(s));
  const weights = model.weightParameters();
  const opt = new SGD(weights, { lr: c.lr, momentum: c.momentum, weightDecay: c.weightDecay });
  const steps = data.train.length;
  if (steps === 0 || data.valid.length === 0) throw new Error(`EG search: no full batch of ${c.batchSize} in the train or held-out half`);
  const totalEpochs = c.warmupEpochs + c.epochs;
  const fs = o.runDir ? await import('node:fs') : null;
  const path = o.runDir ? await import('node:path') : null;
  if (o.runDir) fs!.mkdirSync(o.runDir, { recursive: true });
  const ckpt = o.runDir ? path!.join(o.runDir, 'checkpoint.bin') : null;

  // Position: epoch, whether its evolution is done, and the next weight-training batch.
  let epoch = 0, evolved = false, nextBatch = 0, elapsed = 0, evolveSeconds = 0, candidates = 0;
  let history: EgEpoch[] = [];
  let generations: GenerationRecord[] = [];
  let alphaHistory: AlphaSnapshot[] = [];
  let partial = { loss: 0, correct: 0, seen: 0 };
  if (o.resume && ckpt && fs!.existsSync(ckpt)) {
    const saved = await readState(ckpt);
    const meta = saved.meta as Record<string, any>;
    if (meta.kind !== 'eg-search') throw new Error(`${ckpt}: not a BioNAS-EG checkpoint (kind ${meta.kind})`);
    loadInto(model.namedTensors().map(([n, t]) => [`model.${n}`, t]), saved, ckpt);
    restoreOptimizer(opt, saved, meta.optimizer);
    o.gen.setState(meta.generator);
    ({ epoch, evolved, nextBatch, history, generations, alphaHistory, partial, elapsed, evolveSeconds, candidates } = meta);
    log(`resumed ${ckpt}: epoch ${epoch + 1}, ${evolved ? `training batch ${nextBatch}` : 'evolution'}`);
  }
  const runStart = performance.now();
  const save = async (ep: number, done: boolean, batch: number, sums = { loss: 0, correct: 0, seen: 0 }) => {
    if (!ckpt) return;
    const ot = optimizerTensors(opt);
    await saveTensors(ckpt, [...model.namedTensors().map(([n, t]) => [`model.${n}`, t] as [string, Tensor]), ...ot.tensors], {
      kind: 'eg-search', epoch: ep, evolved: done, nextBatch: batch, config: c, optimizer: ot.meta, generator: o.gen.state(),
      history, generations, alphaHistory, partial: sums, elapsed: elapsed + (performance.now() - runStart) / 1000, evolveSeconds, candidates,
      describe: o.describe ?? null,
    });
  };
  const stop = new StopRequest(log, { signal: o.signal, afterSteps: o.stopAfterSteps });
  const lossSum = keep(Tensor.empty([1]));
  const correct = keep(Tensor.empty([1]));
  let stepsThisRun = 0;
  let derived: DerivedResult = derive(model.space, await readAlphas(model), model.steps);
  try {
    for (; epoch < totalEpochs; epoch++, evolved = false, nextBatch = 0) {
      const searching = epoch >= c.warmupEpochs;
      const searchEpoch = epoch - c.warmupEpochs;
      let candidatesThisEpoch = 0, evolveTime = 0;
      if (searching && !evolved) {
        const t0 = performance.now();
        const sigma = Math.max(1 / (searchEpoch + 1), c.minSigma);
        const current = flatten(await readAlphas(model));
        // Held-out batches for scoring; when a search outlasts the half, reshuffle it.
        let held = data.valid.epoch(epoch);
        let refills = 0;
        const nextHeld = () => {
          let r = held.next();
          if (r.done) {
            held = data.valid.epoch(totalEpochs + epoch * 1000 + ++refills);
            r = held.next();
          }
          return r.value as Batch;
        };
        let best: { x: Float64Array; fitness: number } | null = null;
        let passSize = 1;
        for (let k = 0; k < c.initialSamples; k++) {
          const rand = splitmix32((c.seed * 7919 + epoch * 131 + k) >>> 0);
          const normal = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
          const mean = current.map((v) => v + c.meanStep * normal());
          const es = new CMAES(mean, sigma, { populationSize: c.population, seed: (c.seed * 104729 + epoch * 8191 + k) >>> 0 });
          for (let g = 0; g < c.generations; g++) {
            const batch = nextHeld();
            const cands = es.ask();
            // The current architecture alone first: its pass measures what a candidate costs.
            const pool = gpu().pool;
            pool.resetPeak();
            const liveBefore = pool.liveBytes;
            const ref = await scoreCandidates(model, [current], batch);
            const perPass = candidatesPerPass(c, cands.length, { bytes: pool.peakLiveBytes - liveBefore, largestBuffer: pool.peakBufferBytes },
              gpu().info.limits.maxStorageBufferBindingSize ?? 2 ** 27);
            const s = await scoreCandidates(model, cands.map((cd) => cd.x), batch, perPass);
            passSize = perPass;
            batch.x.release();
            batch.y.release();
            const fitness = cands.map((cd, i) => s.loss[i] + c.diversityWeight * (s.acc[i] >= ref.acc[0] ? 1 : -1) * cosine(cd.x, current));
            es.tell(cands, fitness);
            candidatesThisEpoch += cands.length + 1;
            let bi = 0;
            fitness.forEach((f, i) => (f < fitness[bi] ? (bi = i) : 0));
            if (!best || fitness[bi] < best.fitness) best = { x: cands[bi].x, fitness: fitness[bi] };
            const centroid = new Float64Array(current.length);
            for (const cd of cands) cd.x.forEach((v, i) => (centroid[i] += v / cands.length));
            const diversity = cands.reduce((acc, cd) => acc + Math.hypot(...cd.x.map((v, i) => v - centroid[i])), 0) / cands.length;
            generations.push({
              epoch: epoch + 1, search: k, generation: g, bestFitness: fitness[bi], meanFitness: fitness.reduce((a, b) => a + b, 0) / fitness.length,
              bestAccuracy: s.acc[bi], diversity, sigma: es.sigma,
            });
          }
        }
        held.return(undefined);
        writeAlphas(model, best!.x);
        evolveTime = (performance.now() - t0) / 1000;
        evolveSeconds += evolveTime;
        candidates += candidatesThisEpoch;
        evolved = true;
        log(`evolution ${searchEpoch + 1}/${c.epochs}: sigma ${sigma.toPrecision(3)}, best fitness ${best!.fitness.toFixed(4)}, ` +
          `${candidatesThisEpoch} candidates in ${fmtTime(evolveTime)} (${(candidatesThisEpoch / evolveTime).toFixed(1)}/s, ${passSize} per pass)`);
        await save(epoch, true, 0);
      }
      // One epoch of SGD on the weights, alphas frozen.
      const lr = learningRate({ name: 'cosine', lr: c.lr, minLr: c.minLr, epochs: totalEpochs }, epoch);
      fillInPlace(lossSum, partial.loss);
      fillInPlace(correct, partial.correct);
      let seen = partial.seen;
      partial = { loss: 0, correct: 0, seen: 0 };
      const seenAtStart = seen;
      const started = performance.now();
      const bar = new Progress(steps, `${searching ? 'EG' : 'warm-up'} ${epoch + 1}/${totalEpochs}`);
      for (const b of data.train.epoch(epoch, nextBatch)) {
        scope(() => frozen(model.alphas, () => {
          const logits = model.forward(b.x);
          weightUpdate(crossEntropy(logits, b.y), logits, b.y, weights, opt, lr, c.gradClip, { loss: lossSum, correct });
        }));
        seen += b.x.shape[0];
        b.x.release();
        b.y.release();
        stepsThisRun++;
        const last = b.index === steps - 1;
        if ((b.index + 1) % c.logEvery === 0 || last) {
          const [l, a] = await Promise.all([lossSum.data(), correct.data()]);
          bar.update(b.index + 1, { loss: l[0] / seen, acc: a[0] / seen, 'img/s': Math.round((seen - seenAtStart) / ((performance.now() - started) / 1000)) });
        }
        if (stop.due(stepsThisRun) && !last) {
          bar.done();
          const [l, a] = await Promise.all([lossSum.data(), correct.data()]);
          await save(epoch, evolved, b.index + 1, { loss: l[0], correct: a[0], seen });
          log(`stopped at epoch ${epoch + 1}, batch ${b.index + 1}/${steps}${ckpt ? `; continue with --resume ${o.runDir}` : ''}`);
          return { derived, history, generations, alphas: alphaHistory, stopped: true, seconds: elapsed + (performance.now() - runStart) / 1000, evolveSeconds, candidates };
        }
      }
      bar.done();
      const [l, a] = await Promise.all([lossSum.data(), correct.data()]);
      const alphas = await readAlphas(model);
      derived = derive(model.space, alphas, model.steps);
      alphaHistory.push(snapshot(model, alphas, epoch + 1));
      const seconds = (performance.now() - started) / 1000 + evolveTime;
      const record: EgEpoch = {
        epoch: epoch + 1, phase: searching ? 'search' : 'warmup', lr, trainLoss: l[0] / Math.max(1, seen), trainAcc: a[0] / Math.max(1, seen), seconds,
        candidatesPerSec: searching && evolveTime > 0 ? candidatesThisEpoch / evolveTime : null, genotype: describeDerived(derived),
      };
      history.push(record);
      log(`${record.phase} epoch ${record.epoch}/${totalEpochs}  lr ${lr.toPrecision(3)}  train loss ${record.trainLoss.toFixed(4)} acc ${(100 * record.trainAcc).toFixed(1)}%  ${fmtTime(seconds)}` +
        (searching ? `\n  genotype: ${record.genotype}` : ''));
      if (o.runDir) {
        fs!.appendFileSync(path!.join(o.runDir, 'alphas.jsonl'), JSON.stringify(alphaHistory[alphaHistory.length - 1]) + '\n');
        await writeSearchOutputs(o.runDir, model.space, derived, alphaHistory, { epoch: epoch + 1, method: 'eg', describe: o.describe ?? null });
        if (generations.length) writeEvolutionSvg(path!.join(o.runDir, 'evolution.svg'), generations, fs!);
      }
      await save(epoch + 1, false, 0);
      if (stop.due(stepsThisRun) && epoch + 1 < totalEpochs) {
        log(`stopped after epoch ${epoch + 1}; continue with --resume ${o.runDir}`);
        return { derived, history, generations, alphas: alphaHistory, stopped: true, seconds: elapsed + (performance.now() - runStart) / 1000, evolveSeconds, candidates };
      }
    }
  } finally {
    stop.dispose();
    lossSum.release();
    correct.release();
    opt.zeroGrad();
    opt.dispose();
  }
  return { derived, history, generations, alphas: alphaHistory, stopped: false, seconds: elapsed + (performance.now() - runStart) / 1000, evolveSeconds, candidates };
}

/** Best fitness and population diversity per generation. */
function writeEvolutionSvg(file: string, gens: GenerationRecord[], fs: typeof import('node:fs')): void {
  const x = (i: number) => i + 1;
  const fitness = lineChart([
    { name: 'best fitness', points: gens.map((g, i) => [x(i), g.bestFitness]) },
    { name: 'mean fitness', points: gens.map((g, i) => [x(i), g.meanFitness]) },
  ], { title: 'CMA-ES fitness per generation (lower is better)', xLabel: 'generation (all searches, in order)', yLabel: 'fitness', height: 300 });
  const diversity = lineChart([
    { name: 'diversity', points: gens.map((g, i) => [x(i), g.diversity]) },
    { name: 'sigma', points: gens.map((g, i) => [x(i), g.sigma]) },
  ], { title: 'Population diversity (mean distance to centroid) and step size', xLabel: 'generation', yLabel: '', height: 300 });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="600">\n<g>${fitness}</g>\n<g transform="translate(0 300)">${diversity}</g>\n</svg>`;
  writeTextAtomic(fs, file, svg);
}
