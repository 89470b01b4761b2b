// Search strategies over a table of trained cells (NAS-Bench-201): random search, regularised
// evolution, local search, CMA-ES and the competitive swarms (CSO, L-ICSO). Each draws only
// from the rng it is given, so a seed fixes the sequence of cells it queries. They register
// themselves for `bionas benchmark`.

import { CMAES } from '../optimizers/cmaes.js';
import { CSO, ICSO, CSO_PHI, ICSO_PHI, ICSO_MIN_PARTICLES } from '../optimizers/cso.js';
import { BudgetSpent, type TableOracle } from '../../benchmarks/oracle.js';
import { registerTableStrategy } from './registry.js';

export { BudgetSpent };


// Regularised evolution's defaults: NAS-Bench-201's REA setting (Dong & Yang 2020, sec. 5:
// population 10, tournament sample 3), itself after Real et al. 2019.
export const REA_POPULATION = 10;
export const REA_SAMPLE = 3;
// CMA-ES's initial step size on the 6x5 architecture logits (which start at 0): 1 makes the
// first generation's argmax close to uniform over the ops; our choice, not from a paper.
export const CMA_SIGMA = 1;
// Generations in a row without a new cell (all repeats of queried classes) before CMA-ES
// restarts from a fresh mean: our choice, so a converged distribution cannot stall a run.
export const CMA_STALL_GENERATIONS = 5;

const pick = (rng: () => number, n: number) => Math.floor(rng() * n);

/** A uniformly random cell: one op per edge, edge 1<-0 first. */
export function randomCell(bench: TableOracle, rng: () => number): number[] {
  return Array.from({ length: bench.edges }, () => pick(rng, bench.opsPerEdge));
}

/** One edge (uniform) changed to another op (uniform among the other ops). */
export function mutateCell(ops: readonly number[], bench: TableOracle, rng: () => number): number[] {
  const child = [...ops];
  const e = pick(rng, bench.edges);
  const k = pick(rng, bench.opsPerEdge - 1);
  child[e] = k >= ops[e] ? k + 1 : k;
  return child;
}

export const RANDOM_SEARCH = registerTableStrategy({
  name: 'random',
  title: 'random search',
  help: 'uniformly random cells (each edge an op drawn uniformly)',
  searchTable(bench, _f, rng) {
    for (;;) bench.query(randomCell(bench, rng));
  },
});

export const REGULARIZED_EVOLUTION = registerTableStrategy({
  name: 'rea',
  title: 'regularised evolution',
  help: 'regularised evolution (Real et al. 2019): tournament of --rea-sample from the last --rea-population cells, the winner mutated on one edge, the oldest dropped',
  flags: {
    'rea-population': { type: 'int', default: REA_POPULATION, min: 1, help: 'cells kept (NAS-Bench-201: 10)' },
    'rea-sample': { type: 'int', default: REA_SAMPLE, min: 1, help: 'tournament size, drawn with replacement (NAS-Bench-201: 3)' },
  },
  searchTable(bench, f, rng) {
    const P = (f['rea-population'] as number | undefined) ?? REA_POPULATION;
    const S = (f['rea-sample'] as number | undefined) ?? REA_SAMPLE;
    const population: { ops: number[]; fitness: number }[] = [];
    while (population.length < P) {
      const ops = randomCell(bench, rng);
      population.push({ ops, fitness: bench.query(ops) });
    }
    for (;;) {
      let parent = population[pick(rng, population.length)];
      for (let s = 1; s < S; s++) {
        const c = population[pick(rng, population.length)];
        if (c.fitness > parent.fitness) parent = c;
      }
      const ops = mutateCell(parent.ops, bench, rng);
      population.push({ ops, fitness: bench.query(ops) });
      population.shift();
    }
  },
});

export const LOCAL_SEARCH = registerTableStrategy({
  name: 'local',
  title: 'local search',
  help: 'best-improvement local search over the cells one edge away; restarts at a random cell at a local optimum',
  searchTable(bench, _f, rng) {
    for (;;) {
      let ops = randomCell(bench, rng);
      let fitness = bench.query(ops);
      for (;;) {
        let best: number[] | null = null, bestFitness = fitness;
        // Neighbours in a fixed order: edge by edge, ops in table order.
        for (let e = 0; e < bench.edges; e++) {
          for (let k = 0; k < bench.opsPerEdge; k++) {
            if (k === ops[e]) continue;
            const n = [...ops];
            n[e] = k;
            const v = bench.query(n);
            if (v > bestFitness) [best, bestFitness] = [n, v];
          }
        }
        if (!best) break;
        [ops, fitness] = [best, bestFitness];
      }
    }
  },
});

/** The cell of a 6x5 logit vector: the argmax of each edge's five (first among ties). */
export function argmaxCell(x: ArrayLike<number>, bench: TableOracle): number[] {
  return Array.from({ length: bench.edges }, (_, e) => {
    let best = 0;
    for (let k = 1; k < bench.opsPerEdge; k++) if (x[e * bench.opsPerEdge + k] > x[e * bench.opsPerEdge + best]) best = k;
    return best;
  });
}

export const CMAES_TABLE_SEARCH = registerTableStrategy({
  name: 'cmaes',
  title: 'CMA-ES',
  help: 'CMA-ES (src/search/optimizers/cmaes.ts) on a 6x5 vector of op logits, a cell being the argmax per edge; restarts when a few generations find nothing new',
  flags: {
    'cma-sigma': { type: 'number', default: CMA_SIGMA, min: 1e-6, help: 'initial step size on the logits' },
    'cma-population': { type: 'int', default: 0, min: 0, help: 'candidates per generation (0: the tutorial default 4 + floor(3 ln 30) = 14)' },
  },
  searchTable(bench, f, rng) {
    const sigma = (f['cma-sigma'] as number | undefined) ?? CMA_SIGMA;
    const lambda = (f['cma-population'] as number | undefined) || undefined;
    const n = bench.edges * bench.opsPerEdge;
    for (;;) {
      const es = new CMAES(new Float64Array(n), sigma, { populationSize: lambda, seed: Math.floor(rng() * 2 ** 32) });
      let stalled = 0;
      while (stalled < CMA_STALL_GENERATIONS) {
        const cands = es.ask();
        const before = bench.charged;
        const fitness = cands.map((c) => -bench.query(argmaxCell(c.x, bench)));
        const fresh = bench.charged > before;
        stalled = fresh ? 0 : stalled + 1;
        es.tell(cands, fitness);
      }
    }
  },
});

// The swarms on the 6x5 logits: particles uniform in [-1, 1] (ours: an argmax close to uniform
// over the ops), a small swarm since a run has ~100 queries (ours), and the same restart rule as
// CMA-ES: a few generations without a new cell start a fresh swarm.
export const SWARM_INIT = 1;
export const CSO_TABLE_PARTICLES = 10;
export const ICSO_TABLE_MAX_PARTICLES = 12;
/** ICSO's evaluation budget per swarm (evaluations, repeats of a cell included): ours. */
export const ICSO_TABLE_BUDGET = 300;

/** Runs fresh swarms until the oracle's budget ends the search. */
function swarmSearch(bench: TableOracle, rng: () => number, make: (dim: number, seed: number) => CSO | ICSO): never {
  const dim = bench.edges * bench.opsPerEdge;
  for (;;) {
    const swarm = make(dim, Math.floor(rng() * 2 ** 32));
    let stalled = 0;
    while (stalled < CMA_STALL_GENERATIONS && !(swarm instanceof ICSO && swarm.done)) {
      const before = bench.charged;
      swarm.step((x) => -bench.query(argmaxCell(x, bench)));
      stalled = bench.charged > before ? 0 : stalled + 1;
    }
  }
}

export const CSO_TABLE_SEARCH = registerTableStrategy({
  name: 'cso',
  title: 'CSO',
  help: 'competitive swarm optimiser (Cheng & Jin 2015; src/search/optimizers/cso.ts) on 6x5 op logits, a cell being the argmax per edge; restarts when a few generations find nothing new',
  flags: {
    'cso-particles': { type: 'int', default: CSO_TABLE_PARTICLES, min: 2, help: 'swarm size m, even (ours)' },
    'cso-phi': { type: 'number', default: CSO_PHI, min: 0, help: 'social factor phi towards the swarm mean (SPEC 9: 0 to 0.2)' },
  },
  searchTable(bench, f, rng) {
    const particles = (f['cso-particles'] as number | undefined) ?? CSO_TABLE_PARTICLES;
    const phi = (f['cso-phi'] as number | undefined) ?? CSO_PHI;
    swarmSearch(bench, rng, (dim, seed) => new CSO(dim, { particles, phi, seed, lower: -SWARM_INIT, upper: SWARM_INIT }));
  },
});

export const ICSO_TABLE_SEARCH = registerTableStrategy({
  name: 'icso',
  title: 'L-ICSO',
  help: 'improved competitive swarm (L-ICSO, SPEC 9): triples, phi 0.15, the population shrinking linearly over --icso-budget evaluations; on 6x5 op logits like cso',
  flags: {
    'icso-max-particles': { type: 'int', default: ICSO_TABLE_MAX_PARTICLES, min: 3, help: 'initial swarm size (ours)' },
    'icso-min-particles': { type: 'int', default: ICSO_MIN_PARTICLES, min: 3, help: 'final swarm size (ours)' },
    'icso-phi': { type: 'number', default: ICSO_PHI, min: 0, help: 'weight of the second attractor (SPEC 9: 0.15)' },
    'icso-budget': { type: 'int', default: ICSO_TABLE_BUDGET, min: 3, help: 'evaluations per swarm before a restart (ours)' },
  },
  searchTable(bench, f, rng) {
    const maxParticles = (f['icso-max-particles'] as number | undefined) ?? ICSO_TABLE_MAX_PARTICLES;
    const minParticles = Math.min(maxParticles, (f['icso-min-particles'] as number | undefined) ?? ICSO_MIN_PARTICLES);
    const phi = (f['icso-phi'] as number | undefined) ?? ICSO_PHI;
    const budget = Math.max(maxParticles, (f['icso-budget'] as number | undefined) ?? ICSO_TABLE_BUDGET);
    swarmSearch(bench, rng, (dim, seed) => new ICSO(dim, { budget, maxParticles, minParticles, phi, seed, lower: -SWARM_INIT, upper: SWARM_INIT }));
  },
});
