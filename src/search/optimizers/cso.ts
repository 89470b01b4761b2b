// Competitive swarm optimisers of real vectors (SPEC 9), minimising a fitness:
// - CSO (Cheng & Jin 2015): the swarm is paired at random each generation; the winner of a
//   pair passes unchanged, the loser learns from the winner and the swarm mean; only losers
//   are re-evaluated (m/2 evaluations a generation, after m for the initial swarm).
// - ICSO (the L-ICSO of SPEC 9): triples instead of pairs, the middle and the worst learn,
//   and the population shrinks linearly with the evaluations used (L-SHADE style).
// The state is plain data (a checkpoint) with the generator's state, so a run stopped,
// serialised, restored and continued equals an uninterrupted one bit for bit.
// Random draws, in order (a test can inject them through `random`): the shuffle that groups
// the swarm (Fisher-Yates from the last index down, m - 1 draws), then per group what the
// group's learners need (see each class).

/** CSO's social factor phi: the paper's guidance is phi = 0 for D <= 100 up to 0.1-0.2 for
 * larger D; 0.1 is our middle choice for D <= 500 (SPEC 9 allows 0 to 0.2). */
export const CSO_PHI = 0.1;
/** CSO's swarm size: our default (the paper uses 100 to 1000 for D 100 to 5000). */
export const CSO_PARTICLES = 100;
/** L-ICSO's phi (SPEC 9). */
export const ICSO_PHI = 0.15;
/** L-ICSO's initial and final swarm sizes: ours (SPEC 9 does not give them). */
export const ICSO_MAX_PARTICLES = 120;
export const ICSO_MIN_PARTICLES = 6;
/** Probability that the middle of a triple also learns from the swarm mean (SPEC 9). */
export const ICSO_MEAN_PROBABILITY = 0.5;

export interface SwarmOptions {
  /** Initial positions are uniform in [lower, upper]^D (default -5, 5); velocities start at 0. */
  lower?: number;
  upper?: number;
  seed?: number;
  /** Replaces the seeded generator (tests feed hand-picked draws); state() then holds a stale rngState. */
  random?: () => number;
  /** Initial positions (m rows of D) instead of uniform ones. */
  positions?: ArrayLike<number>[];
}

export interface CsoOptions extends SwarmOptions {
  /** Swarm size m, even (default CSO_PARTICLES). */
  particles?: number;
  phi?: number;
}

export interface IcsoOptions extends SwarmOptions {
  /** The total evaluations the run may use; the population shrinks linearly over it. */
  budget: number;
  maxParticles?: number;
  minParticles?: number;
  phi?: number;
  meanProbability?: number;
}

export interface SwarmState {
  kind: 'cso' | 'icso';
  dim: number;
  phi: number;
  x: number[][];
  v: number[][];
  /** Fitness of each particle (empty before the initial evaluation). */
  f: number[];
  best: number[];
  bestFitness: number;
  generation: number;
  evaluations: number;
  rngState: number;
  /** ICSO only. */
  budget?: number;
  maxParticles?: number;
  minParticles?: number;
  meanProbability?: number;
}

export type Fitness = (x: Float64Array) => number;

/** What CSO and ICSO share: the swarm, the generator, the best so far, the checkpoint. */
abstract class Swarm {
  protected s: SwarmState;
  private injected?: () => number;

  protected constructor(s: SwarmState, random?: () => number) {
    this.s = s;
    this.injected = random;
  }

  get dim(): number {
    return this.s.dim;
  }
  get size(): number {
    return this.s.x.length;
  }
  get generation(): number {
    return this.s.generation;
  }
  get evaluations(): number {
    return this.s.evaluations;
  }
  get bestFitness(): number {
    return this.s.bestFitness;
  }
  get best(): Float64Array {
    return Float64Array.from(this.s.best);
  }
  /** Particle i's position and velocity (copies). */
  position(i: number): Float64Array {
    return Float64Array.from(this.s.x[i]);
  }
  velocity(i: number): Float64Array {
    return Float64Array.from(this.s.v[i]);
  }
  fitness(i: number): number {
    return this.s.f[i];
  }

  state(): SwarmState {
    return structuredClone(this.s);
  }

  /** One generation; the first call evaluates the initial swarm instead. */
  abstract step(evaluate: Fitness): void;

  protected uniform(): number {
    if (this.injected) return this.injected();
    // splitmix32 (as src/data/dataset.ts), its state kept in the checkpoint.
    this.s.rngState = (this.s.rngState + 0x9e3779b9) >>> 0;
    let z = this.s.rngState;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  }

  /** Uniform initial positions in [lower, upper]^D, particle by particle. */
  protected randomise(opts: SwarmOptions): void {
    const lower = opts.lower ?? -5, upper = opts.upper ?? 5;
    this.s.x = this.s.v.map(() => Array.from({ length: this.dim }, () => lower + (upper - lower) * this.uniform()));
  }

  protected evaluate(i: number, evaluate: Fitness): void {
    const fi = evaluate(Float64Array.from(this.s.x[i]));
    this.s.f[i] = fi;
    this.s.evaluations++;
    if (fi < this.s.bestFitness) {
      this.s.bestFitness = fi;
      this.s.best = [...this.s.x[i]];
    }
  }

  protected evaluateAll(evaluate: Fitness): void {
    for (let i = 0; i < this.size; i++) this.evaluate(i, evaluate);
  }

  /** The particle indices in a random order (Fisher-Yates, m - 1 draws). */
  protected shuffled(): number[] {
    const p = Array.from({ length: this.size }, (_, i) => i);
    for (let i = p.length - 1; i > 0; i--) {
      const j = Math.floor(this.uniform() * (i + 1));
      [p[i], p[j]] = [p[j], p[i]];
    }
    return p;
  }

  protected mean(): number[] {
    const m = new Array(this.dim).fill(0);
    for (const x of this.s.x) for (let d = 0; d < this.dim; d++) m[d] += x[d];
    return m.map((v) => v / this.size);
  }

  /** v <- r1 v + r2 (teacher - x) + c r3 (attractor - x), x <- x + v; draws r1, r2, r3 per dimension. */
  protected learn(i: number, teacher: readonly number[], attractor: readonly number[] | null, c: number): void {
    const x = this.s.x[i], v = this.s.v[i];
    for (let d = 0; d < this.dim; d++) {
      const r1 = this.uniform(), r2 = this.uniform(), r3 = this.uniform();
      v[d] = r1 * v[d] + r2 * (teacher[d] - x[d]) + (attractor ? c * r3 * (attractor[d] - x[d]) : 0);
      x[d] += v[d];
    }
  }
}

function initialState(kind: 'cso' | 'icso', dim: number, m: number, phi: number, o: SwarmOptions): SwarmState {
  if (!(dim >= 1)) throw new Error(`${kind}: the dimension must be >= 1, got ${dim}`);
  const lower = o.lower ?? -5, upper = o.upper ?? 5;
  if (!(upper > lower)) throw new Error(`${kind}: upper (${upper}) must exceed lower (${lower})`);
  const s: SwarmState = {
    kind, dim, phi, x: [], v: [], f: [], best: [], bestFitness: Infinity, generation: 0, evaluations: 0,
    rngState: (o.seed ?? 0) >>> 0,
  };
  if (o.positions) {
    if (o.positions.length !== m || o.positions.some((p) => p.length !== dim)) {
      throw new Error(`${kind}: positions must be ${m} rows of ${dim}`);
    }
    s.x = o.positions.map((p) => Array.from(p));
  }
  s.v = Array.from({ length: m }, () => new Array(dim).fill(0));
  return s;
}

/** Competitive swarm optimiser (Cheng & Jin 2015). */
export class CSO extends Swarm {
  /** Draws per generation: the shuffle, then per pair (in shuffled order: particles 2k, 2k+1
   * of the permutation) the loser's r1, r2, r3 for each dimension. */
  constructor(dim: number, opts: CsoOptions = {}) {
    const m = opts.particles ?? CSO_PARTICLES;
    if (!(m >= 2 && m % 2 === 0)) throw new Error(`CSO: the swarm size must be even and >= 2, got ${m}`);
    const phi = opts.phi ?? CSO_PHI;
    super(initialState('cso', dim, m, phi, opts), opts.random);
    if (!opts.positions) this.randomise(opts);
  }

  static fromState(state: SwarmState, random?: () => number): CSO {
    if (state.kind !== 'cso') throw new Error(`CSO: a '${state.kind}' state`);
    const o = new CSO(state.dim, { particles: state.x.length, positions: state.x, random });
    o.s = structuredClone(state);
    return o;
  }

  step(evaluate: Fitness): void {
    if (this.s.f.length === 0) return this.evaluateAll(evaluate);
    const order = this.shuffled();
    const xbar = this.mean();
    const losers: number[] = [];
    for (let k = 0; k < order.length; k += 2) {
      const a = order[k], b = order[k + 1];
      // Ties go to the first of the pair.
      const [w, l] = this.s.f[a] <= this.s.f[b] ? [a, b] : [b, a];
      this.learn(l, this.s.x[w], xbar, this.s.phi);
      losers.push(l);
    }
    for (const l of losers) this.evaluate(l, evaluate);
    this.s.generation++;
  }
}

/** The improved competitive swarm (L-ICSO of SPEC 9). */
export class ICSO extends Swarm {
  /** Draws per generation: the shuffle, then per triple (particles 3k..3k+2 of the permutation;
   * the last m mod 3 pass unchanged) one draw for the middle's coin, the middle's r1, r2, r3
   * per dimension, then the worst's r1, r2, r3 per dimension. */
  constructor(dim: number, opts: IcsoOptions) {
    const mMax = opts.maxParticles ?? ICSO_MAX_PARTICLES;
    const mMin = opts.minParticles ?? ICSO_MIN_PARTICLES;
    if (!(mMin >= 3 && mMax >= mMin)) throw new Error(`ICSO: need 3 <= minParticles (${mMin}) <= maxParticles (${mMax})`);
    if (!(opts.budget >= mMax)) throw new Error(`ICSO: the budget (${opts.budget}) must cover the initial swarm (${mMax})`);
    const s = initialState('icso', dim, mMax, opts.phi ?? ICSO_PHI, opts);
    Object.assign(s, { budget: opts.budget, maxParticles: mMax, minParticles: mMin, meanProbability: opts.meanProbability ?? ICSO_MEAN_PROBABILITY });
    super(s, opts.random);
    if (!opts.positions) this.randomise(opts);
  }

  static fromState(state: SwarmState, random?: () => number): ICSO {
    if (state.kind !== 'icso') throw new Error(`ICSO: a '${state.kind}' state`);
    const o = new ICSO(state.dim, { budget: state.budget!, maxParticles: state.x.length, minParticles: Math.min(3, state.x.length), positions: state.x, random });
    o.s = structuredClone(state);
    return o;
  }

  /** Whether the budget is spent. */
  get done(): boolean {
    return this.s.evaluations >= this.s.budget!;
  }

  step(evaluate: Fitness): void {
    if (this.s.f.length === 0) return this.evaluateAll(evaluate);
    if (this.done) return;
    const order = this.shuffled();
    const xbar = this.mean();
    const learners: number[] = [];
    for (let k = 0; k + 3 <= order.length; k += 3) {
      const [w, mid, l] = order.slice(k, k + 3).sort((a, b) => this.s.f[a] - this.s.f[b] || a - b);
      // The middle learns from the best, and with probability meanProbability also from the
      // swarm mean; otherwise from the best alone (ours: SPEC 9 does not say).
      const withMean = this.uniform() < this.s.meanProbability!;
      this.learn(mid, this.s.x[w], withMean ? xbar : null, this.s.phi);
      // The worst learns from the best of the triple and the best so far.
      this.learn(l, this.s.x[w], this.s.best, this.s.phi);
      learners.push(mid, l);
    }
    // Within the budget: the last learners of a generation that would overrun it stay unevaluated
    // (their fitness is the old one).
    for (const i of learners) if (!this.done) this.evaluate(i, evaluate);
    this.s.generation++;
    this.shrink();
  }

  /** Linear population reduction: m = round(mMax - (mMax - mMin) used / budget); the worst go. */
  private shrink(): void {
    const { maxParticles: mMax, minParticles: mMin, budget } = this.s;
    const target = Math.max(mMin!, Math.round(mMax! - ((mMax! - mMin!) * this.s.evaluations) / budget!));
    if (target >= this.size) return;
    const keep = Array.from({ length: this.size }, (_, i) => i)
      .sort((a, b) => this.s.f[a] - this.s.f[b] || a - b)
      .slice(0, target)
      .sort((a, b) => a - b);
    this.s.x = keep.map((i) => this.s.x[i]);
    this.s.v = keep.map((i) => this.s.v[i]);
    this.s.f = keep.map((i) => this.s.f[i]);
  }
}
