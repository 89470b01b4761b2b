// DCL-ENAS (SPEC section 8) over a table oracle: evaluate N random cells, fine-tune the
// contrastive predictor, run the EA for t_gap generations with the predictor's score as the
// fitness of environmental selection, evaluate the N_infill best-scored cells not yet evaluated,
// add them to the labelled set, fine-tune again; until the budget of real evaluations is spent.
// Returns the best REALLY evaluated cell. Registered as the table strategy 'dcl-enas' of
// `bionas benchmark nb201` (flags --dcl-*), where the oracle's query budget ends the search.

import { parseNb201, formatNb201, cellId, cellFromId, NB201_EDGE_COUNT, NB201_OPS, NB201_CELL_COUNT } from '../../benchmarks/nb201/encoding.js';
import { registerTableStrategy } from './registry.js';
import { ContrastivePredictor, cpuRandom, type ContrastiveOptions } from '../predictors/contrastive.js';

export interface DclEnasOptions {
  /** Real evaluations in all (100: the query budget predictor papers use on NB201). */
  budget: number;
  /** N: random cells evaluated before the first fine-tuning. */
  initial: number;
  /** EA population size (kept by predicted score). */
  population: number;
  /** Offspring per generation: a uniformly drawn parent with one edge mutated to another op. */
  offspring: number;
  /** t_gap: EA generations between two rounds of real evaluations. */
  generations: number;
  /** N_infill: cells evaluated for real per round. */
  infill: number;
  /** Run stage 1 (self-supervised pre-training) once before the first fine-tuning. */
  pretrain: boolean;
  /** Predictor settings (its seed defaults to this seed). */
  predictor: Partial<ContrastiveOptions>;
  seed: number;
}

/** Not published in the paper (SPEC section 8): small values that fit a 100-query budget. */
export const DCL_ENAS_DEFAULTS: DclEnasOptions = {
  budget: 100,
  initial: 20,
  population: 50,
  offspring: 50,
  generations: 5,
  infill: 10,
  pretrain: true,
  predictor: {},
  seed: 0,
};

export interface DclEnasResult {
  /** Row index of the best really evaluated cell, its arch string and accuracy. */
  best: { index: number; arch: string; accuracy: number };
  /** Every real evaluation in order. */
  history: { index: number; accuracy: number }[];
}

/**
 * `archs[i]` is the arch string of row i of the table; `query(i)` its accuracy (the search
 * signal, e.g. 12-epoch validation accuracy). Every cell of the space must appear in `archs`.
 */
export async function dclEnas(archs: readonly string[], query: (index: number) => number,
  opts: Partial<DclEnasOptions> = {}): Promise<DclEnasResult> {
  // An option given as undefined (a flag left out) keeps its default.
  const o: DclEnasOptions = { ...DCL_ENAS_DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
  if (!(o.budget >= 2 && o.initial >= 2 && o.initial <= o.budget)) throw new Error(`dclEnas: need 2 <= initial (${o.initial}) <= budget (${o.budget})`);
  if (!(o.infill >= 1 && o.population >= 1 && o.offspring >= 1 && o.generations >= 0)) throw new Error('dclEnas: infill, population and offspring must be >= 1, generations >= 0');
  const rand = cpuRandom(o.seed);
  const cells = archs.map(parseNb201);
  const indexOf = new Map<number, number>();
  cells.forEach((c, i) => indexOf.set(cellId(c), i));
  const history: { index: number; accuracy: number }[] = [];
  const evaluated = new Map<number, number>();
  const evaluate = (i: number) => {
    const accuracy = query(i);
    evaluated.set(i, accuracy);
    history.push({ index: i, accuracy });
  };
  while (evaluated.size < o.initial) {
    const i = Math.floor(rand() * cells.length);
    if (!evaluated.has(i)) evaluate(i);
  }

  const predictor = new ContrastivePredictor({ seed: o.seed, ...o.predictor });
  try {
    return await evolve();
  } finally {
    // Also when the oracle ends the search by throwing (its budget is spent).
    predictor.dispose();
  }

  async function evolve(): Promise<DclEnasResult> {
    if (o.pretrain) await predictor.pretrain();
    const fineTune = () => {
      const idx = [...evaluated.keys()];
      return predictor.fineTune(idx.map((i) => cells[i]), idx.map((i) => evaluated.get(i)!));
    };
    await fineTune();

    // The population starts from the best evaluated cells.
    let population = [...evaluated.keys()].sort((a, b) => evaluated.get(b)! - evaluated.get(a)!).slice(0, o.population);
    const mutate = (i: number): number => {
      const next: number[] = cells[i].slice();
      const edge = Math.floor(rand() * NB201_EDGE_COUNT);
      next[edge] = (next[edge] + 1 + Math.floor(rand() * (NB201_OPS.length - 1))) % NB201_OPS.length;
      const j = indexOf.get(cellId(next));
      if (j === undefined) throw new Error(`dclEnas: cell ${formatNb201(next)} is not in the table`);
      return j;
    };

    while (evaluated.size < o.budget) {
      let scores = new Map<number, number>();
      for (let g = 0; g < o.generations; g++) {
        const pool = new Set(population);
        for (let k = 0; k < o.offspring; k++) pool.add(mutate(population[Math.floor(rand() * population.length)]));
        const members = [...pool];
        const s = await predictor.predict(members.map((i) => cells[i]));
        scores = new Map(members.map((i, k) => [i, s[k]]));
        population = members.sort((a, b) => scores.get(b)! - scores.get(a)!).slice(0, o.population);
      }
      const want = Math.min(o.infill, o.budget - evaluated.size);
      const picks = population.filter((i) => !evaluated.has(i)).slice(0, want);
      // Too few new cells in the population (e.g. generations 0): mutants of it, then random cells.
      for (let tries = 0; picks.length < want && tries < 100 * want; tries++) {
        const j = tries < 50 * want ? mutate(population[Math.floor(rand() * population.length)]) : Math.floor(rand() * cells.length);
        if (!evaluated.has(j) && !picks.includes(j)) picks.push(j);
      }
      for (const i of picks) evaluate(i);
      if (evaluated.size < o.budget) await fineTune();
    }

    let best = history[0];
    for (const h of history) if (h.accuracy > best.accuracy) best = h;
    return { best: { index: best.index, arch: archs[best.index], accuracy: best.accuracy }, history };
  }
}

/** All 15,625 cells as arch strings, indexed by their base-5 code (cellId). */
let allArchs: string[] | null = null;
const archsByCode = () => (allArchs ??= Array.from({ length: NB201_CELL_COUNT }, (_, id) => formatNb201(cellFromId(id))));

export const DCL_ENAS = registerTableStrategy({
  name: 'dcl-enas',
  title: 'DCL-ENAS',
  help: 'DCL-ENAS (SPEC 8): evolution whose environmental selection is a contrastive predictor trained on the engine (GPU), re-fine-tuned on each round of real evaluations',
  usesGpu: true,
  flags: {
    'dcl-initial': { type: 'int', default: DCL_ENAS_DEFAULTS.initial, min: 2, help: 'dcl-enas: N, random cells evaluated before the first fine-tuning (our choice; not published)' },
    'dcl-population': { type: 'int', default: DCL_ENAS_DEFAULTS.population, min: 1, help: 'dcl-enas: EA population kept by predicted score (our choice)' },
    'dcl-offspring': { type: 'int', default: DCL_ENAS_DEFAULTS.offspring, min: 1, help: 'dcl-enas: offspring per generation, one edge mutated (our choice)' },
    'dcl-generations': { type: 'int', default: DCL_ENAS_DEFAULTS.generations, min: 0, help: 'dcl-enas: t_gap, EA generations between rounds of real evaluations (our choice)' },
    'dcl-infill': { type: 'int', default: DCL_ENAS_DEFAULTS.infill, min: 1, help: 'dcl-enas: N_infill, cells evaluated for real per round (our choice)' },
    'dcl-pretrain': { type: 'bool', default: DCL_ENAS_DEFAULTS.pretrain, help: 'dcl-enas: stage 1, contrastive pre-training on unlabeled cells' },
  },
  async searchTable(bench, f, rng) {
    if (bench.edges !== NB201_EDGE_COUNT || bench.opsPerEdge !== NB201_OPS.length) {
      throw new Error(`dcl-enas: searches NAS-Bench-201 cells (6 edges, 5 ops), not ${bench.edges} x ${bench.opsPerEdge}`);
    }
    // The oracle counts the budget and ends the search by throwing when it is spent.
    await dclEnas(archsByCode(), (id) => bench.query(cellFromId(id)), {
      budget: Number.MAX_SAFE_INTEGER,
      initial: f['dcl-initial'] as number | undefined,
      population: f['dcl-population'] as number | undefined,
      offspring: f['dcl-offspring'] as number | undefined,
      generations: f['dcl-generations'] as number | undefined,
      infill: f['dcl-infill'] as number | undefined,
      pretrain: f['dcl-pretrain'] as boolean | undefined,
      seed: Math.floor(rng() * 2 ** 32),
    });
  },
});
