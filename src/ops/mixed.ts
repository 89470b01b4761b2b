// The DARTS MixedOp: out = sum_k weights[k] * xs[k], with weights = softmax(alpha) a GPU tensor
// that is never read back. A kernel binds at most 16 storage buffers and a cell's edge has 22+
// candidates, so the sum runs 8 terms per dispatch, accumulating into the output.
// Backward: dxs[k] = weights[k] * g; dweights[k] = sum(g * xs[k]), parallel dot products
// written into an [N] tensor on the GPU. Also the dot-product helpers the gradient norm uses.

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { Tensor, fmt } from '../tensor.js';
import { record, needsGrad } from '../tape.js';
import weightedSumSource from '../../shaders/mixed/weighted_sum.wgsl';
import scaleMultiSource from '../../shaders/mixed/scale_multi.wgsl';
import rowScaleSource from '../../shaders/mixed/row_scale.wgsl';
import dotPartialsSource from '../../shaders/mixed/dot_partials.wgsl';
import sumRowsSource from '../../shaders/mixed/sum_rows.wgsl';

/** The vec4<f32> variant of a kernel written over `alias V = f32;` (lengths multiple of 4). */
function vec4Variant(name: string, source: string): Kernel {
  const scalar = 'alias V = f32;';
  if (!source.includes(scalar)) throw new Error(`kernel ${name}: no '${scalar}' line to specialise`);
  return new Kernel(name, source.replace(scalar, 'alias V = vec4<f32>;'));
}

const weightedSumKernel = new Kernel('weighted_sum', weightedSumSource);
const weightedSumVec4Kernel = vec4Variant('weighted_sum_vec4', weightedSumSource);
const scaleMultiKernel = new Kernel('scale_multi', scaleMultiSource);
const scaleMultiVec4Kernel = vec4Variant('scale_multi_vec4', scaleMultiSource);
const rowScaleKernel = new Kernel('row_scale', rowScaleSource);
const dotPartialsKernel = new Kernel('dot_partials', dotPartialsSource);
const dotPartialsVec4Kernel = vec4Variant('dot_partials_vec4', dotPartialsSource);
const sumRowsKernel = new Kernel('sum_rows', sumRowsSource);

/** Terms per dispatch of weighted_sum and dot_partials (8 inputs + 3 other buffers <= 16). */
export const TERMS_PER_DISPATCH = 8;

// ---- reductions -----------------------------------------------------------------------------

function reduceWorkgroup(): number {
  const wg = gpu().tuning.reduceWorkgroup;
  if (wg > 256 || (wg & (wg - 1)) !== 0) throw new Error(`dot_partials: reduceWorkgroup must be a power of two <= 256, got ${wg}`);
  return wg;
}

/** Workgroups a partial reduction of n values uses (each thread strides over >= ~8 values). */
export function partialGroups(n: number): number {
  const wg = reduceWorkgroup();
  return Math.max(1, Math.min(gpu().tuning.partialGroups, Math.ceil(n / (wg * 8))));
}

/**
 * Writes partials[base + j * groups + k] = partial sums of a . bs[j] (k < groups) for up to 8
 * vectors bs of a's length; `groups` must be partialGroups(a.size).
 */
export function dotPartialsInto(a: Tensor, bs: Tensor[], partials: Tensor, base: number, groups: number): void {
  if (bs.length < 1 || bs.length > TERMS_PER_DISPATCH) throw new Error(`dotPartialsInto: 1..${TERMS_PER_DISPATCH} vectors per dispatch, got ${bs.length}`);
  for (const b of bs) {
    if (b.size !== a.size) throw new Error(`dotPartialsInto: vectors of ${fmt(a.shape)} and ${fmt(b.shape)} differ in size`);
  }
  if (base + bs.length * groups > partials.size) throw new Error(`dotPartialsInto: partials ${fmt(partials.shape)} too small`);
  const buffers: Record<string, Tensor['buffer']> = { a: a.buffer, partials: partials.buffer };
  for (let j = 0; j < TERMS_PER_DISPATCH; j++) buffers[`b${j}`] = (bs[j] ?? a).buffer;
  const vec4 = a.size % 4 === 0;
  gpu().dispatch(vec4 ? dotPartialsVec4Kernel : dotPartialsKernel, buffers, { n: vec4 ? a.size / 4 : a.size, groups, base }, [groups],
    { WG: reduceWorkgroup(), TERMS: bs.length, WIDTH: vec4 ? 4 : 1 });
}

/** out[outOffset + r] = (sqrt?)(sum of partials[base + r*len .. base + r*len + len - 1]). */
export function sumRowsInto(partials: Tensor, rows: number, len: number, base: number, out: Tensor, outOffset = 0, sqrt = false): void {
  if (base + rows * len > partials.size || outOffset + rows > out.size) {
    throw new Error(`sumRowsInto: ${rows} rows of ${len} from ${fmt(partials.shape)} into ${fmt(out.shape)} out of range`);
  }
  gpu().dispatch1d(sumRowsKernel, { partials: partials.buffer, out: out.buffer }, { rows, len, base, out_offset: outOffset }, rows, { SQRT: sqrt ? 1 : 0 });
}

/** [bs.length] tensor of the dot products a . bs[k], computed on the GPU. */
export function dotProducts(a: Tensor, bs: Tensor[]): Tensor {
  const groups = partialGroups(a.size);
  const out = Tensor.empty([bs.length], 'f32', 'dotProducts');
  if (bs.length === 0) return out;
  const partials = Tensor.empty([bs.length * groups], 'f32', 'dotPartials');
  for (let k = 0; k < bs.length; k += TERMS_PER_DISPATCH) {
    dotPartialsInto(a, bs.slice(k, k + TERMS_PER_DISPATCH), partials, k * groups, groups);
  }
  sumRowsInto(partials, bs.length, groups, 0, out);
  partials.release();
  return out;
}

// ---- weighted sum ---------------------------------------------------------------------------

function checkWeightedSum(xs: Tensor[], weights: Tensor): void {
  if (!Array.isArray(xs) || xs.length === 0) throw new Error('weightedSum: needs at least one input tensor');
  const shape = xs[0].shape;
  xs.forEach((x, k) => {
    if (x.dtype !== 'f32') throw new Error(`weightedSum: input ${k} ${fmt(x.shape)} is ${x.dtype}, needs f32`);
    if (x.shape.length !== shape.length || x.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`weightedSum: input ${k} has shape ${fmt(x.shape)} but input 0 has ${fmt(shape)}`);
    }
  });
  if (weights.dtype !== 'f32') throw new Error(`weightedSum: weights ${fmt(weights.shape)} are ${weights.dtype}, need f32`);
  const grouped = weights.shape.length === 2;
  if (!(weights.shape.length === 1 || grouped) || weights.shape[weights.shape.length - 1] !== xs.length) {
    throw new Error(`weightedSum: weights ${fmt(weights.shape)} must be [${xs.length}] (one per input) or [groups, ${xs.length}] (inputs ${fmt(shape)})`);
  }
  if (grouped && (shape.length === 0 || weights.shape[0] < 1 || shape[0] % weights.shape[0] !== 0)) {
    throw new Error(`weightedSum: inputs ${fmt(shape)} do not split into ${weights.shape[0]} batch groups (weights ${fmt(weights.shape)})`);
  }
}

/**
 * out = sum_k weights[k] * xs[k] (no gradient; out must not be one of xs). With weights
 * [G, K] the batch is G groups, group g mixed by row g (EG scores G candidates in one pass).
 */
export function weightedSumInto(out: Tensor, xs: Tensor[], weights: Tensor): Tensor {
  checkWeightedSum(xs, weights);
  if (out.size !== xs[0].size) throw new Error(`weightedSumInto: output ${fmt(out.shape)} for inputs ${fmt(xs[0].shape)}`);
  const G = weights.rank === 2 ? weights.shape[0] : 1;
  const groupSize = out.size / G;
  const vec4 = groupSize % 4 === 0;
  const n = vec4 ? out.size / 4 : out.size;
  const groupLen = Math.max(1, vec4 ? groupSize / 4 : groupSize);
  const wStride = G > 1 ? xs.length : 0;
  for (let k = 0; k < xs.length; k += TERMS_PER_DISPATCH) {
    const terms = Math.min(TERMS_PER_DISPATCH, xs.length - k);
    const buffers: Record<string, Tensor['buffer']> = { w: weights.buffer, out: out.buffer };
    for (let j = 0; j < TERMS_PER_DISPATCH; j++) buffers[`x${j}`] = xs[k + Math.min(j, terms - 1)].buffer;
    gpu().dispatch1d(vec4 ? weightedSumVec4Kernel : weightedSumKernel, buffers, { n, w_offset: k, group_len: groupLen, w_stride: wStride }, n, { TERMS: terms, ACC: k === 0 ? 0 : 1 });
  }
  return out;
}

/** weights[indices[j]] * g for each j, as fresh tensors of g's shape (g read once per 8). */
export function scaleByWeights(g: Tensor, weights: Tensor, indices: number[]): Tensor[] {
  for (const k of indices) {
    if (!(Number.isInteger(k) && k >= 0 && k < weights.size)) throw new Error(`scaleByWeights: index ${k} outside weights ${fmt(weights.shape)}`);
  }
  const outs = indices.map(() => Tensor.empty(g.shape));
  if (g.size === 0) return outs;
  const vec4 = g.size % 4 === 0;
  const n = vec4 ? g.size / 4 : g.size;
  for (let k = 0; k < indices.length; k += TERMS_PER_DISPATCH) {
    const terms = Math.min(TERMS_PER_DISPATCH, indices.length - k);
    const idx = Array.from({ length: 8 }, (_, j) => indices[k + Math.min(j, terms - 1)]);
    const buffers: Record<string, Tensor['buffer']> = { w: weights.buffer, g: g.buffer };
    // Writable bindings must not alias: unused slots get their own small buffers.
    const spare: Tensor[] = [];
    for (let j = 0; j < TERMS_PER_DISPATCH; j++) {
      const o = j < terms ? outs[k + j] : (spare[spare.length] = Tensor.empty([1], 'f32', 'unused'));
      buffers[`o${j}`] = o.buffer;
    }
    gpu().dispatch1d(vec4 ? scaleMultiVec4Kernel : scaleMultiKernel, buffers, { n, idx_lo: idx.slice(0, 4), idx_hi: idx.slice(4) }, n, { TERMS: terms });
    for (const t of spare) t.release();
  }
  return outs;
}

/** out[i] = scales[floor(i / row)] * g[i]: a per-row (per-sample) scale. */
export function scaleRows(g: Tensor, scales: Tensor, row: number): Tensor {
  if (scales.size * row !== g.size) throw new Error(`scaleRows: ${scales.size} scales of rows of ${row} for ${fmt(g.shape)}`);
  const out = Tensor.empty(g.shape);
  gpu().dispatch1d(rowScaleKernel, { scales: scales.buffer, x: g.buffer, out: out.buffer }, { n: g.size, row: Math.max(row, 1) }, g.size);
  return out;
}

/**
 * The MixedOp gradients: dxs[k] = weights[k] * g where wanted (null elsewhere), and
 * dweights[k] = sum(g * xs[k]) as a [N] tensor when wanted.
 */
export function weightedSumBackward(
  g: Tensor, xs: Tensor[], weights: Tensor,
  want: { inputs?: boolean[]; weights?: boolean } = {},
): { dxs: (Tensor | null)[]; dweights: Tensor | null } {
  checkWeightedSum(xs, weights);
  if (weights.rank !== 1) throw new Error(`weightedSumBackward: weights ${fmt(weights.shape)} in batch groups have no backward`);
  if (g.size !== xs[0].size) throw new Error(`weightedSumBackward: gradient ${fmt(g.shape)} for inputs ${fmt(xs[0].shape)}`);
  const wanted = xs.map((_, k) => k).filter((k) => want.inputs?.[k] ?? true);
  const scaled = scaleByWeights(g, weights, wanted);
  const dxs: (Tensor | null)[] = xs.map(() => null);
  wanted.forEach((k, j) => (dxs[k] = scaled[j]));
  const dweights = want.weights ?? true ? dotProducts(g, xs) : null;
  return { dxs, dweights };
}

export function weightedSum(xs: Tensor[], weights: Tensor): Tensor {
  checkWeightedSum(xs, weights);
  if (weights.rank === 2 && needsGrad(...xs, weights)) {
    throw new Error(`weightedSum: weights in batch groups ${fmt(weights.shape)} are forward only; run under noGrad`);
  }
  const out = weightedSumInto(Tensor.empty(xs[0].shape), xs, weights);
  return record(out, 'weightedSum', [...xs, weights], (g) => {
    const { dxs, dweights } = weightedSumBackward(g, xs, weights, {
      inputs: xs.map((x) => x.requiresGrad),
      weights: weights.requiresGrad,
    });
    return [...dxs, dweights];
  });
}
