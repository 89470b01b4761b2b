// BioNAS-EG (after EG-NAS, as the BioNAS paper describes it) as a search strategy: the alphas
// are evolved by CMA-ES (src/search/optimizers/cmaes.ts) and the weights trained by SGD.
//   - Warm-up: the first `warmupEpochs` of the `epochs` (EG-NAS: 15 of 50) train the weights
//     only, alphas frozen.
//   - Every later epoch has two phases. Evolve: `initialSamples` CMA-ES searches, each from a
//     mean drawn around the current alphas (alpha + meanStep N(0, I)), with step size
//     sigma = max(1 / (epoch + 1), 0.02) (the global epoch index) and `generations`
//     generations (EG-NAS: 1) of `population` candidates; a generation is scored on the next
//     held-out batch with EG-NAS' compound fitness (./eg_fitness.ts). The best candidate over
//     all searches then moves the alphas: alpha <- alpha + eta d_t (eta = stepSize, EG-NAS 0.1;
//     d_t = popMomentum d_{t-1} + softmax of its normalised rows). Train: one epoch of SGD on
//     the weights (cosine lr over all epochs), alphas frozen.
// A generation is one step of the run loop, so a stop or a timed checkpoint inside the
// evolution keeps the CMA-ES state, the best so far and the held-out position. Each generation
// is a record of evolution.jsonl; evolution.svg draws them.

import { scope, type Tensor } from '../../tensor.js';
import { gpu } from '../../gpu/runtime.js';
import { crossEntropy } from '../../ops/loss.js';
import { SGD } from '../../optim/sgd.js';
import { learningRate } from '../../optim/schedule.js';
import { splitmix32 } from '../../data/dataset.js';
import type { Batch } from '../../data/loader.js';
import type { SavedState } from '../../run/state.js';
import { optimizerTensors, restoreOptimizer } from '../../run/checkpoint.js';
import { fmtTime } from '../../run/progress.js';
import { RunningSums, type CarriedSums } from '../../run/sums.js';
import type { JobState, Phase, Position, RunContext } from '../../run/job.js';
import { lineChart, stackCharts } from '../../viz/chart.js';
import { weightUpdate } from '../../train/step.js';
import { CMAES, type CmaesState } from '../optimizers/cmaes.js';
import { frozen } from '../darts.js';
import type { Supernet } from '../supernet.js';
import { readAlphas } from '../outputs.js';
import { runSearch, type SearchOptions, type SearchResult, type SearchRecord } from '../run.js';
import { registerStrategy } from './registry.js';
import { scoreCandidates, candidatesPerPass } from './eg_score.js';
import { compoundFitness, similarity, rowSoftmax, normaliseRows, moveDirection, moveAlphas, spread, egSigma, EG_DIVERSITY_WEIGHT, EG_MIN_SIGMA } from './eg_fitness.js';
import type { SearchConfig, SearchData, SearchMethod, SearchStrategy, StrategyContext, StrategyPreset } from './strategy.js';

export interface EgConfig extends SearchConfig {
  /** All epochs, the warm-up ones included (EG-NAS: 50). */
  epochs: number;
  /** Epochs of weight training only, at the start (EG-NAS: 15). */
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
  /** Generations of each CMA-ES search (EG-NAS: 1). */
  generations: number;
  /** eta: how far the best candidate moves the alphas (EG-NAS step_size 0.1). */
  stepSize: number;
  /** Momentum of the move direction (EG-NAS pop_momentum; 0: none). */
  popMomentum: number;
  /** Weight of the similarity term of the fitness (EG-NAS: 0.4). */
  diversityWeight: number;
  minSigma: number;
  seed: number;
  logEvery: number;
  /** Candidates scored in one supernet pass; 0: as many as fit in scoreMemoryMiB. */
  candidatesPerPass: number;
  /** GPU memory a scoring pass may take when candidatesPerPass is 0. */
  scoreMemoryMiB: number;
}

/** EG-NAS defaults (SPEC 4): 50 epochs of which 15 warm-up, population 50, 3 initial samples, one generation, step 0.1. */
export const EG_SEARCH: StrategyPreset<EgConfig> = {
  epochs: 50, warmupEpochs: 15, batchSize: 256, lr: 0.1, minLr: 0, momentum: 0.9, weightDecay: 3e-4, gradClip: 5,
  population: 50, initialSamples: 3, meanStep: 0.1, generations: 1, stepSize: 0.1, popMomentum: 0,
  diversityWeight: EG_DIVERSITY_WEIGHT, minSigma: EG_MIN_SIGMA, logEvery: 20, candidatesPerPass: 0, scoreMemoryMiB: 4096,
  C: 16, layers: 8, steps: 4,
};

/** A generation, as recorded in evolution.jsonl. */
export interface GenerationRecord {
  epoch: number;
  search: number;
  generation: number;
  bestFitness: number;
  meanFitness: number;
  bestAccuracy: number;
  /** The current architecture's accuracy on the generation's batch (the fitness sign's threshold). */
  currentAccuracy: number;
  bestSimilarity: number;
  /** Mean distance of the candidates from their centroid (population diversity). */
  diversity: number;
  sigma: number;
}

/** An epoch of BioNAS-EG, as recorded in metrics.jsonl and returned by runEgSearch. */
export interface EgEpoch extends SearchRecord {
  phase: 'warmup' | 'search';
  lr: number;
  trainLoss: number;
  trainAcc: number;
  seconds: number;
  candidatesPerSec: number | null;
}

export interface EgResult extends SearchResult<EgEpoch> {
  generations: GenerationRecord[];
  evolveSeconds: number;
  candidates: number;
}

/** The evolution of an epoch while it runs (all plain data, so it checkpoints mid-way). */
interface Evolution {
  sigma: number;
  /** The CMA-ES search in progress. */
  es: CmaesState | null;
  best: { x: number[]; fitness: number } | null;
  /** Where the held-out batches are read: loader epoch key, next batch, refills so far. */
  held: { key: number; next: number; refills: number };
  candidates: number;
  seconds: number;
  passSize: number;
}

function writeAlphas(model: Supernet, x: ArrayLike<number>): void {
  let at = 0;
  for (const a of model.alphas) {
    a.write(Float32Array.from({ length: a.size }, (_, i) => x[at + i]));
    at += a.size;
  }
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

class EgMethod implements SearchMethod {
  private readonly model: Supernet;
  private readonly data: SearchData;
  private readonly c: EgConfig;
  private readonly log: (line: string) => void;
  private readonly weights: Tensor[];
  private readonly opt: SGD;
  private readonly steps: number;
  private readonly pairs: number;
  private readonly sums = new RunningSums(['loss', 'correct']);
  private lr = 0;
  private batches: Generator<Batch> | null = null;
  // Evolution of the current epoch.
  private evo: Evolution | null = null;
  private es: CMAES | null = null;
  private current: Float64Array = new Float64Array(0);
  private currentWeights: Float64Array = new Float64Array(0);
  private heldBatches: Generator<Batch> | null = null;
  private evolveStarted = 0;
  private lastGeneration: GenerationRecord | null = null;
  // Across epochs.
  private direction: number[] | null = null;
  private evolveSeconds = 0;
  private candidates = 0;
  /** The finished evolution of the epoch in progress (for its record). */
  private epochEvolution: { seconds: number; candidates: number } | null = null;

  constructor({ model, data, config, log }: StrategyContext<EgConfig>) {
    const c = config;
    if (!(c.warmupEpochs < c.epochs)) {
      throw new Error(`BioNAS-EG: the ${c.warmupEpochs} warm-up epochs count inside the ${c.epochs} epochs (EG-NAS: 15 of 50), so at least one must be left to search`);
    }
    this.model = model;
    this.data = data;
    this.c = c;
    this.log = log;
    this.weights = model.weightParameters();
    this.opt = new SGD(this.weights, { lr: c.lr, momentum: c.momentum, weightDecay: c.weightDecay });
    this.steps = data.train.length;
    this.pairs = model.alphas[0].shape[model.alphas[0].rank - 1];
    if (this.steps === 0 || data.valid.length === 0) {
      this.close();
      throw new Error(`BioNAS-EG: no full batch of ${c.batchSize} in the train (${data.train.data.count}) or held-out (${data.valid.data.count}) half`);
    }
  }

  private evolving(at: Position): boolean {
    return at.epoch >= this.c.warmupEpochs && at.phase === 0;
  }

  phases(epoch: number): Phase[] {
    const E = this.c.epochs;
    if (epoch < this.c.warmupEpochs) return [{ name: 'warm-up', steps: this.steps, label: `warm-up ${epoch + 1}/${E}` }];
    return [
      { name: 'evolve', steps: this.c.initialSamples * this.c.generations, unit: 'generation', logEvery: 1, label: `evolve ${epoch + 1}/${E}` },
      { name: 'train', steps: this.steps, label: `EG ${epoch + 1}/${E}` },
    ];
  }

  async beginPhase(at: Position): Promise<void> {
    if (this.evolving(at)) return this.beginEvolution(at);
    this.sums.begin();
    this.lr = learningRate({ name: 'cosine', lr: this.c.lr, minLr: this.c.minLr, epochs: this.c.epochs }, at.epoch);
    this.batches = this.data.train.epoch(at.epoch, at.step);
    if (at.epoch < this.c.warmupEpochs) this.epochEvolution = null;
  }

  private async beginEvolution(at: Position): Promise<void> {
    this.current = flatten(await readAlphas(this.model));
    this.currentWeights = rowSoftmax(this.current, this.pairs);
    if (at.step === 0 || !this.evo) {
      const sigma = egSigma(at.epoch, this.c.minSigma);
      this.evo = { sigma, es: null, best: null, held: { key: at.epoch, next: 0, refills: 0 }, candidates: 0, seconds: 0, passSize: 1 };
    }
    this.es = this.evo.es ? CMAES.fromState(this.evo.es) : null;
    this.heldBatches = this.data.valid.epoch(this.evo.held.key, this.evo.held.next);
    this.evolveStarted = performance.now();
  }

  /** The next held-out batch; when the half runs out, a reshuffled pass of it. */
  private nextHeld(epoch: number): Batch {
    const held = this.evo!.held;
    let r = this.heldBatches!.next();
    if (r.done) {
      held.refills++;
      held.key = this.c.epochs + epoch * 1000 + held.refills;
      held.next = 0;
      this.heldBatches = this.data.valid.epoch(held.key);
      r = this.heldBatches.next();
    }
    held.next++;
    return r.value as Batch;
  }

  async step(at: Position, ctx: RunContext): Promise<number> {
    if (this.evolving(at)) return this.generation(at, ctx);
    const b = this.batches!.next().value as Batch;
    scope(() => frozen(this.model.alphas, () => {
      const logits = this.model.forward(b.x);
      weightUpdate(crossEntropy(logits, b.y), logits, b.y, this.weights, this.opt, this.lr, this.c.gradClip, this.sums.t);
    }));
    const n = b.x.shape[0];
    this.sums.seen += n;
    b.x.release();
    b.y.release();
    return n;
  }

  /** Generation g of CMA-ES search k: ask, score, tell, keep the best. */
  private async generation(at: Position, ctx: RunContext): Promise<number> {
    const c = this.c, evo = this.evo!;
    const k = Math.floor(at.step / c.generations), g = at.step % c.generations;
    if (g === 0 || !this.es) {
      const rand = splitmix32((c.seed * 7919 + at.epoch * 131 + k) >>> 0);
      const normal = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
      const mean = this.current.map((v) => v + c.meanStep * normal());
      this.es = new CMAES(mean, evo.sigma, { populationSize: c.population, seed: (c.seed * 104729 + at.epoch * 8191 + k) >>> 0 });
    }
    const es = this.es;
    const batch = this.nextHeld(at.epoch);
    const cands = es.ask();
    // The current architecture alone first: its pass measures what a candidate costs.
    const pool = gpu().pool;
    pool.resetPeak();
    const liveBefore = pool.liveBytes;
    const ref = await scoreCandidates(this.model, [this.current], batch);
    const perPass = candidatesPerPass(c, cands.length, { bytes: pool.peakLiveBytes - liveBefore, largestBuffer: pool.peakBufferBytes },
      gpu().info.limits.maxStorageBufferBindingSize ?? 2 ** 27);
    // A candidate's op weights are the softmax of its normalised rows: score the normalised rows.
    const s = await scoreCandidates(this.model, cands.map((cd) => normaliseRows(cd.x, this.pairs)), batch, perPass);
    const images = batch.x.shape[0] * (cands.length + 1);
    batch.x.release();
    batch.y.release();
    const sims = cands.map((cd) => similarity(cd.x, this.currentWeights, this.pairs));
    const fitness = cands.map((_, i) => compoundFitness(s.loss[i], s.acc[i], ref.acc[0], sims[i], c.diversityWeight));
    es.tell(cands, fitness);
    evo.es = null;
    evo.passSize = perPass;
    evo.candidates += cands.length + 1;
    let bi = 0;
    fitness.forEach((f, i) => (f < fitness[bi] ? (bi = i) : 0));
    if (!evo.best || fitness[bi] < evo.best.fitness) evo.best = { x: Array.from(cands[bi].x), fitness: fitness[bi] };
    const record: GenerationRecord = {
      epoch: at.epoch + 1, search: k, generation: g, bestFitness: fitness[bi], meanFitness: fitness.reduce((a, b) => a + b, 0) / fitness.length,
      bestAccuracy: s.acc[bi], currentAccuracy: ref.acc[0], bestSimilarity: sims[bi], diversity: spread(cands.map((cd) => cd.x)), sigma: es.sigma,
    };
    this.lastGeneration = record;
    ctx.record('evolution', record as unknown as Record<string, unknown>);
    return images;
  }

  async metrics(at: Position): Promise<Record<string, number>> {
    if (this.evolving(at)) {
      const g = this.lastGeneration!;
      return { best: this.evo!.best!.fitness, 'best acc': g.bestAccuracy, 'current acc': g.currentAccuracy, sigma: g.sigma };
    }
    const v = await this.sums.values();
    return { loss: this.sums.mean(v, 'loss'), acc: this.sums.mean(v, 'correct') };
  }

  endPhase(at: Position): void {
    if (!this.evolving(at)) {
      this.batches?.return(undefined);
      this.batches = null;
      return;
    }
    this.heldBatches?.return(undefined);
    this.heldBatches = null;
    const c = this.c, evo = this.evo!;
    const d = moveDirection(evo.best!.x, this.pairs, this.direction, c.popMomentum);
    writeAlphas(this.model, moveAlphas(this.current, d, c.stepSize));
    this.direction = Array.from(d);
    const seconds = evo.seconds + (performance.now() - this.evolveStarted) / 1000;
    this.evolveSeconds += seconds;
    this.candidates += evo.candidates;
    this.epochEvolution = { seconds, candidates: evo.candidates };
    this.log(`evolution ${at.epoch + 1}/${c.epochs}: sigma ${evo.sigma.toPrecision(3)}, best fitness ${evo.best!.fitness.toFixed(4)}, ` +
      `${evo.candidates} candidates in ${fmtTime(seconds)} (${(evo.candidates / Math.max(seconds, 1e-9)).toFixed(1)}/s, ${evo.passSize} per pass); alphas moved by ${c.stepSize} x d`);
    this.evo = null;
    this.es = null;
  }

  async endEpoch(epoch: number, ctx: RunContext): Promise<Record<string, unknown>> {
    const v = await this.sums.values();
    const searching = epoch >= this.c.warmupEpochs;
    const evolution = searching ? this.epochEvolution : null;
    const seconds = this.sums.timing().seconds + (evolution?.seconds ?? 0);
    const record = {
      phase: searching ? 'search' : 'warmup', lr: this.lr, trainLoss: this.sums.mean(v, 'loss'), trainAcc: this.sums.mean(v, 'correct'), seconds,
      candidatesPerSec: evolution && evolution.seconds > 0 ? evolution.candidates / evolution.seconds : null,
    };
    this.epochEvolution = null;
    ctx.log(`${record.phase} epoch ${epoch + 1}/${this.c.epochs}  lr ${this.lr.toPrecision(3)}  train loss ${record.trainLoss.toFixed(4)} acc ${(100 * record.trainAcc).toFixed(1)}%  ${fmtTime(seconds)}`);
    const generations = ctx.history<GenerationRecord>('evolution');
    if (ctx.runDir && generations.length) ctx.writeText('evolution.svg', evolutionSvg(generations));
    return record;
  }

  async state(at: Position): Promise<JobState> {
    const o = optimizerTensors(this.opt);
    const evolving = this.evolving(at) && at.step > 0;
    // Inside an evolution: the CMA-ES search in progress (none between two searches), the best so far, where the held-out batches are.
    const evolution = evolving
      ? { ...this.evo!, es: this.es && at.step % this.c.generations !== 0 ? this.es.state() : null, seconds: this.evo!.seconds + (performance.now() - this.evolveStarted) / 1000 }
      : null;
    return {
      tensors: o.tensors,
      meta: {
        optimizer: o.meta, sums: evolving ? null : await this.sums.carry(at.step), evolution, direction: this.direction, evolveSeconds: this.evolveSeconds, candidates: this.candidates,
        epochEvolution: this.epochEvolution,
      },
    };
  }

  restore(saved: SavedState, meta: Record<string, unknown>): void {
    restoreOptimizer(this.opt, saved, meta.optimizer as Record<string, unknown>);
    this.sums.restore(meta.sums as CarriedSums | null);
    this.evo = meta.evolution as Evolution | null;
    this.direction = meta.direction as number[] | null;
    this.evolveSeconds = meta.evolveSeconds as number;
    this.candidates = meta.candidates as number;
    this.epochEvolution = meta.epochEvolution as EgMethod['epochEvolution'];
  }

  summary(history: <T>(stream: string) => T[]) {
    const rate = this.candidates / Math.max(this.evolveSeconds, 1e-9);
    return {
      fields: { generations: history<GenerationRecord>('evolution'), evolveSeconds: this.evolveSeconds, candidates: this.candidates },
      line: `evolution ${fmtTime(this.evolveSeconds)}, ${this.candidates} candidates scored, ${rate.toFixed(1)}/s`,
    };
  }

  close(): void {
    this.batches?.return(undefined);
    this.heldBatches?.return(undefined);
    this.batches = this.heldBatches = null;
    this.sums.release();
    this.opt.zeroGrad();
    this.opt.dispose();
  }
}

/** Best fitness and population diversity per generation. */
function evolutionSvg(gens: GenerationRecord[]): string {
  const x = (i: number) => i + 1;
  const fitness = lineChart([
    { name: 'best fitness', points: gens.map((g, i) => [x(i), g.bestFitness]) },
    { name: 'mean fitness', points: gens.map((g, i) => [x(i), g.meanFitness]) },
  ], { title: 'CMA-ES fitness per generation (lower is better)', xLabel: 'generation (all searches, in order)', yLabel: 'fitness', height: 300 });
  const diversity = lineChart([
    { name: 'diversity', points: gens.map((g, i) => [x(i), g.diversity]) },
    { name: 'sigma', points: gens.map((g, i) => [x(i), g.sigma]) },
  ], { title: 'Population diversity (mean distance to centroid) and step size', xLabel: 'generation', yLabel: '', height: 300 });
  return stackCharts([{ svg: fitness, height: 300 }, { svg: diversity, height: 300 }]);
}

const flag = (f: Record<string, unknown>, name: string) => f[name] as number | undefined;

export const EG_STRATEGY: SearchStrategy<EgConfig> = registerStrategy<EgConfig>({
  name: 'eg',
  title: 'BioNAS-EG',
  help: 'eg: evolutionary (CMA-ES on the alphas with a compound fitness, then SGD on the weights, per epoch)',
  flags: {
    warmup: { type: 'int', min: 0, help: 'eg: warm-up epochs of the weights with frozen alphas, counted inside --epochs (EG-NAS: 15 of 50)' },
    population: { type: 'int', min: 2, help: 'eg: CMA-ES population per generation (EG-NAS: 50)' },
    samples: { type: 'int', min: 1, help: 'eg: CMA-ES searches per epoch from initial means around the alphas (EG-NAS: 3)' },
    generations: { type: 'int', min: 1, help: 'eg: generations of each CMA-ES search per epoch (EG-NAS: 1)' },
    'eg-step': { type: 'number', min: 0, help: 'eg: eta of the move alpha <- alpha + eta d toward the best candidate (EG-NAS step_size: 0.1)' },
    'eg-momentum': { type: 'number', min: 0, help: 'eg: momentum of the move direction, d_t = m d_{t-1} + d (EG-NAS pop_momentum; default 0)' },
    'candidates-per-pass': { type: 'int', min: 0, help: 'eg: candidates scored side by side in one supernet pass (0: as many as fit in --score-memory)' },
    'score-memory': { type: 'int', min: 1, help: 'eg: MiB of GPU memory a scoring pass may take when --candidates-per-pass is 0 (default 4096)' },
  },
  presets: {
    darts: EG_SEARCH,
    bionas: EG_SEARCH,
    tiny: { ...EG_SEARCH, epochs: 3, warmupEpochs: 1, batchSize: 16, C: 4, layers: 3, steps: 2, population: 8, initialSamples: 2, generations: 1, logEvery: 2 },
  },
  streams: ['evolution'],
  configure: (p, f, seed) => ({
    ...p,
    warmupEpochs: flag(f, 'warmup') ?? p.warmupEpochs,
    population: flag(f, 'population') ?? p.population,
    initialSamples: flag(f, 'samples') ?? p.initialSamples,
    generations: flag(f, 'generations') ?? p.generations,
    stepSize: flag(f, 'eg-step') ?? p.stepSize,
    popMomentum: flag(f, 'eg-momentum') ?? p.popMomentum,
    candidatesPerPass: flag(f, 'candidates-per-pass') ?? p.candidatesPerPass,
    scoreMemoryMiB: flag(f, 'score-memory') ?? p.scoreMemoryMiB,
    seed,
  }),
  describe: (c) => `${c.epochs} epochs (${c.warmupEpochs} of them warm-up), population ${c.population} x ${c.initialSamples} searches x ` +
    `${c.generations} generation${c.generations === 1 ? '' : 's'}, step ${c.stepSize}${c.popMomentum ? `, momentum ${c.popMomentum}` : ''}`,
  resumable: ['candidatesPerPass', 'scoreMemoryMiB'],
  create: (ctx) => new EgMethod(ctx),
});

/** BioNAS-EG on `model` (see runSearch for what is written and how a stop resumes). */
export function runEgSearch(model: Supernet, data: SearchData, c: EgConfig, o: SearchOptions): Promise<EgResult> {
  return runSearch(EG_STRATEGY, model, data, c, o) as Promise<EgResult>;
}
