// G-ICSO-NAS' diversity-aware fitness of a swarm of alpha vectors (SPEC 9 names the idea; its
// form is not published): a particle's fitness is its cross-entropy on the generation's
// held-out batch minus lambda times its distance from the swarm:
//   fitness_i = CE_i - lambda * dist_i,  dist_i = mean over edges of (1 - cos(w_i, w_mean))
// where w_i are the particle's op weights (row softmax of its alphas, what the supernet mixes)
// and w_mean those of the swarm's mean position. Lower is better: of two equally accurate
// particles the one away from the crowd wins its competition, which slows the swarm's
// collapse. lambda = 0 (--diversity-weight 0) gives the plain CE fitness.
// The swarm's diversity (the exploration's stop signal) is EG's spread: the mean Euclidean
// distance of the particles from their centroid, in alpha space.

import { rowSoftmax, spread } from './eg_fitness.js';

/** bionas choice (flag --diversity-weight): lambda, as EG-NAS' 0.4 weight of its similarity term. */
export const GICSO_DIVERSITY_WEIGHT = 0.4;

export { spread as swarmSpread };

/** Mean over rows of `cols` values of 1 - cos(a row, b row); in [0, 2], 0 when every row points the same way. */
export function rowCosineDistance(a: ArrayLike<number>, b: ArrayLike<number>, cols: number): number {
  if (a.length !== b.length || a.length % cols !== 0) throw new Error(`rowCosineDistance: lengths ${a.length} and ${b.length} are not equal multiples of ${cols}`);
  const rows = a.length / cols;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let ab = 0, aa = 0, bb = 0;
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      ab += a[i] * b[i];
      aa += a[i] * a[i];
      bb += b[i] * b[i];
    }
    total += 1 - (aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0);
  }
  return total / rows;
}

/** The swarm's mean position. */
export function swarmMean(xs: ArrayLike<number>[]): Float64Array {
  if (xs.length === 0) throw new Error('swarmMean: an empty swarm');
  const m = new Float64Array(xs[0].length);
  for (const x of xs) for (let i = 0; i < m.length; i++) m[i] += x[i] / xs.length;
  return m;
}

/** Each particle's distance from the swarm (op weights against the mean position's op weights). */
export function distancesFromSwarm(xs: ArrayLike<number>[], cols: number): number[] {
  const mean = rowSoftmax(swarmMean(xs), cols);
  return xs.map((x) => rowCosineDistance(rowSoftmax(x, cols), mean, cols));
}

/** fitness_i = CE_i - lambda dist_i for the particles `scored` (indices into the swarm xs). */
export function diversityFitness(losses: number[], scored: number[], xs: ArrayLike<number>[], cols: number, lambda = GICSO_DIVERSITY_WEIGHT): { fitness: number[]; distance: number[] } {
  if (losses.length !== scored.length) throw new Error(`diversityFitness: ${losses.length} losses for ${scored.length} particles`);
  const all = distancesFromSwarm(xs, cols);
  const distance = scored.map((i) => all[i]);
  return { fitness: losses.map((l, k) => l - lambda * distance[k]), distance };
}
