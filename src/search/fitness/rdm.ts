// Training-free fitness of a spiking network from representational dissimilarity matrices
// (RDMs; Kriegeskorte et al. 2008) of its spike-count features, for MSE-NAS (SPEC 10).
// Input: per layer a [N, F] f32 tensor of spike counts per image of a fixed batch.
// On the GPU each layer gives one Gram matrix G = X X^T (the engine's matmul) and the row sums
// s = X 1; only these N x N + N numbers are read back (once per scored genome; scoring is not a
// training step). Everything else is O(N^2) float64 work on the CPU:
//   pearson    1 - corr(x_i, x_j), from G_ij - s_i s_j / F over the centred norms;
//   cosine     1 - G_ij / sqrt(G_ii G_jj);
//   euclidean  ||x_i - x_j|| / (sqrt(F) rbar), rbar the layer's mean count per feature: the RMS
//              difference per feature in units of the mean firing rate, so layers of different
//              activity are comparable when their RDMs are averaged.
// Spike counts are small integers, so the f32 Gram is exact while its sums stay below 2^24;
// the centring for pearson then loses nothing.
// A sample with no variance (pearson) or no spikes (cosine) is at dissimilarity 0 from another
// such sample (both carry nothing: indistinguishable) and 1 from every other sample.
// The scores (higher is better) and the released code's Hamming-kernel baseline are listed in
// RDM_FITNESSES; docs/MSE-NAS.md has the table.

import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { Tensor, fmt, scope } from '../../tensor.js';
import { noGrad } from '../../context.js';
import { matmulRaw } from '../../ops/matmul.js';
import { planReduce, sumRaw } from '../../ops/reduce.js';
import { reluBackward } from '../../ops/elementwise.js';
import { ones } from '../../ops/fill.js';
import { kendallTau, spearmanRho } from './rank.js';

export type RdmMetric = 'pearson' | 'cosine' | 'euclidean';

/** One layer as read back: its Gram matrix (row-major N x N) and per-sample sums. */
export interface LayerGram {
  n: number;
  features: number;
  gram: Float64Array;
  sums: Float64Array;
}

/** The released code's epsilon in the Hamming kernel's rescaling (MSE-NAS obj.py: norm_K + 1e-3). */
export const HAMMING_EPSILON = 1e-3;

function checkLayers(layers: readonly Tensor[]): number {
  if (layers.length === 0) throw new Error('rdm: no layers given');
  const n = layers[0].shape[0];
  layers.forEach((t, l) => {
    if (t.rank !== 2 || t.dtype !== 'f32') throw new Error(`rdm: layer ${l} is ${t.dtype} ${fmt(t.shape)}; needs f32 [N, F]`);
    if (t.shape[0] !== n) throw new Error(`rdm: layer ${l} has ${t.shape[0]} samples, layer 0 has ${n}`);
    if (t.shape[1] < 1) throw new Error(`rdm: layer ${l} has no features ${fmt(t.shape)}`);
  });
  if (n < 2) throw new Error(`rdm: needs at least 2 samples, got ${n}`);
  return n;
}

/**
 * Gram matrices and row sums of every layer, recorded on the GPU and then read back together.
 * binary: of the binarised features [x > 0] (the Hamming kernel's spike patterns).
 */
export async function layerGrams(layers: readonly Tensor[], binary = false): Promise<LayerGram[]> {
  checkLayers(layers);
  const recorded = noGrad(() => scope(() => layers.map((x) => {
    // [x > 0] as the ReLU backward of ones: no kernel of its own.
    const src = binary ? reluBackward(ones(x.shape), x) : x;
    return { gram: matmulRaw(src, src, { transB: true }), sums: sumRaw(src, planReduce('sum', src.shape, 1, false)) };
  })));
  try {
    // Every copy is recorded before the first wait: the read-backs share one round trip.
    const read = await Promise.all(recorded.flatMap((r) => [r.gram.data(), r.sums.data()]));
    return layers.map((t, l) => ({ n: t.shape[0], features: t.shape[1], gram: Float64Array.from(read[2 * l]), sums: Float64Array.from(read[2 * l + 1]) }));
  } finally {
    for (const r of recorded) {
      r.gram.release();
      r.sums.release();
    }
  }
}

/** The RDM (row-major N x N, symmetric, zero diagonal) of one layer. */
export function rdmFromGram(g: LayerGram, metric: RdmMetric): Float64Array {
  const { n, features: F, gram: G, sums: s } = g;
  const d = new Float64Array(n * n);
  if (metric === 'euclidean') {
    const total = s.reduce((a, v) => a + v, 0);
    const rbar = total / (n * F);
    if (!(rbar > 0)) return d; // a silent layer: every sample is the same
    const unit = 1 / (Math.sqrt(F) * rbar);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const sq = Math.max(0, G[i * n + i] + G[j * n + j] - 2 * G[i * n + j]);
        d[i * n + j] = d[j * n + i] = Math.sqrt(sq) * unit;
      }
    }
    return d;
  }
  // Pearson centres each row: C_ij = G_ij - s_i s_j / F; cosine uses G as it is.
  const c = (i: number, j: number) => (metric === 'pearson' ? G[i * n + j] - (s[i] * s[j]) / F : G[i * n + j]);
  const norm = Float64Array.from({ length: n }, (_, i) => Math.sqrt(Math.max(0, c(i, i))));
  // Below this a row is constant: for counts the Gram is exact and a non-constant row has a centred
  // squared norm of at least (F - 1) / F; for other features, f32 rounding of G_ii is ~1e-7 G_ii.
  const tiny = Math.min(0.25, 1e-6 * Math.max(1, ...Array.from({ length: n }, (_, i) => G[i * n + i])));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const flatI = norm[i] * norm[i] <= tiny, flatJ = norm[j] * norm[j] <= tiny;
      let v: number;
      if (flatI || flatJ) v = flatI && flatJ ? 0 : 1;
      else v = 1 - Math.min(1, Math.max(-1, c(i, j) / (norm[i] * norm[j])));
      d[i * n + j] = d[j * n + i] = v;
    }
  }
  return d;
}

/**
 * The released code's label-free kernel (MSE-NAS obj.py, after SNASNet): on binarised spike
 * patterns with firing rates p_i, K_ij = F - 0.5 H_ij / (F (p_i (1 - p_j) + (1 - p_i) p_j) + eps),
 * H the Hamming distance: agreement rescaled by the distance two independent patterns of those
 * rates would have. From the Gram B B^T and the counts: H_ij = |b_i| + |b_j| - 2 (B B^T)_ij.
 */
export function hammingKernel(g: LayerGram): Float64Array {
  const { n, features: F, gram: G, sums: s } = g;
  const K = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const pi = s[i] / F, pj = s[j] / F;
      const hamming = s[i] + s[j] - 2 * G[i * n + j];
      const expected = F * (pi * (1 - pj) + (1 - pi) * pj);
      K[i * n + j] = F - (0.5 * hamming) / (expected + HAMMING_EPSILON);
    }
  }
  return K;
}

/** log |det A| of a row-major n x n matrix (LU with partial pivoting, float64); -Infinity if singular. */
export function logAbsDet(A: Float64Array, n: number): number {
  const a = Float64Array.from(A);
  let logdet = 0;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(a[i * n + k]) > Math.abs(a[p * n + k])) p = i;
    const pivot = a[p * n + k];
    if (pivot === 0) return -Infinity;
    if (p !== k) for (let j = 0; j < n; j++) [a[k * n + j], a[p * n + j]] = [a[p * n + j], a[k * n + j]];
    logdet += Math.log(Math.abs(pivot));
    for (let i = k + 1; i < n; i++) {
      const f = a[i * n + k] / pivot;
      if (f !== 0) for (let j = k + 1; j < n; j++) a[i * n + j] -= f * a[k * n + j];
    }
  }
  return logdet;
}

/** The N(N-1)/2 entries above the diagonal, row by row. */
export function upperTriangle(m: Float64Array, n: number): Float64Array {
  const out = new Float64Array((n * (n - 1)) / 2);
  let k = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) out[k++] = m[i * n + j];
  return out;
}

/** The ideal RDM of the labels: 0 for a pair of the same class, 1 otherwise. */
export function labelRdm(labels: ArrayLike<number>): Float64Array {
  const n = labels.length;
  const d = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) d[i * n + j] = labels[i] === labels[j] ? 0 : 1;
  return d;
}

function checkLabels(labels: ArrayLike<number> | undefined, n: number, name: string): ArrayLike<number> {
  if (!labels) throw new Error(`RDM fitness '${name}' needs labels`);
  if (labels.length !== n) throw new Error(`RDM fitness '${name}': ${labels.length} labels for ${n} samples`);
  let same = false, different = false;
  for (let i = 0; i < n && !(same && different); i++) {
    for (let j = i + 1; j < n; j++) {
      if (labels[i] === labels[j]) same = true;
      else different = true;
    }
  }
  if (!same || !different) throw new Error(`RDM fitness '${name}': the batch needs two samples of one class and two classes (got labels ${Array.from(labels).slice(0, 10).join(',')}...)`);
  return labels;
}

/** Rank correlation of the RDM's upper triangle with the label RDM's (representational similarity); 0 when undefined (a constant RDM). */
export function rsaScore(d: Float64Array, labels: ArrayLike<number>, correlation: 'spearman' | 'kendall'): number {
  const n = labels.length;
  const net = upperTriangle(d, n), ideal = upperTriangle(labelRdm(labels), n);
  const r = correlation === 'spearman' ? spearmanRho(net, ideal) : kendallTau(net, ideal);
  return Number.isNaN(r) ? 0 : r;
}

/** (mean between-class dissimilarity - mean within-class) / std of all pairs' dissimilarity; 0 for a constant RDM. */
export function separationScore(d: Float64Array, labels: ArrayLike<number>): number {
  const n = labels.length;
  let within = 0, nw = 0, between = 0, nb = 0, sum = 0, sq = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = d[i * n + j];
      sum += v;
      sq += v * v;
      if (labels[i] === labels[j]) [within, nw] = [within + v, nw + 1];
      else [between, nb] = [between + v, nb + 1];
    }
  }
  const pairs = nw + nb;
  const variance = sq / pairs - (sum / pairs) ** 2;
  return variance > 1e-24 ? (between / nb - within / nw) / Math.sqrt(variance) : 0;
}

/** Effective rank (Roy & Vetterli 2007) of the similarity 1 - d: exp of the entropy of its normalised |eigenvalues|; in [1, N]. */
export function effectiveRankScore(d: Float64Array, n: number): number {
  const S = new Matrix(n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) S.set(i, j, 1 - d[i * n + j]);
  const eig = new EigenvalueDecomposition(S, { assumeSymmetric: true }).realEigenvalues.map(Math.abs);
  const total = eig.reduce((a, v) => a + v, 0);
  if (!(total > 0)) return 1;
  let entropy = 0;
  for (const v of eig) if (v > 0) entropy -= (v / total) * Math.log(v / total);
  return Math.exp(entropy);
}

/** Mean off-diagonal dissimilarity: how far apart the network puts the inputs. */
export function spreadScore(d: Float64Array, n: number): number {
  const up = upperTriangle(d, n);
  return up.reduce((a, v) => a + v, 0) / up.length;
}

export type FitnessSource = 'paper' | 'released code' | 'bionas choice';

/** One named variant: how a layer's Gram becomes a matrix, and how a matrix becomes a score. */
export interface RdmFitness {
  name: string;
  needsLabels: boolean;
  /** Gram of the binarised spike patterns instead of the counts. */
  binary: boolean;
  /** The layer's matrix (an RDM, or for the baseline the kernel K); layers' matrices are averaged. */
  matrix: (g: LayerGram) => Float64Array;
  score: (m: Float64Array, n: number, labels?: ArrayLike<number>) => number;
  description: string;
  source: FitnessSource;
}

const rdmOf = (metric: RdmMetric) => (g: LayerGram) => rdmFromGram(g, metric);

/** A table entry; a label-aware one checks the labels before scoring. */
function entry(e: RdmFitness): RdmFitness {
  if (!e.needsLabels) return e;
  return { ...e, score: (m, n, labels) => e.score(m, n, checkLabels(labels, n, e.name)) };
}

/** The variants (docs/MSE-NAS.md shows this table). Every score: higher is better. */
export const RDM_FITNESSES: readonly RdmFitness[] = [
  entry({
    name: 'rsa-spearman', needsLabels: true, binary: false, matrix: rdmOf('pearson'),
    score: (m, _n, l) => rsaScore(m, l!, 'spearman'),
    description: 'Spearman rho between the 1 - Pearson RDM and the 0/1 same-class RDM (upper triangles)',
    source: 'paper',
  }),
  entry({
    name: 'rsa-kendall', needsLabels: true, binary: false, matrix: rdmOf('pearson'),
    score: (m, _n, l) => rsaScore(m, l!, 'kendall'),
    description: 'Kendall tau-b between the 1 - Pearson RDM and the 0/1 same-class RDM',
    source: 'paper',
  }),
  entry({
    name: 'rsa-cosine', needsLabels: true, binary: false, matrix: rdmOf('cosine'),
    score: (m, _n, l) => rsaScore(m, l!, 'spearman'),
    description: 'Spearman rho between the cosine-distance RDM and the same-class RDM',
    source: 'bionas choice',
  }),
  entry({
    name: 'separation', needsLabels: true, binary: false, matrix: rdmOf('pearson'),
    score: (m, _n, l) => separationScore(m, l!),
    description: '(between-class - within-class mean 1 - Pearson dissimilarity) / std over pairs',
    source: 'bionas choice',
  }),
  entry({
    name: 'separation-euclidean', needsLabels: true, binary: false, matrix: rdmOf('euclidean'),
    score: (m, _n, l) => separationScore(m, l!),
    description: 'as separation, on Euclidean distances in units of the layer\'s mean firing rate',
    source: 'bionas choice',
  }),
  entry({
    name: 'effective-rank', needsLabels: false, binary: false, matrix: rdmOf('pearson'),
    score: (m, n) => effectiveRankScore(m, n),
    description: 'effective rank of the correlation matrix 1 - RDM (label-free; 1 = every input alike, N = all uncorrelated)',
    source: 'bionas choice',
  }),
  entry({
    name: 'spread', needsLabels: false, binary: false, matrix: rdmOf('pearson'),
    score: (m, n) => spreadScore(m, n),
    description: 'mean off-diagonal 1 - Pearson dissimilarity (label-free)',
    source: 'bionas choice',
  }),
  entry({
    name: 'hamming-logdet', needsLabels: false, binary: true, matrix: hammingKernel,
    score: (m, n) => logAbsDet(m, n),
    description: 'log|det K| of the firing-rate-normalised Hamming kernel of binarised spikes (NASWOT-style; -Infinity when K is singular)',
    source: 'released code',
  }),
];

export function rdmFitness(name: string): RdmFitness {
  const f = RDM_FITNESSES.find((e) => e.name === name);
  if (!f) throw new Error(`unknown RDM fitness '${name}'; known: ${RDM_FITNESSES.map((e) => e.name).join(', ')}`);
  return f;
}

export interface RdmScore {
  /** The score of the layers' averaged matrix (the released code also averages its kernel over layers). */
  score: number;
  /** Each layer's own score. */
  perLayer: number[];
}

/** Scores a network's per-layer spike-count features [N, F] with a named variant. */
export async function scoreLayers(layers: readonly Tensor[], name: string, labels?: ArrayLike<number>): Promise<RdmScore> {
  const f = rdmFitness(name);
  const n = checkLayers(layers);
  if (f.needsLabels) checkLabels(labels, n, name);
  const grams = await layerGrams(layers, f.binary);
  const matrices = grams.map((g) => f.matrix(g));
  const mean = new Float64Array(n * n);
  for (const m of matrices) for (let i = 0; i < m.length; i++) mean[i] += m[i] / matrices.length;
  return { score: f.score(mean, n, labels), perLayer: matrices.map((m) => f.score(m, n, labels)) };
}
