// BioNAS-EG's arithmetic on candidates, as EG-NAS computes it; pure functions of plain arrays.
// A candidate is the alpha matrices flattened in order (normal then reduce): rows of `pairs`
// values, one row per edge, all cell types alike.
//   - A candidate's rows are L2-normalised per edge; the supernet scores it with the softmax of
//     those rows as the op weights (scoreWeights).
//   - sim = mean over edges and cell types of (cos(normalised row, softmax(alpha) row) + 1) / 2,
//     in [0, 1], against the current architecture's rows.
//   - fitness = CE + 0.4 sim when the candidate is at least as accurate as the current
//     architecture on the batch, else CE - 0.4 sim (lower is better): among good candidates the
//     ones unlike the current architecture win; poor ones are pulled towards it.
//   - The best candidate moves the alphas: alpha <- alpha + eta d_t, d_t = momentum d_{t-1} + d,
//     d the softmax of the best candidate's normalised rows.

import { softmaxRows } from '../derive.js';

/** EG-NAS' weight of the similarity term. */
export const EG_DIVERSITY_WEIGHT = 0.4;

/** EG-NAS' floor of the CMA-ES step size. */
export const EG_MIN_SIGMA = 0.02;

/** CMA-ES step size of (global, 0-based, warm-up included) epoch `epoch`: max(1 / (epoch + 1), 0.02). */
export function egSigma(epoch: number, minSigma = EG_MIN_SIGMA): number {
  return Math.max(1 / (epoch + 1), minSigma);
}

/** Each row of `cols` values scaled to unit L2 norm (a zero row stays zero). */
export function normaliseRows(x: ArrayLike<number>, cols: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / cols; r++) {
    let ss = 0;
    for (let c = 0; c < cols; c++) ss += x[r * cols + c] ** 2;
    const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    for (let c = 0; c < cols; c++) out[r * cols + c] = x[r * cols + c] * inv;
  }
  return out;
}

/** Softmax of each row of `cols` values (derive.ts's softmaxRows, rows taken from the length). */
export function rowSoftmax(x: ArrayLike<number>, cols: number): Float64Array {
  return softmaxRows(x, x.length / cols, cols);
}

/** The op weights the supernet uses for a candidate: softmax of its normalised rows. */
export function scoreWeights(candidate: ArrayLike<number>, cols: number): Float64Array {
  return rowSoftmax(normaliseRows(candidate, cols), cols);
}

/** sim in [0, 1]: the mean over rows of (cos(normalised candidate row, current row) + 1) / 2. */
export function similarity(candidate: ArrayLike<number>, currentWeights: ArrayLike<number>, cols: number): number {
  const a = normaliseRows(candidate, cols);
  const rows = a.length / cols;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let ab = 0, bb = 0, aa = 0;
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      ab += a[i] * currentWeights[i];
      aa += a[i] * a[i];
      bb += currentWeights[i] * currentWeights[i];
    }
    const cos = aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
    total += (cos + 1) / 2;
  }
  return total / rows;
}

/** EG-NAS' compound fitness (lower is better). */
export function compoundFitness(loss: number, acc: number, currentAcc: number, sim: number, weight = EG_DIVERSITY_WEIGHT): number {
  return acc >= currentAcc ? loss + weight * sim : loss - weight * sim;
}

/** d_t = momentum * d_{t-1} + d, with d = scoreWeights(best): the direction the alphas move. */
export function moveDirection(best: ArrayLike<number>, cols: number, previous: ArrayLike<number> | null, momentum: number): Float64Array {
  const d = scoreWeights(best, cols);
  if (previous && momentum !== 0) for (let i = 0; i < d.length; i++) d[i] += momentum * previous[i];
  return d;
}

/** alpha + eta * d. */
export function moveAlphas(alphas: ArrayLike<number>, d: ArrayLike<number>, eta: number): Float64Array {
  return Float64Array.from(alphas, (a, i) => a + eta * d[i]);
}

/** Mean distance of the candidates from their centroid (population diversity). */
export function spread(xs: ArrayLike<number>[]): number {
  if (xs.length === 0) return 0;
  const n = xs[0].length;
  const centroid = new Float64Array(n);
  for (const x of xs) for (let i = 0; i < n; i++) centroid[i] += x[i] / xs.length;
  let total = 0;
  for (const x of xs) {
    let ss = 0;
    for (let i = 0; i < n; i++) ss += (x[i] - centroid[i]) ** 2;
    total += Math.sqrt(ss);
  }
  return total / xs.length;
}
