// G-ICSO-NAS (Du et al., SPEC 9) as a search strategy: three phases over the supernet, chosen
// epoch by epoch by a controller of measured signals (./gicso_phases.ts), not by fixed counts.
//   - warm-up: SGD on the weights, alphas frozen.
//   - exploration: a competitive swarm (CSO or L-ICSO, src/search/optimizers/cso.ts) of alpha
//     vectors. Every `generationEvery` weight steps one generation: the swarm moves, all its
//     particles are scored side by side in one batched pass of the supernet on the next held-out
//     batch (eg_score.ts) with the diversity-aware fitness (./gicso_fitness.ts), the best particle
//     of the generation becomes the alphas; then an SGD step on the weights (alphas frozen).
//   - stability: BioNAS-DARTS' bi-level steps (an Adam step on the alphas on a held-out batch,
//     an SGD step on the weights), stopped early by a validation-loss plateau.
// How a generation's particles are scored together: ./gicso_swarm.ts.
// A generation is a step of the run loop: a stop or a timed checkpoint mid-exploration keeps
// the swarm, the controller and the held-out position, so a resumed run equals an uninterrupted
// one. Streams: 'swarm' (a record per generation), 'phases' (each switch with its reason);
// drawings: phases.svg (the timeline), swarm.svg (fitness and diversity per generation).

import { scope, type Tensor } from '../../tensor.js';
import { crossEntropy } from '../../ops/loss.js';
import { splitmix32 } from '../../data/dataset.js';
import type { Batch } from '../../data/loader.js';
import type { SavedState } from '../../run/state.js';
import { optimizerTensors, restoreOptimizer } from '../../run/checkpoint.js';
import { fmtTime } from '../../run/progress.js';
import { RunningSums, type CarriedSums } from '../../run/sums.js';
import type { JobState, Phase, Position, RunContext } from '../../run/job.js';
import type { SGD } from '../../optim/sgd.js';
import type { Adam } from '../../optim/adam.js';
import { lineChart, stackCharts } from '../../viz/chart.js';
import { weightUpdate } from '../../train/step.js';
import { CSO, ICSO, CSO_PHI, ICSO_PHI, ICSO_MIN_PARTICLES, type SwarmState } from '../optimizers/cso.js';
import { frozen, searchStep, makeOptimizers, searchLr, DARTS_SEARCH, BIONAS_SEARCH, type DartsConfig } from '../darts.js';
import type { Supernet } from '../supernet.js';
import { readAlphas } from '../outputs.js';
import { runSearch, type SearchOptions, type SearchResult, type SearchRecord } from '../run.js';
import { registerStrategy } from './registry.js';
import { scoreCandidates } from './eg_score.js';
import { swarmSpread, GICSO_DIVERSITY_WEIGHT } from './gicso_fitness.js';
import { swarmGeneration } from './gicso_swarm.js';
import {
  initialPhaseState, observeGeneration, endEpochSignals, checkPhaseConfig, GICSO_STALL_GENERATIONS, GICSO_STALL_MIN_DELTA,
  GICSO_DIVERSITY_THRESHOLD, GICSO_PLATEAU_PATIENCE, GICSO_PLATEAU_MIN_DELTA,
  type GicsoPhase, type PhaseControllerConfig, type PhaseControllerState, type PhaseSwitch,
} from './gicso_phases.js';
import type { SearchData, SearchMethod, SearchStrategy, StrategyContext, StrategyPreset } from './strategy.js';

/** bionas choice (flag --swarm-size): particles of the swarm (SPEC 9: not published; EG-NAS scores 50 candidates a generation). */
export const GICSO_SWARM_SIZE = 20;
/** bionas choice (flag --swarm-std): std of the initial particles around the current alphas (particle 0 is the alphas themselves). */
export const GICSO_SWARM_INIT_STD = 0.5;
/** bionas choice (flag --generation-every): weight steps per swarm generation in exploration. */
export const GICSO_GENERATION_EVERY = 1;
/** bionas choice (flag --signal-batches): fixed held-out batches on which each epoch's validation loss (the plateau signal) is measured. */
export const GICSO_SIGNAL_BATCHES = 4;
/** The loader epoch key of those fixed batches (any key: the same batches every epoch). */
const SIGNAL_KEY = 0x51a1;

export interface GicsoConfig extends DartsConfig {
  swarmSize: number;
  optimizer: 'cso' | 'icso';
  /** CSO/L-ICSO's social factor (Cheng & Jin: 0 to 0.2; L-ICSO 0.15). */
  phi: number;
  swarmStd: number;
  /** lambda of the diversity-aware fitness (0: plain cross-entropy). */
  diversityWeight: number;
  rescore: boolean;
  generationEvery: number;
  signalBatches: number;
  /** Particles per scoring pass (0: the whole swarm in one pass). */
  candidatesPerPass: number;
  stallGenerations: number;
  stallMinDelta: number;
  diversityThreshold: number;
  plateauPatience: number;
  plateauMinDelta: number;
  warmupEpochs: [number, number];
  explorationEpochs: [number, number];
  stabilityEpochs: [number, number];
  reexplore: boolean;
}

/** A swarm generation, as recorded in swarm.jsonl. */
export interface SwarmRecord {
  epoch: number;
  /** The exploration it belongs to (1, 2 ... when stability hands back to exploration). */
  exploration: number;
  generation: number;
  particles: number;
  bestFitness: number;
  meanFitness: number;
  /** Cross-entropy and accuracy of the generation's best particle on its batch. */
  bestLoss: number;
  bestAccuracy: number;
  /** Mean distance of the scored particles from the swarm (the fitness' diversity term before lambda). */
  meanDistance: number;
  /** Mean distance of the particles from their centroid in alpha space, and as a fraction of the initial one. */
  diversity: number;
  relativeDiversity: number;
}

/** An epoch, as recorded in metrics.jsonl. */
export interface GicsoEpoch extends SearchRecord {
  phase: GicsoPhase;
  lr: number;
  trainLoss: number;
  trainAcc: number;
  /** Loss on the fixed signal batches after the epoch (the plateau signal). */
  signalLoss: number;
  generations: number;
  seconds: number;
  imagesPerSec: number;
  /** The phase of the next epoch, and why it changed (null: it did not). */
  next: GicsoPhase;
  switchReason: string | null;
}

export interface GicsoResult extends SearchResult<GicsoEpoch> {
  generations: SwarmRecord[];
  switches: PhaseSwitch[];
}

interface Swarm {
  state: SwarmState;
  initialSpread: number;
  generations: number;
}

type Optimiser = CSO | ICSO;

function flatten(parts: Float32Array[]): number[] {
  return parts.flatMap((p) => Array.from(p));
}

function writeAlphas(model: Supernet, x: ArrayLike<number>): void {
  let at = 0;
  for (const a of model.alphas) {
    a.write(Float32Array.from({ length: a.size }, (_, i) => x[at + i]));
    at += a.size;
  }
}

export function phaseControllerConfig(c: GicsoConfig): PhaseControllerConfig {
  const b = ([min, max]: [number, number]) => ({ min, max });
  return {
    epochs: c.epochs, stallGenerations: c.stallGenerations, stallMinDelta: c.stallMinDelta, diversityThreshold: c.diversityThreshold,
    plateauPatience: c.plateauPatience, plateauMinDelta: c.plateauMinDelta,
    warmup: b(c.warmupEpochs), exploration: b(c.explorationEpochs), stability: b(c.stabilityEpochs), reexplore: c.reexplore,
  };
}

class GicsoMethod implements SearchMethod {
  private readonly model: Supernet;
  private readonly data: SearchData;
  private readonly c: GicsoConfig;
  private readonly pc: PhaseControllerConfig;
  private readonly wOpt: SGD;
  private readonly aOpt: Adam;
  private readonly weights: Tensor[];
  private readonly pairs: number;
  private readonly sums = new RunningSums(['trainLoss', 'trainCorrect', 'validLoss', 'validCorrect'] as const);
  private lr = 0;
  private trainBatches: Generator<Batch> | null = null;
  private validBatches: Generator<Batch> | null = null;
  private heldBatches: Generator<Batch> | null = null;
  // Carried in checkpoints.
  private ctl: PhaseControllerState = initialPhaseState();
  private swarm: Swarm | null = null;
  private held = { key: 0, next: 0, refills: 0 };
  private last: SwarmRecord | null = null;
  private epochGenerations = 0;
  private images = 0;
  // This process only (timing).
  private imagesAtStart = 0;
  private started = 0;

  constructor({ model, data, config }: StrategyContext<GicsoConfig>) {
    const c = config;
    this.pc = phaseControllerConfig(c);
    checkPhaseConfig(this.pc);
    if (c.optimizer === 'cso' && !(c.swarmSize >= 2 && c.swarmSize % 2 === 0)) throw new Error(`G-ICSO: CSO pairs its particles, so --swarm-size must be even and >= 2, got ${c.swarmSize}`);
    if (c.optimizer === 'icso' && !(c.swarmSize >= 3)) throw new Error(`G-ICSO: L-ICSO groups its particles in threes, so --swarm-size must be >= 3, got ${c.swarmSize}`);
    this.model = model;
    this.data = data;
    this.c = c;
    ({ wOpt: this.wOpt, aOpt: this.aOpt } = makeOptimizers(model, c));
    this.weights = model.weightParameters();
    this.pairs = model.alphas[0].shape[model.alphas[0].rank - 1];
    if (Math.min(data.train.length, data.valid.length) < 1) {
      this.close();
      throw new Error(`G-ICSO: no full batch of ${c.batchSize} in the train (${data.train.data.count}) or held-out (${data.valid.data.count}) half`);
    }
  }

  private get phase(): GicsoPhase {
    return this.ctl.phase;
  }

  phases(epoch: number): Phase[] {
    const E = this.c.epochs, label = (n: string) => `${n} ${epoch + 1}/${E}`;
    const train = this.data.train.length;
    switch (this.phase) {
      case 'warmup': return [{ name: 'warm-up', steps: train, label: label('warm-up') }];
      case 'exploration': return [{ name: 'explore', steps: train, label: label('explore') }];
      case 'stability': return [{ name: 'stability', steps: Math.min(train, this.data.valid.length), label: label('stability') }];
      case 'done': return [];
    }
  }

  beginPhase(at: Position): void {
    this.sums.begin();
    this.lr = searchLr(this.c, at.epoch);
    this.trainBatches = this.data.train.epoch(at.epoch, at.step);
    if (this.phase === 'stability') this.validBatches = this.data.valid.epoch(at.epoch, at.step);
    if (this.phase === 'exploration') {
      if (at.step === 0) this.held = { key: at.epoch, next: 0, refills: 0 };
      this.heldBatches = this.data.valid.epoch(this.held.key, this.held.next);
    }
    if (at.step === 0) {
      this.epochGenerations = 0;
      this.images = 0;
    }
    this.imagesAtStart = this.images;
    this.started = performance.now();
  }

  /** The next held-out batch of the exploration; when the half runs out, a reshuffled pass of it. */
  private nextHeld(epoch: number): Batch {
    let r = this.heldBatches!.next();
    if (r.done) {
      this.held.refills++;
      this.held.key = this.c.epochs + epoch * 1000 + this.held.refills;
      this.held.next = 0;
      this.heldBatches = this.data.valid.epoch(this.held.key);
      r = this.heldBatches.next();
    }
    this.held.next++;
    return r.value as Batch;
  }

  async step(at: Position, ctx: RunContext): Promise<number> {
    let images = 0;
    if (this.phase === 'exploration' && at.step % this.c.generationEvery === 0) images += await this.generation(at, ctx);
    const train = this.trainBatches!.next().value as Batch;
    const n = train.x.shape[0];
    if (this.phase === 'stability') {
      const valid = this.validBatches!.next().value as Batch;
      await searchStep(this.model, train, valid, this.c, this.lr, this.wOpt, this.aOpt, this.sums.t);
      valid.x.release();
      valid.y.release();
      images += 2 * n;
    } else {
      scope(() => frozen(this.model.alphas, () => {
        const logits = this.model.forward(train.x);
        weightUpdate(crossEntropy(logits, train.y), logits, train.y, this.weights, this.wOpt, this.lr, this.c.gradClip, { loss: this.sums.t.trainLoss, correct: this.sums.t.trainCorrect });
      }));
      images += n;
    }
    train.x.release();
    train.y.release();
    this.sums.seen += n;
    this.images += images;
    return images;
  }

  /** A new swarm around the current alphas: particle 0 is the alphas, the others alpha + std N(0, I). */
  private async newSwarm(): Promise<Swarm> {
    const c = this.c;
    const current = flatten(await readAlphas(this.model));
    const seed = (c.seed * 7919 + this.ctl.explorations * 104729) >>> 0;
    const rand = splitmix32(seed);
    const normal = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
    const positions = Array.from({ length: c.swarmSize }, (_, i) => (i === 0 ? current : current.map((v) => v + c.swarmStd * normal())));
    const opt: Optimiser = c.optimizer === 'cso'
      ? new CSO(current.length, { particles: c.swarmSize, phi: c.phi, positions, seed })
      : new ICSO(current.length, {
        positions, seed, phi: c.phi, maxParticles: c.swarmSize, minParticles: Math.min(ICSO_MIN_PARTICLES, c.swarmSize),
        // Enough evaluations for the longest exploration, so the population shrinks over it.
        budget: c.swarmSize * (1 + Math.ceil(this.data.train.length / c.generationEvery) * c.explorationEpochs[1]),
      });
    return { state: opt.state(), initialSpread: swarmSpread(positions), generations: 0 };
  }

  /** One generation: move the swarm, score it in one batched pass, set the alphas to its best particle. */
  private async generation(at: Position, ctx: RunContext): Promise<number> {
    const c = this.c;
    if (!this.swarm) this.swarm = await this.newSwarm();
    const sw = this.swarm;
    const batch = this.nextHeld(at.epoch);
    const g = await swarmGeneration(sw.state, (xs) => scoreCandidates(this.model, xs, batch, c.candidatesPerPass > 0 ? Math.min(c.candidatesPerPass, xs.length) : xs.length),
      { rescore: c.rescore, diversityWeight: c.diversityWeight, cols: this.pairs });
    const images = batch.x.shape[0] * g.scored.length;
    batch.x.release();
    batch.y.release();
    const st = (sw.state = g.state);
    sw.generations++;
    this.epochGenerations++;
    let bi = 0;
    st.f.forEach((f, i) => (f < st.f[bi] ? (bi = i) : 0));
    writeAlphas(this.model, st.x[bi]);
    const k = g.scored.findIndex((x) => x.every((v, i) => v === st.x[bi][i]));
    const diversity = swarmSpread(st.x);
    const record: SwarmRecord = {
      epoch: at.epoch + 1, exploration: this.ctl.explorations, generation: sw.generations, particles: st.x.length,
      bestFitness: st.f[bi], meanFitness: st.f.reduce((a, b) => a + b, 0) / st.f.length,
      bestLoss: k < 0 ? NaN : g.loss[k], bestAccuracy: k < 0 ? NaN : g.acc[k],
      meanDistance: g.distance.reduce((a, b) => a + b, 0) / g.distance.length,
      diversity, relativeDiversity: sw.initialSpread > 0 ? diversity / sw.initialSpread : 0,
    };
    this.last = record;
    this.ctl = observeGeneration(this.ctl, { bestFitness: record.bestFitness, diversity: record.relativeDiversity }, this.pc);
    ctx.record('swarm', record as unknown as Record<string, unknown>);
    return images;
  }

  private async means() {
    const v = await this.sums.values(), m = (k: keyof typeof v) => this.sums.mean(v, k);
    return { trainLoss: m('trainLoss'), trainAcc: m('trainCorrect'), validLoss: m('validLoss'), validAcc: m('validCorrect') };
  }

  async metrics(): Promise<Record<string, number>> {
    const s = await this.means();
    const out: Record<string, number> = { loss: s.trainLoss, acc: s.trainAcc };
    if (this.phase === 'stability') Object.assign(out, { 'val loss': s.validLoss, 'val acc': s.validAcc });
    if (this.phase === 'exploration' && this.last) Object.assign(out, { best: this.last.bestFitness, diversity: this.last.relativeDiversity });
    return out;
  }

  endPhase(): void {
    for (const g of [this.trainBatches, this.validBatches, this.heldBatches]) g?.return(undefined);
    this.trainBatches = this.validBatches = this.heldBatches = null;
  }

  /** Mean loss of the current alphas on the fixed signal batches. */
  private async signalLoss(): Promise<number> {
    const alphas = flatten(await readAlphas(this.model));
    const it = this.data.valid.epoch(SIGNAL_KEY);
    let total = 0, n = 0;
    for (let b = 0; b < Math.min(this.c.signalBatches, this.data.valid.length); b++) {
      const batch = it.next().value as Batch;
      const s = await scoreCandidates(this.model, [alphas], batch);
      total += s.loss[0];
      n++;
      batch.x.release();
      batch.y.release();
    }
    it.return(undefined);
    return total / n;
  }

  async endEpoch(epoch: number, ctx: RunContext): Promise<Record<string, unknown>> {
    const phase = this.phase;
    if (phase === 'done') {
      // The search ended early: nothing ran, nothing changes.
      const record: Omit<GicsoEpoch, 'genotype'> = {
        epoch: epoch + 1, phase, lr: 0, trainLoss: NaN, trainAcc: NaN, signalLoss: NaN, generations: 0, seconds: 0, imagesPerSec: 0, next: 'done', switchReason: null,
      };
      return record;
    }
    const s = await this.means();
    const seconds = (performance.now() - this.started) / 1000;
    const imagesPerSec = (this.images - this.imagesAtStart) / Math.max(seconds, 1e-9);
    const signalLoss = await this.signalLoss();
    const { state, switched } = endEpochSignals(this.ctl, { epoch, validLoss: signalLoss }, this.pc);
    this.ctl = state;
    if (switched) {
      if (switched.from === 'exploration') this.swarm = null;
      ctx.record('phases', switched as unknown as Record<string, unknown>);
      ctx.log(`phase switch after epoch ${switched.epoch}: ${switched.from} -> ${switched.to} (${switched.reason})`);
    }
    const record: Omit<GicsoEpoch, 'genotype'> = {
      epoch: epoch + 1, phase, lr: this.lr, trainLoss: s.trainLoss, trainAcc: s.trainAcc, signalLoss, generations: this.epochGenerations,
      seconds, imagesPerSec, next: state.phase, switchReason: switched?.reason ?? null,
      ...(phase === 'stability' ? { validLoss: s.validLoss, validAcc: s.validAcc } : {}),
    };
    ctx.log(`${phase} epoch ${epoch + 1}/${this.c.epochs}  lr ${this.lr.toPrecision(3)}  train loss ${s.trainLoss.toFixed(4)} acc ${(100 * s.trainAcc).toFixed(1)}%  ` +
      `signal loss ${signalLoss.toFixed(4)}${this.epochGenerations ? `  ${this.epochGenerations} generations` : ''}  ${Math.round(imagesPerSec)} img/s  ${fmtTime(seconds)}`);
    if (ctx.runDir) {
      const epochs = [...ctx.history<GicsoEpoch>('metrics'), record as GicsoEpoch];
      ctx.writeText('phases.svg', phasesSvg(epochs, ctx.history<PhaseSwitch>('phases')));
      const gens = ctx.history<SwarmRecord>('swarm');
      if (gens.length) ctx.writeText('swarm.svg', swarmSvg(gens));
    }
    return record;
  }

  async state(at: Position): Promise<JobState> {
    const w = optimizerTensors(this.wOpt, 'wOpt'), a = optimizerTensors(this.aOpt, 'aOpt');
    return {
      tensors: [...w.tensors, ...a.tensors],
      meta: {
        wOpt: w.meta, aOpt: a.meta, sums: await this.sums.carry(at.step), controller: this.ctl, swarm: this.swarm, held: this.held,
        last: this.last, epochGenerations: this.epochGenerations, images: this.images,
      },
    };
  }

  restore(saved: SavedState, meta: Record<string, unknown>): void {
    restoreOptimizer(this.wOpt, saved, meta.wOpt as Record<string, unknown>, 'wOpt');
    restoreOptimizer(this.aOpt, saved, meta.aOpt as Record<string, unknown>, 'aOpt');
    this.sums.restore(meta.sums as CarriedSums | null);
    this.ctl = meta.controller as PhaseControllerState;
    this.swarm = meta.swarm as Swarm | null;
    this.held = meta.held as GicsoMethod['held'];
    this.last = meta.last as SwarmRecord | null;
    this.epochGenerations = meta.epochGenerations as number;
    this.images = meta.images as number;
  }

  summary(history: <T>(stream: string) => T[]) {
    const epochs = history<GicsoEpoch>('metrics');
    const switches = history<PhaseSwitch>('phases');
    const count = (p: GicsoPhase) => epochs.filter((e) => e.phase === p).length;
    const timeline = (['warmup', 'exploration', 'stability'] as const).map((p) => `${p} ${count(p)}`).join(', ');
    return {
      fields: { generations: history<SwarmRecord>('swarm'), switches },
      line: `phases (epochs): ${timeline}; switches: ${switches.map((s) => `after epoch ${s.epoch} ${s.from} -> ${s.to} (${s.signal})`).join('; ') || 'none'}`,
    };
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

const PHASE_LEVEL: Record<GicsoPhase, number> = { warmup: 0, exploration: 1, stability: 2, done: 3 };

/** The phase timeline (0 warm-up, 1 exploration, 2 stability, 3 done) and the signal loss per epoch. */
export function phasesSvg(epochs: GicsoEpoch[], switches: PhaseSwitch[]): string {
  const timeline = lineChart([{ name: 'phase', points: epochs.flatMap((e): [number, number][] => [[e.epoch - 1, PHASE_LEVEL[e.phase]], [e.epoch, PHASE_LEVEL[e.phase]]]) }],
    { title: `Phases (0 warm-up, 1 exploration, 2 stability, 3 done); switches: ${switches.map((s) => `${s.epoch} ${s.signal}`).join(', ') || 'none'}`, xLabel: 'epoch', yLabel: 'phase', height: 240 });
  const loss = lineChart([
    { name: 'signal loss', points: epochs.map((e) => [e.epoch, e.signalLoss]) },
    { name: 'train loss', points: epochs.filter((e) => e.phase !== 'done').map((e) => [e.epoch, e.trainLoss]) },
  ], { title: 'Validation loss on the fixed signal batches, and training loss, per epoch', xLabel: 'epoch', yLabel: 'loss', height: 300 });
  return stackCharts([{ svg: timeline, height: 240 }, { svg: loss, height: 300 }]);
}

/** Best and mean fitness, and the swarm's relative diversity, per generation. */
export function swarmSvg(gens: SwarmRecord[]): string {
  const x = (i: number) => i + 1;
  const fitness = lineChart([
    { name: 'best fitness', points: gens.map((g, i) => [x(i), g.bestFitness]) },
    { name: 'mean fitness', points: gens.map((g, i) => [x(i), g.meanFitness]) },
  ], { title: 'Swarm fitness per generation (lower is better)', xLabel: 'generation (all explorations, in order)', yLabel: 'fitness', height: 300 });
  const diversity = lineChart([
    { name: 'diversity / initial', points: gens.map((g, i) => [x(i), g.relativeDiversity]) },
    { name: 'mean distance', points: gens.map((g, i) => [x(i), g.meanDistance]) },
  ], { title: 'Swarm diversity (spread relative to the initial one) and mean fitness distance', xLabel: 'generation', yLabel: '', height: 300 });
  return stackCharts([{ svg: fitness, height: 300 }, { svg: diversity, height: 300 }]);
}

/** What every preset shares: the controller and swarm defaults. */
const GICSO_DEFAULTS = {
  swarmSize: GICSO_SWARM_SIZE, optimizer: 'icso' as const, phi: ICSO_PHI, swarmStd: GICSO_SWARM_INIT_STD, diversityWeight: GICSO_DIVERSITY_WEIGHT,
  rescore: true, generationEvery: GICSO_GENERATION_EVERY, signalBatches: GICSO_SIGNAL_BATCHES, candidatesPerPass: 0,
  stallGenerations: GICSO_STALL_GENERATIONS, stallMinDelta: GICSO_STALL_MIN_DELTA, diversityThreshold: GICSO_DIVERSITY_THRESHOLD,
  plateauPatience: GICSO_PLATEAU_PATIENCE, plateauMinDelta: GICSO_PLATEAU_MIN_DELTA, reexplore: true, secondOrder: false,
};

/** The DARTS and BioNAS presets: their schedules, 50 epochs; phase bounds a bionas choice (warm-up 15 at most, as EG-NAS' fixed 15). */
const FULL = {
  ...GICSO_DEFAULTS, warmupEpochs: [5, 15] as [number, number], explorationEpochs: [5, 25] as [number, number], stabilityEpochs: [3, 15] as [number, number], generationEvery: 10,
};

export const GICSO_SEARCH: StrategyPreset<GicsoConfig> = { ...DARTS_SEARCH, ...FULL };

const PRESETS: Record<string, StrategyPreset<GicsoConfig>> = {
  darts: GICSO_SEARCH,
  bionas: { ...BIONAS_SEARCH, ...FULL },
  // The CPU demo (as darts' and eg's tiny): 3 cells of 2 nodes, batch 16; 3 epochs, one per phase at least.
  tiny: {
    ...DARTS_SEARCH, ...GICSO_DEFAULTS, epochs: 3, batchSize: 16, C: 4, layers: 3, steps: 2, logEvery: 2, swarmSize: 6, stallGenerations: 4,
    warmupEpochs: [1, 2], explorationEpochs: [1, 3], stabilityEpochs: [1, 3],
  },
};

const num = (f: Record<string, unknown>, name: string) => f[name] as number | undefined;
const bounds = (f: Record<string, unknown>, name: string, d: [number, number]): [number, number] => [num(f, `min-${name}`) ?? d[0], num(f, `max-${name}`) ?? d[1]];

export const GICSO_STRATEGY: SearchStrategy<GicsoConfig> = registerStrategy<GicsoConfig>({
  name: 'gicso',
  title: 'G-ICSO-NAS',
  help: 'gicso: warm-up, competitive-swarm exploration of the alphas with a diversity-aware fitness, DARTS stability phase; switched by measured signals',
  flags: {
    'swarm-size': { type: 'int', min: 2, help: `gicso: particles of the swarm (bionas choice: ${GICSO_SWARM_SIZE}; tiny 6)` },
    optimizer: { type: 'string', choices: ['cso', 'icso'], help: 'gicso: swarm optimiser: cso (Cheng & Jin 2015, pairs) or icso (L-ICSO: triples, shrinking population; default)' },
    phi: { type: 'number', min: 0, help: `gicso: social factor (pull toward the swarm mean); default ${ICSO_PHI} for icso (L-ICSO), ${CSO_PHI} for cso` },
    'swarm-std': { type: 'number', min: 0, help: `gicso: std of the initial particles around the alphas (bionas choice: ${GICSO_SWARM_INIT_STD})` },
    'diversity-weight': { type: 'number', min: 0, help: `gicso: lambda of fitness = CE - lambda * distance from the swarm (bionas choice: ${GICSO_DIVERSITY_WEIGHT}; 0 switches it off)` },
    rescore: { type: 'bool', default: true, help: 'gicso: re-score the winners of each generation with the learners (bionas choice: on; --no-rescore keeps their old fitness)' },
    'generation-every': { type: 'int', min: 1, help: 'gicso: weight steps per swarm generation in exploration (bionas choice: 1 tiny, 10 darts/bionas)' },
    'signal-batches': { type: 'int', min: 1, help: `gicso: fixed held-out batches for the per-epoch validation loss (bionas choice: ${GICSO_SIGNAL_BATCHES})` },
    'particles-per-pass': { type: 'int', min: 0, help: 'gicso: particles scored side by side in one supernet pass (0: the whole swarm)' },
    'stall-generations': { type: 'int', min: 1, help: `gicso: generations without a better best fitness that end exploration (bionas choice: ${GICSO_STALL_GENERATIONS}; tiny 4)` },
    'stall-delta': { type: 'number', min: 0, help: `gicso: decrease of the best fitness that counts as better (bionas choice: ${GICSO_STALL_MIN_DELTA})` },
    'diversity-threshold': { type: 'number', min: 0, help: `gicso: exploration ends when the swarm's spread falls under this fraction of its initial spread (bionas choice: ${GICSO_DIVERSITY_THRESHOLD})` },
    'plateau-patience': { type: 'int', min: 1, help: `gicso: epochs without a validation-loss decrease that make a plateau (bionas choice: ${GICSO_PLATEAU_PATIENCE})` },
    'plateau-delta': { type: 'number', min: 0, help: `gicso: validation-loss decrease that counts as an improvement (bionas choice: ${GICSO_PLATEAU_MIN_DELTA})` },
    'min-warmup': { type: 'int', min: 1, help: 'gicso: fewest warm-up epochs (bionas choice: 5; tiny 1)' },
    'max-warmup': { type: 'int', min: 1, help: 'gicso: most warm-up epochs (bionas choice: 15, EG-NAS\' fixed warm-up; tiny 2)' },
    'min-exploration': { type: 'int', min: 1, help: 'gicso: fewest epochs of an exploration (bionas choice: 5; tiny 1)' },
    'max-exploration': { type: 'int', min: 1, help: 'gicso: most epochs of an exploration (bionas choice: 25; tiny 3)' },
    'min-stability': { type: 'int', min: 1, help: 'gicso: fewest epochs of a stability phase (bionas choice: 3; tiny 1)' },
    'max-stability': { type: 'int', min: 1, help: 'gicso: most epochs of a stability phase (bionas choice: 15; tiny 3)' },
    reexplore: { type: 'bool', default: true, help: 'gicso: after stability\'s early stopping, explore again if epochs remain (bionas choice: on)' },
    'arch-lr': { type: 'number', min: 0, help: 'darts, gicso: Adam learning rate of the alphas (gicso: in its stability phase) (DARTS: 3e-4)' },
  },
  presets: PRESETS,
  streams: ['swarm', 'phases'],
  resumable: ['candidatesPerPass'],
  configure: (p, f, seed) => {
    const optimizer = (f.optimizer as 'cso' | 'icso' | undefined) ?? p.optimizer;
    return {
      ...p, optimizer, seed,
      swarmSize: num(f, 'swarm-size') ?? p.swarmSize,
      phi: num(f, 'phi') ?? (optimizer === p.optimizer ? p.phi : optimizer === 'cso' ? CSO_PHI : ICSO_PHI),
      swarmStd: num(f, 'swarm-std') ?? p.swarmStd,
      diversityWeight: num(f, 'diversity-weight') ?? p.diversityWeight,
      rescore: (f.rescore as boolean | undefined) ?? p.rescore,
      generationEvery: num(f, 'generation-every') ?? p.generationEvery,
      signalBatches: num(f, 'signal-batches') ?? p.signalBatches,
      candidatesPerPass: num(f, 'particles-per-pass') ?? p.candidatesPerPass,
      stallGenerations: num(f, 'stall-generations') ?? p.stallGenerations,
      stallMinDelta: num(f, 'stall-delta') ?? p.stallMinDelta,
      diversityThreshold: num(f, 'diversity-threshold') ?? p.diversityThreshold,
      plateauPatience: num(f, 'plateau-patience') ?? p.plateauPatience,
      plateauMinDelta: num(f, 'plateau-delta') ?? p.plateauMinDelta,
      warmupEpochs: bounds(f, 'warmup', p.warmupEpochs),
      explorationEpochs: bounds(f, 'exploration', p.explorationEpochs),
      stabilityEpochs: bounds(f, 'stability', p.stabilityEpochs),
      reexplore: (f.reexplore as boolean | undefined) ?? p.reexplore,
      archLr: num(f, 'arch-lr') ?? p.archLr,
    };
  },
  describe: (c) => `${c.epochs} epochs at most; ${c.optimizer} swarm of ${c.swarmSize} (phi ${c.phi}, diversity weight ${c.diversityWeight}), a generation every ${c.generationEvery} steps; ` +
    `warm-up ${c.warmupEpochs.join('-')}, exploration ${c.explorationEpochs.join('-')}, stability ${c.stabilityEpochs.join('-')} epochs; stall ${c.stallGenerations} generations, ` +
    `diversity < ${c.diversityThreshold}, plateau ${c.plateauPatience} epochs`,
  create: (ctx) => new GicsoMethod(ctx),
});

/** G-ICSO-NAS on `model` (see runSearch for what is written and how a stop resumes). */
export function runGicsoSearch(model: Supernet, data: SearchData, c: GicsoConfig, o: SearchOptions): Promise<GicsoResult> {
  return runSearch(GICSO_STRATEGY, model, data, c, o) as Promise<GicsoResult>;
}
