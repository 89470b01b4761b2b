// Differential evolution (Storn & Price 1997) as scipy.optimize.differential_evolution runs it
// for One-Pixel (Su et al. 2019, torchattacks), minimising a fitness over a box:
// - genomes live in the unit cube and are scaled to [lower, upper] for evaluation; the initial
//   population is uniform ('random' init);
// - strategy best1bin: the mutant of member i is b + F (x_r0 - x_r1), b the best member at the
//   start of the generation, r0 != r1 drawn from the others; binomial crossover takes each
//   gene from the mutant with probability CR and always gene `fill` (one drawn per member);
// - F ~ U[mutation[0], mutation[1]) drawn once per generation (scipy's dithering);
// - a gene of the trial outside [0, 1] is redrawn uniformly (scipy's _ensure_constraint);
// - a trial replaces its parent when its fitness is <= the parent's (scipy's _accept_trial).
// bionas choice: updating is 'deferred' (scipy's other mode): a whole generation of trials is
// built from the previous one and evaluated together, which lets an attack evaluate every
// image's population in one batched forward; scipy's default 'immediate' evaluates one trial
// at a time. Members keep their places (scipy swaps the best to index 0; the order only
// relabels which draw picks which member).
// Use ask()/tell() (or step(evaluate)); the state is plain data, so a run can be checkpointed.
// Random draws, in order (bionas choice: numpy's stream cannot be replayed anyway; a test can
// inject them through `random`): the initial population,
// member by member, gene by gene; then per generation F, and per member: the crossover's fill
// gene, r0 (among the P - 1 others), r1 (among the P - 2 left), one crossover draw per gene,
// then one redraw per gene of its trial outside [0, 1].

/** scipy's default mutation (dithering) range. */
export const DE_MUTATION: readonly [number, number] = [0.5, 1];
/** scipy's default recombination (crossover probability); One-Pixel sets it to 1. */
export const DE_CROSSOVER = 0.7;
/** best1bin draws two members besides the one it mutates. */
const MIN_POPULATION = 3;

export interface DeOptions {
  /** Members (scipy's popsize * dim, at least 5 there; here at least 3). */
  population: number;
  lower: readonly number[];
  upper: readonly number[];
  mutation?: readonly [number, number];
  crossover?: number;
  seed?: number;
  /** Replaces the seeded generator (tests and attacks inject their draws); state() then holds a stale rngState. */
  random?: () => number;
}

export interface DeState {
  kind: 'de';
  lower: number[];
  upper: number[];
  mutation: [number, number];
  crossover: number;
  /** Members in the unit cube. */
  population: number[][];
  /** Fitness per member (empty before the initial evaluation). */
  fitness: number[];
  /** The generation's trials in the unit cube, while asked and not yet told. */
  trials: number[][] | null;
  generation: number;
  evaluations: number;
  rngState: number;
}

export type PopulationFitness = (xs: Float64Array[]) => ArrayLike<number>;

export class DifferentialEvolution {
  private s: DeState;
  private injected?: () => number;

  constructor(opts: DeOptions) {
    const D = opts.lower.length;
    if (!(D >= 1) || opts.upper.length !== D) throw new Error(`DE: ${opts.lower.length} lower and ${opts.upper.length} upper bounds (need the same number, >= 1)`);
    opts.lower.forEach((lo, d) => {
      if (!(opts.upper[d] > lo)) throw new Error(`DE: gene ${d}'s upper bound ${opts.upper[d]} must exceed its lower bound ${lo}`);
    });
    if (!(Number.isInteger(opts.population) && opts.population >= MIN_POPULATION)) {
      throw new Error(`DE: the population must be an integer >= ${MIN_POPULATION}, got ${opts.population}`);
    }
    const mutation = opts.mutation ?? DE_MUTATION;
    if (!(mutation[0] >= 0 && mutation[1] >= mutation[0])) throw new Error(`DE: mutation range [${mutation.join(', ')}] must have 0 <= low <= high`);
    const crossover = opts.crossover ?? DE_CROSSOVER;
    if (!(crossover >= 0 && crossover <= 1)) throw new Error(`DE: crossover must be in [0, 1], got ${crossover}`);
    this.injected = opts.random;
    this.s = {
      kind: 'de', lower: [...opts.lower], upper: [...opts.upper], mutation: [mutation[0], mutation[1]], crossover,
      population: [], fitness: [], trials: null, generation: 0, evaluations: 0, rngState: (opts.seed ?? 0) >>> 0,
    };
    this.s.population = Array.from({ length: opts.population }, () => Array.from({ length: D }, () => this.uniform()));
  }

  static fromState(state: DeState, random?: () => number): DifferentialEvolution {
    if (state.kind !== 'de') throw new Error(`DE: a '${state.kind}' state`);
    const o = Object.create(DifferentialEvolution.prototype) as DifferentialEvolution;
    o.s = structuredClone(state);
    o.injected = random;
    return o;
  }

  state(): DeState {
    return structuredClone(this.s);
  }

  get dim(): number {
    return this.s.lower.length;
  }
  get size(): number {
    return this.s.population.length;
  }
  get generation(): number {
    return this.s.generation;
  }
  get evaluations(): number {
    return this.s.evaluations;
  }
  /** The member with the lowest fitness (the first of equals); -1 before the initial evaluation. */
  get bestIndex(): number {
    const f = this.s.fitness;
    if (!f.length) return -1;
    let b = 0;
    for (let i = 1; i < f.length; i++) if (f[i] < f[b]) b = i;
    return b;
  }
  get bestFitness(): number {
    const b = this.bestIndex;
    return b < 0 ? Infinity : this.s.fitness[b];
  }
  /** The best member, scaled to the bounds. */
  get best(): Float64Array {
    const b = this.bestIndex;
    if (b < 0) throw new Error('DE: nothing evaluated yet');
    return this.scaled(this.s.population[b]);
  }
  /** Member i scaled to the bounds, and its fitness. */
  member(i: number): Float64Array {
    return this.scaled(this.s.population[i]);
  }
  fitness(i: number): number {
    return this.s.fitness[i];
  }

  /** What to evaluate next, scaled to the bounds: the initial population, then each generation's trials. */
  ask(): Float64Array[] {
    if (!this.s.fitness.length) return this.s.population.map((g) => this.scaled(g));
    if (!this.s.trials) this.s.trials = this.breed();
    return this.s.trials.map((g) => this.scaled(g));
  }

  /** Their fitness; returns, per member, whether the trial replaced it (all true for the initial population). */
  tell(fitness: ArrayLike<number>): boolean[] {
    if (fitness.length !== this.size) throw new Error(`DE: ${fitness.length} fitness values for a population of ${this.size}`);
    this.s.evaluations += this.size;
    if (!this.s.fitness.length) {
      this.s.fitness = Array.from(fitness);
      return this.s.fitness.map(() => true);
    }
    const trials = this.s.trials;
    if (!trials) throw new Error('DE: tell() before ask()');
    const accepted = trials.map((t, i) => {
      if (!(fitness[i] <= this.s.fitness[i])) return false;
      this.s.population[i] = t;
      this.s.fitness[i] = fitness[i];
      return true;
    });
    this.s.trials = null;
    this.s.generation++;
    return accepted;
  }

  /** One ask and tell: the initial evaluation first, then one generation per call. */
  step(evaluate: PopulationFitness): boolean[] {
    return this.tell(evaluate(this.ask()));
  }

  /** A generation's trials (best1bin, dithered F, binomial crossover, out-of-cube genes redrawn). */
  private breed(): number[][] {
    const { population: pop, mutation, crossover } = this.s;
    const P = pop.length, D = this.dim;
    const F = mutation[0] + (mutation[1] - mutation[0]) * this.uniform();
    const b = pop[this.bestIndex];
    return pop.map((parent, i) => {
      const fill = Math.floor(this.uniform() * D);
      const others = Array.from({ length: P - 1 }, (_, k) => (k < i ? k : k + 1));
      const r0 = others.splice(Math.floor(this.uniform() * others.length), 1)[0];
      const r1 = others[Math.floor(this.uniform() * others.length)];
      const trial = parent.map((g, d) => {
        const cross = this.uniform() < crossover || d === fill;
        return cross ? b[d] + F * (pop[r0][d] - pop[r1][d]) : g;
      });
      return trial.map((g) => (g < 0 || g > 1 ? this.uniform() : g));
    });
  }

  private scaled(g: readonly number[]): Float64Array {
    return Float64Array.from(g, (u, d) => this.s.lower[d] + u * (this.s.upper[d] - this.s.lower[d]));
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
}
