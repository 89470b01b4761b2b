// Matrix products: matmul (2-D, or batched 3-D with an optionally shared operand), linear
// layers (y = x W^T + b, with a learning rule's feedback matrix for the input gradient), and
// the column sums that give a bias gradient. One WGSL source serves every transpose
// combination and tile shape (override constants; shapes travel in uniforms).

import { gpu } from '../gpu/runtime.js';
import type { MatmulTiles, MatmulTextureTiles } from '../gpu/tuning.js';
import type { PooledTexture } from '../gpu/textures.js';
import { Kernel } from '../gpu/kernels.js';
import { Tensor, fmt, type Shape } from '../tensor.js';
import { record } from '../tape.js';
import { exactGradients } from '../context.js';
import matmulSource from '../../shaders/matmul/matmul.wgsl';
import colsumSource from '../../shaders/matmul/colsum.wgsl';
import packSource from '../../shaders/matmul/pack.wgsl';
import matmulTextureSource from '../../shaders/matmul/matmul_texture.wgsl';

const matmulKernel = new Kernel('matmul', matmulSource);
const packKernel = new Kernel('matmul_pack', packSource);
const matmulTextureKernel = new Kernel('matmul_texture', matmulTextureSource);
const colsumKernel = new Kernel('colsum', colsumSource);

export interface MatmulOptions {
  /** Use A transposed: A is stored [K, M] (or [batch, K, M]). */
  transA?: boolean;
  /** Use B transposed: B is stored [N, K] (or [batch, N, K]). */
  transB?: boolean;
}

/** The problem one dispatch solves: C[z] = op(A[z]) op(B[z]) for z < batch. */
interface Gemm {
  batch: number;
  M: number;
  N: number;
  K: number;
  /** Elements between batches of A / B; 0 when the operand is shared. */
  strideA: number;
  strideB: number;
  transA: boolean;
  transB: boolean;
}

function checkF32(op: string, named: Record<string, Tensor | null | undefined>): void {
  for (const [name, t] of Object.entries(named)) {
    if (t && t.dtype !== 'f32') throw new Error(`${op}: ${name} ${fmt(t.shape)} is ${t.dtype}; needs f32`);
  }
}

/** The tile shape for a problem of this many multiply-adds, checked against the kernel's limits. */
function tilesFor(work: number): MatmulTiles {
  const tune = gpu().tuning;
  const t = work >= tune.matmulLargeWork ? tune.matmul : tune.matmulSmall;
  const max = t.SHARED ? 8 : 32;
  const ok = (v: number) => Number.isInteger(v) && v >= 4 && v <= max && v % 4 === 0;
  if (!ok(t.TM) || !ok(t.TN) || !(t.WG_X >= 1 && t.WG_Y >= 1 && t.TK >= 1)) {
    throw new Error(`matmul: tuning ${JSON.stringify(t)} is not a tile shape the kernel holds (TM, TN multiples of 4, at most ${max})`);
  }
  return t;
}

/** Records C = op(A) op(B) (+ bias) into `out` (every element of [batch, M, N] is written). */
function gemm(a: Tensor, b: Tensor, bias: Tensor | null, out: Tensor, g: Gemm): void {
  const { batch, M, N, K, strideA, strideB, transA, transB } = g;
  if (batch === 0 || M === 0 || N === 0) return;
  const rt = gpu();
  const tex = rt.tuning.matmulTexture;
  if (tex && batch * M * N * K >= tex.minWork && gemmTextured(a, b, bias, out, g, tex)) return;
  const t = tilesFor(batch * M * N * K);
  const gx = Math.ceil(N / (t.WG_X * t.TN));
  const gy = Math.ceil(M / (t.WG_Y * t.TM));
  const max = rt.info.limits.maxComputeWorkgroupsPerDimension ?? 65535;
  if (gx > max || gy > max || batch > max) {
    throw new Error(`matmul: [${batch}, ${M}, ${N}] output needs a grid of [${gx}, ${gy}, ${batch}] workgroups; this adapter allows ${max} per dimension`);
  }
  // vec4 loads need the operand's contiguous dimension (and so its batch stride) to be a multiple of 4.
  const vecA = (transA ? M : K) % 4 === 0;
  const vecB = (transB ? K : N) % 4 === 0;
  rt.dispatch(
    matmulKernel,
    { a: a.buffer, a4: a.buffer, b: b.buffer, b4: b.buffer, bias: (bias ?? a).buffer, c: out.buffer },
    { M, N, K, strideA, strideB, strideC: M * N },
    [gx, gy, batch],
    {
      TRANS_A: +transA, TRANS_B: +transB, HAS_BIAS: +!!bias, VEC_A: +vecA, VEC_B: +vecB,
      WG_X: t.WG_X, WG_Y: t.WG_Y, TM: t.TM, TN: t.TN, SHARED: t.SHARED, TK: t.TK,
    },
  );
}

/**
 * Records the product through textures (CPU rasterisers; see matmul_texture.wgsl): each operand
 * is packed (or copied) into a scratch texture, read by one dispatch, and given back; batches
 * whose textures would exceed the adapter's size run in chunks. False (nothing recorded) when
 * not even one batch fits.
 */
function gemmTextured(a: Tensor, b: Tensor, bias: Tensor | null, out: Tensor, g: Gemm, t: MatmulTextureTiles): boolean {
  const { batch, M, N, K, strideA, strideB, transA, transB } = g;
  const textures = gpu().textures;
  const K4 = Math.ceil(K / 4);
  // Texture rows per batch of the batched operands (A: M, B: K padded to 4).
  const rowsPerBatch = Math.max(strideA ? M : 0, strideB ? 4 * K4 : 0);
  const chunk = rowsPerBatch ? Math.min(batch, Math.floor(textures.maxDimension / rowsPerBatch)) : batch;
  if (chunk < 1 || !textures.fits(K4, (strideA ? chunk : 1) * M) || !textures.fits(Math.ceil(N / 4), (strideB ? chunk : 1) * 4 * K4)) return false;
  const product = (n: number, zBase: number) => ({ batch: n, M, N, K4, batchedA: !!strideA, batchedB: !!strideB, zBase });
  if (!texturedProductFits(product(chunk, 0), t)) return false;
  for (let z0 = 0; z0 < batch; z0 += chunk) {
    const n = Math.min(chunk, batch - z0);
    const ta = packMatrixTexture(a, M, K, M, strideA ? n : 1, strideA, transA, 'matmul A', z0 * strideA);
    const tb = packMatrixTexture(b, K, N, 4 * K4, strideB ? n : 1, strideB, transB, 'matmul B', z0 * strideB);
    texturedProduct(ta, tb, bias, a, out, product(n, z0), t);
    textures.release(ta);
    textures.release(tb);
  }
  return true;
}

/** A product of packed operands: C[zBase + z] = op(A_z) op(B_z), z < batch; see matmul_texture.wgsl. */
export interface TexturedProduct {
  batch: number;
  M: number;
  N: number;
  /** K rounded up to a multiple of 4, over 4. */
  K4: number;
  batchedA: boolean;
  batchedB: boolean;
  zBase: number;
  /** B is a dense conv's patch matrix, read from its padded input (see matmul_texture.wgsl). */
  im2col?: ConvPatches;
  /** A is the patch matrix of Pz images per z, C stored transposed (a conv's weight gradient). */
  patchesA?: ConvPatches & { Pz: number; K4total: number };
}

/** The conv geometry of matmul_texture's patch modes: R = C*KH*KW; Hp = padded input height. */
export interface ConvPatches {
  R: number; C: number; OH: number; OW: number; Hp: number; sH: number; dH: number; dW: number; KH: number; KW: number; SW: number;
}

/** The product's grid: `groups` workgroups folded into `rows` rows; `fits` the adapter's limit. */
function productGrid(p: TexturedProduct, t: MatmulTextureTiles): { groups: number; rows: number; fits: boolean } {
  if (!(Number.isInteger(t.TM) && t.TM >= 1 && t.TM <= 16 && t.TN % 4 === 0 && t.TN >= 4 && t.TN <= 32 && t.WG >= 1)) {
    throw new Error(`matmul: tuning.matmulTexture ${JSON.stringify(t)} is not a tile shape the kernel holds (TM 1..16, TN a multiple of 4 up to 32)`);
  }
  const blocks = Math.ceil(p.N / t.TN) * Math.ceil(p.M / t.TM);
  // PATCHES_A numbers its splits with the blocks (see matmul_texture.wgsl).
  const groups = Math.ceil((blocks * (p.patchesA ? p.batch : 1)) / t.WG);
  const max = gpu().info.limits.maxComputeWorkgroupsPerDimension ?? 65535;
  const rows = Math.ceil(groups / max);
  return { groups, rows, fits: rows <= max && p.batch <= max };
}

/** Whether the texture product's grid fits the adapter (it folds blocks into x and y, batch in z). */
export function texturedProductFits(p: TexturedProduct, t: MatmulTextureTiles): boolean {
  return productGrid(p, t).fits;
}

/**
 * Records C = packed A x packed B (+ bias along N) into `out`; the textures stay the caller's.
 * `input` is any tensor other than `out`, bound in the bias slot when there is no bias.
 */
export function texturedProduct(ta: PooledTexture, tb: PooledTexture, bias: Tensor | null, input: Tensor, out: Tensor, p: TexturedProduct, t: MatmulTextureTiles): void {
  if (p.batch === 0 || p.M === 0 || p.N === 0) return;
  const { groups, rows } = productGrid(p, t);
  const im = p.im2col ?? p.patchesA;
  const conv = im
    ? { R: im.R, C: im.C, OH: im.OH, OW: im.OW, Hp: im.Hp, sH: im.sH, dH: im.dH, dW: im.dW, Pz: p.patchesA?.Pz ?? 1, K4total: p.patchesA?.K4total ?? 0 }
    : { R: 1, C: 1, OH: 1, OW: 1, Hp: 1, sH: 1, dH: 1, dW: 1, Pz: 1, K4total: 0 };
  const overrides: Record<string, number> = { HAS_BIAS: +!!bias, WG: t.WG, TM: t.TM, TN4: t.TN / 4 };
  if (im) Object.assign(overrides, { [p.im2col ? 'IM2COL' : 'PATCHES_A']: 1, KH: im.KH, KW: im.KW, SW: im.SW });
  gpu().dispatch(
    matmulTextureKernel,
    { ta, tb, bias: (bias ?? input).buffer, c: out.buffer },
    { M: p.M, N: p.N, K4: p.K4, batchedA: +p.batchedA, batchedB: +p.batchedB, zBase: p.zBase, ...conv },
    [Math.ceil(groups / rows), rows, p.patchesA ? 1 : p.batch],
    overrides,
  );
}

/**
 * op(X_z) [rows, cols] of `batches` batches (X_z at element offset + z * stride) into a scratch
 * texture of ceil(cols / 4) x (batches * rowsPadded) texels, zero past rows and cols: packed
 * by matmul_pack, or copied when X is laid out that way already.
 */
export function packMatrixTexture(x: Tensor, rows: number, cols: number, rowsPadded: number, batches: number, stride: number, trans: boolean, label: string, offset = 0): PooledTexture {
  const rt = gpu();
  const width = Math.ceil(cols / 4);
  const tex = rt.textures.acquire(width, batches * rowsPadded, label);
  // Already in the texture's layout (no transpose, no padding, batches back to back, rows of
  // whole 256-byte runs of texels): a copy command, not a kernel.
  if (!trans && cols % 64 === 0 && rowsPadded === rows && (batches === 1 || stride === rows * cols) && offset % 4 === 0) {
    rt.recorder.copyToTexture(x.buffer, tex, width * batches * rows, offset * 4);
    return tex;
  }
  rt.dispatch(packKernel, { x: x.buffer, out: tex }, { rows, cols, rowsPadded, stride, width, offset },
    [Math.ceil(width / 8), Math.ceil(rowsPadded / 8), batches], { TRANS: +trans });
  return tex;
}

/** Shapes of a matmul: validates and returns the dispatch and the output shape. */
function plan(a: Tensor, b: Tensor, transA: boolean, transB: boolean): { gemm: Gemm; shape: Shape } {
  const what = () => `A ${fmt(a.shape)}${transA ? ' (transposed)' : ''} and B ${fmt(b.shape)}${transB ? ' (transposed)' : ''}`;
  checkF32('matmul', { A: a, B: b });
  if (a.rank < 2 || a.rank > 3 || b.rank < 2 || b.rank > 3) {
    throw new Error(`matmul: operands must be 2-D [rows, cols] or 3-D [batch, rows, cols]; got ${what()}`);
  }
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [M, K] = transA ? [ac, ar] : [ar, ac];
  const [Kb, N] = transB ? [bc, br] : [br, bc];
  if (K !== Kb) throw new Error(`matmul: inner dimensions differ: ${what()} give [${M}, ${K}] x [${Kb}, ${N}]`);
  const batchA = a.rank === 3 ? a.shape[0] : null;
  const batchB = b.rank === 3 ? b.shape[0] : null;
  if (batchA !== null && batchB !== null && batchA !== batchB) throw new Error(`matmul: batch sizes differ: ${what()}`);
  const batch = batchA ?? batchB;
  if (batch === null) return { gemm: { batch: 1, M, N, K, strideA: 0, strideB: 0, transA, transB }, shape: [M, N] };
  // A batched, B shared, A not transposed: one [batch*M, K] x [K, N] product.
  if (batchB === null && !transA) {
    return { gemm: { batch: 1, M: batch * M, N, K, strideA: 0, strideB: 0, transA, transB }, shape: [batch, M, N] };
  }
  return {
    gemm: { batch, M, N, K, strideA: batchA === null ? 0 : M * K, strideB: batchB === null ? 0 : K * N, transA, transB },
    shape: [batch, M, N],
  };
}

/** Sums a [batch, ...rest] tensor over its batch into `shape` (a shared operand's gradient). */
function sumBatch(full: Tensor, shape: Shape): Tensor {
  const batch = full.shape[0];
  const out = Tensor.empty(shape);
  dispatchColsum(full, batch, full.size / batch, out);
  return out;
}

/** matmul without a gradient: for ops that are a matrix product inside (1x1 convs). */
export function matmulRaw(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const { gemm: g, shape } = plan(a, b, !!opts.transA, !!opts.transB);
  const out = Tensor.empty(shape);
  gemm(a, b, null, out, g);
  return out;
}

/**
 * C = op(A) op(B), f32, row-major. A is [M, K] ([K, M] with transA), B is [K, N] ([N, K] with
 * transB); either may carry a leading batch dimension (3-D), the other then being shared by
 * every batch. Differentiable in both operands.
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const transA = !!opts.transA;
  const transB = !!opts.transB;
  const { gemm: g, shape } = plan(a, b, transA, transB);
  const out = Tensor.empty(shape);
  gemm(a, b, null, out, g);
  return record(out, 'matmul', [a, b], (grad) => [
    a.requiresGrad ? matmulGradA(a, b, grad, transA, transB) : null,
    b.requiresGrad ? matmulGradB(a, b, grad, transA, transB) : null,
  ]);
}

/** dL/dA of C = op(A) op(B), in A's stored layout. */
function matmulGradA(a: Tensor, b: Tensor, g: Tensor, transA: boolean, transB: boolean): Tensor {
  // dop(A) = G op(B)^T; stored transposed: dA = op(B) G^T.
  const full = transA ? matmul(b, g, { transA: transB, transB: true }) : matmul(g, b, { transB: !transB });
  if (full.rank === a.rank) return full;
  const summed = sumBatch(full, a.shape);
  full.release();
  return summed;
}

/** dL/dB of C = op(A) op(B), in B's stored layout. */
function matmulGradB(a: Tensor, b: Tensor, g: Tensor, transA: boolean, transB: boolean): Tensor {
  if (b.rank === 2 && a.rank === 3 && !transA) {
    // Shared B, batched untransposed A: the batch folds into the rows, one 2-D product.
    const rows = a.shape[0] * a.shape[1];
    const a2 = a.view([rows, a.shape[2]]);
    const g2 = g.view([rows, g.shape[2]]);
    const d = transB ? matmul(g2, a2, { transA: true }) : matmul(a2, g2, { transA: true });
    a2.release();
    g2.release();
    return d;
  }
  // dop(B) = op(A)^T G; stored transposed: dB = G^T op(A).
  const full = transB ? matmul(g, a, { transA: true, transB: transA }) : matmul(a, g, { transA: !transA });
  if (full.rank === b.rank) return full;
  const summed = sumBatch(full, b.shape);
  full.release();
  return summed;
}

// ---- linear layers ---------------------------------------------------------------------------

function linearShapes(op: string, x: Tensor, weight: Tensor): { rows: number; inF: number; outF: number } {
  checkF32(op, { x, weight });
  if (weight.rank !== 2) throw new Error(`${op}: weight ${fmt(weight.shape)} must be 2-D [out, in]`);
  if (x.rank < 1) throw new Error(`${op}: x ${fmt(x.shape)} must have a feature dimension`);
  const [outF, inF] = weight.shape;
  const features = x.shape[x.rank - 1];
  if (features !== inF) throw new Error(`${op}: x ${fmt(x.shape)} has ${features} features, weight ${fmt(weight.shape)} expects ${inF}`);
  return { rows: features === 0 ? x.shape.slice(0, -1).reduce((p, d) => p * d, 1) : x.size / inF, inF, outF };
}

/**
 * y = x W^T + b: x [..., in], weight [out, in], bias [out] or none; y [..., out].
 * Backward: dx = g F with F = feedback ?? weight (F = weight under exactGradients()),
 * dW = g^T x (always exact), db = column sums of g.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null, feedback?: Tensor | null): Tensor {
  const { rows, inF, outF } = linearShapes('linear', x, weight);
  checkF32('linear', { bias, feedback });
  if (bias && (bias.rank !== 1 || bias.shape[0] !== outF)) {
    throw new Error(`linear: bias ${fmt(bias.shape)} does not match weight ${fmt(weight.shape)}: want [${outF}]`);
  }
  if (feedback && (feedback.rank !== 2 || feedback.shape[0] !== outF || feedback.shape[1] !== inF)) {
    throw new Error(`linear: feedback ${fmt(feedback.shape)} must have the weight's shape ${fmt(weight.shape)}`);
  }
  const out = Tensor.empty([...x.shape.slice(0, -1), outF]);
  gemm(x, weight, bias ?? null, out, { batch: 1, M: rows, N: outF, K: inF, strideA: 0, strideB: 0, transA: false, transB: true });
  const exactAtForward = exactGradients();
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(out, 'linear', inputs, (g) => {
    const F = exactAtForward || exactGradients() ? weight : feedback ?? weight;
    const grads: (Tensor | null)[] = [
      x.requiresGrad ? linearBackwardInput(g, F) : null,
      weight.requiresGrad ? linearBackwardWeight(g, x) : null,
    ];
    if (bias) grads.push(bias.requiresGrad ? linearBackwardBias(g) : null);
    return grads;
  });
}

/** dx = g F: g [..., out], F [out, in] (the weight, or a learning rule's feedback matrix) -> [..., in]. */
export function linearBackwardInput(g: Tensor, F: Tensor): Tensor {
  checkF32('linearBackwardInput', { g, F });
  if (F.rank !== 2) throw new Error(`linearBackwardInput: F ${fmt(F.shape)} must be 2-D [out, in]`);
  const [outF, inF] = F.shape;
  if (g.rank < 1 || g.shape[g.rank - 1] !== outF) {
    throw new Error(`linearBackwardInput: g ${fmt(g.shape)} must end in ${outF} outputs to match F ${fmt(F.shape)}`);
  }
  const rows = outF === 0 ? g.shape.slice(0, -1).reduce((p, d) => p * d, 1) : g.size / outF;
  const dx = Tensor.empty([...g.shape.slice(0, -1), inF]);
  gemm(g, F, null, dx, { batch: 1, M: rows, N: inF, K: outF, strideA: 0, strideB: 0, transA: false, transB: false });
  return dx;
}

/** dW = g^T x: g [..., out], x [..., in] (same leading dimensions) -> [out, in]. */
export function linearBackwardWeight(g: Tensor, x: Tensor): Tensor {
  checkF32('linearBackwardWeight', { g, x });
  if (g.rank < 1 || x.rank < 1) throw new Error(`linearBackwardWeight: g ${fmt(g.shape)} and x ${fmt(x.shape)} need a feature dimension`);
  const outF = g.shape[g.rank - 1];
  const inF = x.shape[x.rank - 1];
  const lead = (t: Tensor) => t.shape.slice(0, -1);
  if (fmt(lead(g)) !== fmt(lead(x))) {
    throw new Error(`linearBackwardWeight: g ${fmt(g.shape)} and x ${fmt(x.shape)} have different leading dimensions`);
  }
  const rows = lead(g).reduce((p, d) => p * d, 1);
  const dw = Tensor.empty([outF, inF]);
  gemm(g, x, null, dw, { batch: 1, M: outF, N: inF, K: rows, strideA: 0, strideB: 0, transA: true, transB: false });
  return dw;
}

/** db = column sums of g [..., out] -> [out]. */
export function linearBackwardBias(g: Tensor): Tensor {
  checkF32('linearBackwardBias', { g });
  if (g.rank < 1) throw new Error(`linearBackwardBias: g ${fmt(g.shape)} needs a feature dimension`);
  return columnSum(g);
}

/** Sums a [..., cols] tensor over every leading dimension -> [cols]. */
export function columnSum(t: Tensor): Tensor {
  checkF32('columnSum', { t });
  if (t.rank < 1) throw new Error(`columnSum: ${fmt(t.shape)} needs at least one dimension`);
  const cols = t.shape[t.rank - 1];
  const rows = t.shape.slice(0, -1).reduce((p, d) => p * d, 1);
  const out = Tensor.empty([cols]);
  dispatchColsum(t, rows, cols, out);
  return out;
}

function dispatchColsum(x: Tensor, rows: number, cols: number, out: Tensor): void {
  if (cols === 0) return;
  gpu().dispatch1d(colsumKernel, { x: x.buffer, out: out.buffer }, { rows, cols }, cols);
}
