// NSGA-II (Deb, Pratap, Agarwal & Meyarivan, IEEE TEC 2002) over real vectors in box bounds,
// any number of minimised objectives: fast non-dominated sorting and crowding distance
// (pareto.ts), binary tournament by rank then crowding, two-point crossover, polynomial
// mutation, duplicate removal, and (mu + lambda) survival. The operators and defaults follow
// MSE-NAS' released code (SPEC 10: pymoo 0.4's NSGA-II with PointCrossover(n_points=2) and
// PolynomialMutation(eta=3)). Integer genes are the caller's: it floors the reals it receives,
// and passes `key` so that candidates decoding to the same genome count as duplicates.
// The state is plain data (a checkpoint: JSON-safe) with the generator's state, so a run
// stopped, serialised, restored and continued equals an uninterrupted one.
// Random draws, in order: initial population (dim uniforms per candidate); per offspring pair:
// two tournaments (2 draws each, plus 1 when rank and crowding tie), the crossover coin and
// its two cut points, then per child per gene the mutation coin and, if it fires, 1 draw.

import { nonDominatedSort, crowdingDistance } from './pareto.js';

/** Population size mu (SPEC 10, MSE-NAS: 50). */
export const NSGA2_POPULATION = 50;
/** Offspring per generation lambda (SPEC 10: 50). */
export const NSGA2_OFFSPRING = 50;
/** Probability that a parent pair is crossed over (pymoo's Crossover default, prob = 0.9, which
 * MSE-NAS' PointCrossover inherits); otherwise the children copy the parents. */
export const NSGA2_CROSSOVER_PROBABILITY = 0.9;
/** Distribution index of polynomial mutation (SPEC 10, MSE-NAS: eta = 3; pymoo's default is 20,
 * so 3 makes large steps, which suits short integer genomes). */
export const NSGA2_MUTATION_ETA = 3;
/** Rounds of re-mating when offspring are duplicates (pymoo's mating retries up to 100 times);
 * after them a generation may hold fewer than lambda offspring. */
export const NSGA2_DUPLICATE_ROUNDS = 100;

export interface Nsga2Options {
  /** Box bounds, one per gene or one for all (default 0 and 1). */
  lower?: number | ArrayLike<number>;
  upper?: number | ArrayLike<number>;
  /** mu (default NSGA2_POPULATION). */
  populationSize?: number;
  /** lambda (default NSGA2_OFFSPRING). */
  offspring?: number;
  crossoverProbability?: number;
  /** Per-gene mutation probability (default 1 / dim, pymoo's default). */
  mutationProbability?: number;
  /** Polynomial mutation's distribution index (default NSGA2_MUTATION_ETA). */
  eta?: number;
  seed?: number;
  /** Replaces the seeded generator (tests feed hand-picked draws); state() then holds a stale rngState. */
  random?: () => number;
  /** Two candidates are duplicates when their keys are equal (default: the exact real vector).
   * For integer genomes pass e.g. x => Array.from(x, Math.floor).join(','). */
  key?: (x: Float64Array) => string;
  /** Initial population (rows of dim) instead of uniform draws in the box. */
  initial?: ArrayLike<number>[];
}

export interface Nsga2State {
  kind: 'nsga2';
  dim: number;
  lower: number[];
  upper: number[];
  populationSize: number;
  offspring: number;
  crossoverProbability: number;
  mutationProbability: number;
  eta: number;
  /** The population and its objectives (empty before the initial evaluation). */
  x: number[][];
  f: number[][];
  /** Candidates handed out by ask() and not yet told. */
  pending: number[][];
  generation: number;
  evaluations: number;
  /** Offspring dropped as duplicates so far. */
  duplicates: number;
  rngState: number;
}

/** A population member with its objectives, front index (0 = non-dominated) and crowding distance. */
export interface Member {
  x: Float64Array;
  f: number[];
  rank: number;
  crowding: number;
}

export type Objectives = (x: Float64Array) => ArrayLike<number>;

const defaultKey = (x: Float64Array) => Array.from(x).join(',');

function bounds(v: number | ArrayLike<number> | undefined, fallback: number, dim: number, name: string): number[] {
  if (v === undefined || typeof v === 'number') return new Array(dim).fill(v ?? fallback);
  if (v.length !== dim) throw new Error(`NSGA-II: ${name} has ${v.length} values for ${dim} genes`);
  return Array.from(v);
}

export class NSGA2 {
  private s: Nsga2State;
  private injected?: () => number;
  private key: (x: Float64Array) => string;

  constructor(dim: number, opts: Nsga2Options = {}) {
    if (!(Number.isInteger(dim) && dim >= 1)) throw new Error(`NSGA-II: the dimension must be an integer >= 1, got ${dim}`);
    const lower = bounds(opts.lower, 0, dim, 'lower');
    const upper = bounds(opts.upper, 1, dim, 'upper');
    for (let d = 0; d < dim; d++) {
      if (!(upper[d] > lower[d])) throw new Error(`NSGA-II: gene ${d}: upper (${upper[d]}) must exceed lower (${lower[d]})`);
    }
    const mu = opts.populationSize ?? NSGA2_POPULATION;
    const lambda = opts.offspring ?? NSGA2_OFFSPRING;
    if (!(Number.isInteger(mu) && mu >= 2)) throw new Error(`NSGA-II: population size must be an integer >= 2, got ${mu}`);
    if (!(Number.isInteger(lambda) && lambda >= 1)) throw new Error(`NSGA-II: offspring count must be an integer >= 1, got ${lambda}`);
    const pc = opts.crossoverProbability ?? NSGA2_CROSSOVER_PROBABILITY;
    const pm = opts.mutationProbability ?? 1 / dim;
    const eta = opts.eta ?? NSGA2_MUTATION_ETA;
    if (!(pc >= 0 && pc <= 1)) throw new Error(`NSGA-II: crossover probability must be in [0, 1], got ${pc}`);
    if (!(pm >= 0 && pm <= 1)) throw new Error(`NSGA-II: mutation probability must be in [0, 1], got ${pm}`);
    if (!(eta >= 0)) throw new Error(`NSGA-II: eta must be >= 0, got ${eta}`);
    this.s = {
      kind: 'nsga2', dim, lower, upper, populationSize: mu, offspring: lambda, crossoverProbability: pc,
      mutationProbability: pm, eta, x: [], f: [], pending: [], generation: 0, evaluations: 0, duplicates: 0,
      rngState: (opts.seed ?? 0) >>> 0,
    };
    this.injected = opts.random;
    this.key = opts.key ?? defaultKey;
    if (opts.initial) {
      if (opts.initial.length !== mu || opts.initial.some((r) => r.length !== dim)) {
        throw new Error(`NSGA-II: the initial population must be ${mu} rows of ${dim}`);
      }
      this.s.pending = opts.initial.map((r) => Array.from(r));
    }
  }

  /** Restores a state(); `key` and `random` are functions, so they are passed again. */
  static fromState(state: Nsga2State, opts: Pick<Nsga2Options, 'key' | 'random'> = {}): NSGA2 {
    if (state?.kind !== 'nsga2') throw new Error(`NSGA-II: not an NSGA-II state (kind ${String(state?.kind)})`);
    const o = new NSGA2(state.dim, {
      lower: state.lower, upper: state.upper, populationSize: state.populationSize, offspring: state.offspring,
      crossoverProbability: state.crossoverProbability, mutationProbability: state.mutationProbability, eta: state.eta, ...opts,
    });
    if (state.x.length !== state.f.length || state.x.some((r) => r.length !== state.dim)) {
      throw new Error('NSGA-II state: population and objectives do not match (a corrupt or foreign checkpoint)');
    }
    o.s = structuredClone(state);
    return o;
  }

  state(): Nsga2State {
    return structuredClone(this.s);
  }

  get dim(): number {
    return this.s.dim;
  }
  get generation(): number {
    return this.s.generation;
  }
  get evaluations(): number {
    return this.s.evaluations;
  }
  get duplicates(): number {
    return this.s.duplicates;
  }

  /** The population with rank and crowding (recomputed: they follow from the objectives). */
  population(): Member[] {
    const { rank, crowding } = rankAndCrowding(this.s.f);
    return this.s.x.map((x, i) => ({ x: Float64Array.from(x), f: [...this.s.f[i]], rank: rank[i], crowding: crowding[i] }));
  }

  /** The non-dominated members of the population. */
  front(): Member[] {
    return this.population().filter((m) => m.rank === 0);
  }

  /**
   * Candidates to evaluate: the initial population on the first call, then lambda offspring (or
   * fewer, when duplicates could not be avoided). Asking again before tell() returns the same.
   */
  ask(): Float64Array[] {
    if (this.s.pending.length === 0) this.s.pending = this.s.f.length === 0 ? this.initialPopulation() : this.makeOffspring();
    return this.s.pending.map((x) => Float64Array.from(x));
  }

  /** Objectives (minimised) of the candidates of ask(), in its order; then (mu + lambda) survival. */
  tell(candidates: ArrayLike<number>[], objectives: ArrayLike<number>[]): void {
    const pending = this.s.pending;
    if (pending.length === 0) throw new Error('NSGA-II: tell() without ask()');
    if (candidates.length !== pending.length || objectives.length !== pending.length) {
      throw new Error(`NSGA-II: tell() takes the ${pending.length} candidates of ask() and their objectives, got ${candidates.length} and ${objectives.length}`);
    }
    candidates.forEach((c, i) => {
      if (c.length !== this.s.dim || pending[i].some((v, d) => v !== c[d])) throw new Error(`NSGA-II: tell() candidate ${i} is not the one ask() gave (same order, unchanged)`);
    });
    const M = objectives[0].length;
    const f = objectives.map((o, i) => {
      if (o.length !== M || M < 1) throw new Error(`NSGA-II: candidate ${i} has ${o.length} objectives, candidate 0 has ${M}`);
      if (this.s.f.length > 0 && this.s.f[0].length !== M) throw new Error(`NSGA-II: ${M} objectives, the population has ${this.s.f[0].length}`);
      const row = Array.from(o);
      if (row.some((v) => !Number.isFinite(v))) throw new Error(`NSGA-II: candidate ${i} has a non-finite objective [${row.join(', ')}] (give a failed candidate a large finite penalty)`);
      return row;
    });
    this.s.evaluations += pending.length;
    if (this.s.f.length === 0) {
      this.s.x = pending;
      this.s.f = f;
    } else {
      this.survive([...this.s.x, ...pending], [...this.s.f, ...f]);
      this.s.generation++;
    }
    this.s.pending = [];
  }

  /** One generation (the first call evaluates the initial population instead). */
  step(evaluate: Objectives): void {
    const xs = this.ask();
    this.tell(xs, xs.map((x) => evaluate(x)));
  }

  private uniform(): number {
    if (this.injected) return this.injected();
    // splitmix32 (as src/data/dataset.ts), its state kept in the checkpoint.
    this.s.rngState = (this.s.rngState + 0x9e3779b9) >>> 0;
    let z = this.s.rngState;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  }

  /** Uniform in the box, duplicates (by key) redrawn; after the retry rounds, fewer than mu. */
  private initialPopulation(): number[][] {
    const { dim, lower, upper, populationSize } = this.s;
    const seen = new Set<string>();
    const out: number[][] = [];
    for (let round = 0; round < NSGA2_DUPLICATE_ROUNDS && out.length < populationSize; round++) {
      const need = populationSize - out.length;
      for (let k = 0; k < need; k++) {
        const x = Array.from({ length: dim }, (_, d) => lower[d] + (upper[d] - lower[d]) * this.uniform());
        const key = this.key(Float64Array.from(x));
        if (!seen.has(key)) {
          seen.add(key);
          out.push(x);
        }
      }
    }
    if (out.length < 2) throw new Error(`NSGA-II: only ${out.length} distinct initial candidates (is the key too coarse?)`);
    return out;
  }

  private makeOffspring(): number[][] {
    const { x, offspring: lambda } = this.s;
    const { rank, crowding } = rankAndCrowding(this.s.f);
    const seen = new Set(x.map((r) => this.key(Float64Array.from(r))));
    const out: number[][] = [];
    for (let round = 0; round < NSGA2_DUPLICATE_ROUNDS && out.length < lambda; round++) {
      const need = lambda - out.length;
      for (let k = 0; k < need; k += 2) {
        const a = this.tournament(rank, crowding), b = this.tournament(rank, crowding);
        for (const child of this.crossover(x[a], x[b])) {
          this.mutate(child);
          if (out.length >= lambda) continue;
          const key = this.key(Float64Array.from(child));
          if (seen.has(key)) {
            this.s.duplicates++;
          } else {
            seen.add(key);
            out.push(child);
          }
        }
      }
    }
    return out;
  }

  /** Binary tournament: two distinct members; lower rank wins, then larger crowding, then a coin. */
  private tournament(rank: Int32Array, crowding: Float64Array): number {
    const n = rank.length;
    const i = Math.floor(this.uniform() * n);
    let j = Math.floor(this.uniform() * (n - 1));
    if (j >= i) j++;
    if (rank[i] !== rank[j]) return rank[i] < rank[j] ? i : j;
    if (crowding[i] !== crowding[j]) return crowding[i] > crowding[j] ? i : j;
    return this.uniform() < 0.5 ? i : j;
  }

  /** Two-point crossover: with probability pc the children swap the genes between two cut points. */
  private crossover(p1: readonly number[], p2: readonly number[]): [number[], number[]] {
    const c1 = [...p1], c2 = [...p2];
    const D = this.s.dim;
    if (this.uniform() >= this.s.crossoverProbability || D < 2) return [c1, c2];
    // Two distinct cut points in 1..D-1 (one when D = 2); genes in [a, b) are swapped.
    let a = 1 + Math.floor(this.uniform() * (D - 1));
    let b = 1 + Math.floor(this.uniform() * (D - 1));
    if (a > b) [a, b] = [b, a];
    if (a === b) b = D; // the second cut at the end: a one-point swap of the tail
    for (let d = a; d < b; d++) [c1[d], c2[d]] = [c2[d], c1[d]];
    return [c1, c2];
  }

  /** Polynomial mutation with bounds (Deb & Agrawal; the form of Deb's NSGA-II code and pymoo). */
  private mutate(x: number[]): void {
    const { lower, upper, eta, mutationProbability: pm } = this.s;
    for (let d = 0; d < x.length; d++) {
      if (this.uniform() >= pm) continue;
      const lo = lower[d], hi = upper[d], span = hi - lo;
      const y = Math.min(hi, Math.max(lo, x[d]));
      const delta1 = (y - lo) / span, delta2 = (hi - y) / span;
      const r = this.uniform();
      const power = 1 / (eta + 1);
      let dq: number;
      if (r < 0.5) {
        const v = 2 * r + (1 - 2 * r) * (1 - delta1) ** (eta + 1);
        dq = v ** power - 1;
      } else {
        const v = 2 * (1 - r) + 2 * (r - 0.5) * (1 - delta2) ** (eta + 1);
        dq = 1 - v ** power;
      }
      x[d] = Math.min(hi, Math.max(lo, y + dq * span));
    }
  }

  /** (mu + lambda): whole fronts while they fit, the splitting front by crowding (ties: index order). */
  private survive(x: number[][], f: number[][]): void {
    const mu = this.s.populationSize;
    const keep: number[] = [];
    for (const front of nonDominatedSort(f)) {
      if (keep.length + front.length <= mu) {
        keep.push(...front);
        if (keep.length === mu) break;
        continue;
      }
      const cd = crowdingDistance(front.map((i) => f[i]));
      const order = front.map((_, k) => k).sort((a, b) => cd[b] - cd[a] || a - b);
      for (const k of order.slice(0, mu - keep.length)) keep.push(front[k]);
      break;
    }
    this.s.x = keep.map((i) => x[i]);
    this.s.f = keep.map((i) => f[i]);
  }
}

/** Rank (front index) and crowding distance within its front, for every point. */
export function rankAndCrowding(f: readonly number[][]): { rank: Int32Array; crowding: Float64Array } {
  const rank = new Int32Array(f.length);
  const crowding = new Float64Array(f.length);
  nonDominatedSort(f).forEach((front, k) => {
    const cd = crowdingDistance(front.map((i) => f[i]));
    front.forEach((i, j) => {
      rank[i] = k;
      crowding[i] = cd[j];
    });
  });
  return { rank, crowding };
}
