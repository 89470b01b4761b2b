// Conv2d, NCHW float32, with stride, padding, dilation and groups: forward (optional bias),
// input gradient with any weight-shaped matrix B (W, or a learning rule's feedback matrix),
// weight gradient and bias gradient, plus conv2d() with autograd.
//
// Kernels (shaders/conv/):
//   forward.wgsl     implicit GEMM, any groups (dense, grouped, 1x1, depthwise multiplier > 1)
//   depthwise.wgsl   groups == C == O: direct, input rows reused across taps, weights held in a
//                    private array; with FLIP (and zero insertion for a stride) it is also the
//                    depthwise input gradient
//   depthwise_texture.wgsl  the same on CPU rasterisers, its input copied into a texture
//   input_grad.wgsl  implicit GEMM of the transposed conv, any groups / stride
//   pad_pack.wgsl    CPU rasterisers, dense convs: the input zero-padded into a texture, from
//                    which the texture matmul (shaders/matmul/matmul_texture.wgsl, IM2COL) reads
//                    the patches, so the forward is a batched matmul against W [O, C*KH*KW]; the
//                    input gradient likewise, with pack_flipped.wgsl's flipped F^T; the weight
//                    gradient is patches x g^T, the patches as A (PATCHES_A)
//   weight_grad.wgsl, depthwise_weight_grad.wgsl, bias_grad.wgsl: split reductions over pixels,
//                    then sum_partials.wgsl adds the splits in order (deterministic);
//                    depthwise_weight_grad_texture.wgsl reads x and g from texture copies
// 1x1 convs (stride 1, no padding, groups 1) are batched matmuls (src/ops/matmul.ts): W x[n]
// forward, F^T g[n] for the input gradient, and on CPU rasterisers g[n] x[n]^T per image,
// summed, for the weight gradient.
// Tile shapes come from gpu().tuning.conv. Tensor shapes travel in uniforms. Compile-time
// choices (override constants, so a few pipelines serve every batch and map size): the tiles;
// the channel block TM, the power of two >= the channels per group up to the tuned TM; the
// depthwise kernels' width geometry (KW, stride, dilation) and the input gradient's stride,
// which are a layer's constants like its op.
//
// Performance notes (llvmpipe, Mesa 22.3): every storage-buffer load or store is a per-lane
// loop (a vec4 costs four), about 25 cycles per lane, against a fraction of a cycle for an FMA,
// so the kernels maximise FMAs per loaded float within what the shader compiler still unrolls
// into registers (blocks of ~128 accumulators); nested runtime loops cost about 2x a single
// loop with incremental indices, which the GEMMs use.

import { gpu } from '../gpu/runtime.js';
import { Kernel, type OverrideValues, type UniformValue } from '../gpu/kernels.js';
import type { Binding } from '../gpu/encoder.js';
import type { ConvTuning, MatmulTextureTiles } from '../gpu/tuning.js';
import type { PooledTexture } from '../gpu/textures.js';
import { Tensor, fmt, type Shape } from '../tensor.js';
import { matmulRaw, packMatrixTexture, texturedProduct, texturedProductFits } from './matmul.js';
import { record } from '../tape.js';
import { exactGradients } from '../context.js';
import { TEXTURE_COPY_SHIFT, fitsTextureCopy, withTextureCopies } from './texture_copy.js';
import forwardSource from '../../shaders/conv/forward.wgsl';
import depthwiseSource from '../../shaders/conv/depthwise.wgsl';
import depthwiseTextureSource from '../../shaders/conv/depthwise_texture.wgsl';
import padPackSource from '../../shaders/conv/pad_pack.wgsl';
import packFlippedSource from '../../shaders/conv/pack_flipped.wgsl';
import inputGradSource from '../../shaders/conv/input_grad.wgsl';
import weightGradSource from '../../shaders/conv/weight_grad.wgsl';
import depthwiseWeightGradSource from '../../shaders/conv/depthwise_weight_grad.wgsl';
import depthwiseWeightGradTextureSource from '../../shaders/conv/depthwise_weight_grad_texture.wgsl';
import biasGradSource from '../../shaders/conv/bias_grad.wgsl';
import sumPartialsSource from '../../shaders/conv/sum_partials.wgsl';

const forwardKernel = new Kernel('conv_forward', forwardSource);
const depthwiseKernel = new Kernel('conv_depthwise', depthwiseSource);
const depthwiseTextureKernel = new Kernel('conv_depthwise_texture', depthwiseTextureSource);
const padPackKernel = new Kernel('conv_pad_pack', padPackSource);
const packFlippedKernel = new Kernel('conv_pack_flipped', packFlippedSource);
const inputGradKernel = new Kernel('conv_input_grad', inputGradSource);
const weightGradKernel = new Kernel('conv_weight_grad', weightGradSource);
const depthwiseWeightGradKernel = new Kernel('conv_depthwise_weight_grad', depthwiseWeightGradSource);
const depthwiseWeightGradTextureKernel = new Kernel('conv_depthwise_weight_grad_texture', depthwiseWeightGradTextureSource);
const biasGradKernel = new Kernel('conv_bias_grad', biasGradSource);
const sumPartialsKernel = new Kernel('conv_sum_partials', sumPartialsSource);

/** A per-axis value: one number for both axes, or [height, width]. */
export type Pair = number | readonly [number, number];

export interface Conv2dParams {
  /** Default 1. */
  stride?: Pair;
  /** Zero padding on each side, default 0. */
  padding?: Pair;
  /** Default 1. */
  dilation?: Pair;
  /** Input and output channels are split into `groups` independent convs; default 1. */
  groups?: number;
}

export interface Conv2dOptions extends Conv2dParams {
  /** [O], added to every output pixel of channel o. */
  bias?: Tensor | null;
  /**
   * A tensor of the weight's shape that replaces W in the input gradient (feedback alignment
   * and related learning rules). Ignored under exactGradients(). The weight gradient is exact.
   */
  feedback?: Tensor | null;
}

/** Everything a dispatch needs, derived from the shapes and parameters (validated). */
interface Geometry {
  N: number; C: number; H: number; W: number;
  O: number; Cg: number; Og: number; KH: number; KW: number;
  OH: number; OW: number; groups: number;
  sH: number; sW: number; pH: number; pW: number; dH: number; dW: number;
}

function pair(op: string, name: string, v: Pair | undefined, fallback: number, min: number): [number, number] {
  let p: readonly number[];
  if (v === undefined) p = [fallback, fallback];
  else if (typeof v === 'number') p = [v, v];
  else if (Array.isArray(v)) p = v;
  else throw new Error(`${op}: ${name} must be a number or [h, w], got ${String(v)}`);
  if (p.length !== 2 || !p.every((x) => Number.isInteger(x) && x >= min)) {
    throw new Error(`${op}: ${name} must be ${min === 0 ? 'a non-negative' : 'a positive'} integer or a pair of them, got ${JSON.stringify(v)}`);
  }
  return [p[0], p[1]];
}

function checkRank4(op: string, what: string, shape: Shape, layout: string): void {
  if (shape.length !== 4) throw new Error(`${op}: ${what} must be 4-D ${layout}, got ${fmt(shape)}`);
  if (!shape.every((d) => Number.isInteger(d) && d > 0)) throw new Error(`${op}: ${what} ${fmt(shape)} has an empty or invalid dimension`);
}

function checkF32(op: string, what: string, t: Tensor): void {
  if (t.dtype !== 'f32') throw new Error(`${op}: ${what} must be an f32 tensor, got ${t.dtype} ${fmt(t.shape)}`);
}

function geometry(op: string, xShape: Shape, wShape: Shape, params: Conv2dParams = {}): Geometry {
  checkRank4(op, 'input', xShape, '[N, C, H, W]');
  checkRank4(op, 'weight', wShape, '[O, C/groups, KH, KW]');
  const groups = params.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`${op}: groups must be a positive integer, got ${groups}`);
  const [sH, sW] = pair(op, 'stride', params.stride, 1, 1);
  const [pH, pW] = pair(op, 'padding', params.padding, 0, 0);
  const [dH, dW] = pair(op, 'dilation', params.dilation, 1, 1);
  const [N, C, H, W] = xShape;
  const [O, Cg, KH, KW] = wShape;
  if (C % groups !== 0) throw new Error(`${op}: input ${fmt(xShape)} has ${C} channels, not divisible by groups ${groups}`);
  if (O % groups !== 0) throw new Error(`${op}: weight ${fmt(wShape)} has ${O} output channels, not divisible by groups ${groups}`);
  if (Cg !== C / groups) {
    throw new Error(`${op}: input ${fmt(xShape)} has ${C} channels, weight ${fmt(wShape)} expects ${Cg * groups} (${Cg} per group, groups ${groups})`);
  }
  const OH = Math.floor((H + 2 * pH - dH * (KH - 1) - 1) / sH) + 1;
  const OW = Math.floor((W + 2 * pW - dW * (KW - 1) - 1) / sW) + 1;
  if (!(OH > 0 && OW > 0)) {
    throw new Error(`${op}: output size ${OH}x${OW} is not positive for input ${fmt(xShape)} and weight ${fmt(wShape)} ` +
      `(stride ${sH}x${sW}, padding ${pH}x${pW}, dilation ${dH}x${dW})`);
  }
  return { N, C, H, W, O, Cg, Og: O / groups, KH, KW, OH, OW, groups, sH, sW, pH, pW, dH, dW };
}

/** [N, O, OH, OW] of conv2d(x of inputShape, w of weightShape); throws on inconsistent shapes. */
export function convOutputShape(inputShape: Shape, weightShape: Shape, params: Conv2dParams = {}): [number, number, number, number] {
  const g = geometry('convOutputShape', inputShape, weightShape, params);
  return [g.N, g.O, g.OH, g.OW];
}

// ---- dispatch helpers -------------------------------------------------------------------------

const pow2ceil = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/** Folds `groups` workgroups into an x*y grid; returns [x, y] (the kernels index y*x + x). */
function fold(groups: number): [number, number] {
  const max = gpu().info.limits.maxComputeWorkgroupsPerDimension ?? 65535;
  const y = Math.ceil(groups / max);
  if (y > max) throw new Error(`conv2d: ${groups} workgroups exceed the adapter's grid`);
  return [Math.ceil(groups / y), y];
}

function dispatchFolded(kernel: Kernel, buffers: Record<string, Binding>, uniforms: Record<string, UniformValue>,
  workgroups: number, z: number, overrides: OverrideValues): void {
  const [x, y] = fold(workgroups);
  const max = gpu().info.limits.maxComputeWorkgroupsPerDimension ?? 65535;
  if (z > max) throw new Error(`${kernel.name}: ${z} channel blocks exceed the adapter's grid (${max})`);
  gpu().dispatch(kernel, buffers, { ...uniforms, wgX: x }, [x, y, z], overrides);
}

/** Width of the input segment the depthwise kernels keep in registers. */
const segment = (tw: number, k: number, s: number, d: number) => (tw - 1) * s + (k - 1) * d + 1;
const MAX_SEG = 64;
const MAX_KW = 16;
const MAX_TAPS = 64;

function isDepthwise(g: Geometry): boolean {
  return g.groups === g.C && g.O === g.C;
}

/** The direct depthwise kernel holds the taps, a row segment and its tile in registers. */
function fitsDepthwise(g: Geometry, tw: number, sW: number): boolean {
  return isDepthwise(g) && g.KW <= MAX_KW && g.KH * g.KW <= MAX_TAPS && segment(tw, g.KW, sW, g.dW) <= MAX_SEG;
}

/** How a reduction over `total` items is split so about `threads` threads run. */
function splitReduction(total: number, blocks: number, threads: number, minChunk: number): { splits: number; chunk: number } {
  const want = Math.max(1, Math.min(Math.ceil(threads / Math.max(1, blocks)), Math.ceil(total / Math.max(1, minChunk))));
  const chunk = Math.ceil(total / want);
  return { splits: Math.ceil(total / chunk), chunk };
}

/** out (n elements) = sum of the `splits` partial rows of part. */
function sumPartials(part: Tensor, out: Tensor, splits: number): void {
  gpu().dispatch1d(sumPartialsKernel, { part: part.buffer, out: out.buffer }, { n: out.size, splits }, out.size);
}

/** gpu().tuning.conv, checked once against the register arrays the kernels declare. */
let checkedTuning: ConvTuning | null = null;
function convTuning(): ConvTuning {
  const t = gpu().tuning.conv;
  if (t === checkedTuning) return t;
  const bad = (what: string) => { throw new Error(`conv2d: tuning.conv.${what} exceeds what the conv kernels hold in registers`); };
  if (t.gemm.TM > 16 || t.gemm.TP > 16 || t.gemm.TM * t.gemm.TP > 128) bad(`gemm ${JSON.stringify(t.gemm)}`);
  if (t.depthwise.TH > 16 || t.depthwise.TH * t.depthwise.TW > 64) bad(`depthwise ${JSON.stringify(t.depthwise)}`);
  const dt = t.depthwiseTexture;
  if (dt && (dt.TH > 16 || dt.TH * dt.TW > 64 || dt.TW % 4)) bad(`depthwiseTexture ${JSON.stringify(dt)} (TW must be a multiple of 4)`);
  if (t.weightGrad.TM > 16 || t.weightGrad.TN > 16 || t.weightGrad.TM * t.weightGrad.TN > 128) bad(`weightGrad ${JSON.stringify(t.weightGrad)}`);
  if (t.depthwiseWeightGrad.TW > 32) bad(`depthwiseWeightGrad ${JSON.stringify(t.depthwiseWeightGrad)}`);
  const dwt = t.depthwiseWeightGradTexture;
  if (dwt && (dwt.TW > 32 || dwt.TW % 4)) bad(`depthwiseWeightGradTexture ${JSON.stringify(dwt)} (TW must be a multiple of 4)`);
  checkedTuning = t;
  return t;
}

/** A depthwise conv's geometry as the direct kernels see it (input [N, C, H, W], out [N, C, OH, OW]). */
interface DepthwisePlan {
  N: number; C: number; H: number; W: number; OH: number; OW: number; KH: number; KW: number;
  sH: number; sW: number; dH: number; dW: number; pH: number; pW: number; flip: boolean; upH: number; upW: number;
}

/**
 * A direct depthwise conv (depthwise.wgsl, or depthwise_texture.wgsl on CPU rasterisers):
 * out = conv(input, w'), the input read as if zero-inserted by `up`, w' = w or w flipped. The
 * forward, and (flipped, up = stride) the input gradient.
 */
function runDepthwise(input: Tensor, w: Tensor, bias: Tensor | null, out: Tensor, d: DepthwisePlan): void {
  if (runDepthwiseTextured(input, w, bias, out, d)) return;
  const dw = convTuning().depthwise;
  const tilesX = Math.ceil(d.OW / dw.TW);
  const tilesY = Math.ceil(d.OH / dw.TH);
  const threads = d.N * d.C * tilesX * tilesY;
  dispatchFolded(depthwiseKernel, { x: input.buffer, w: w.buffer, bias: (bias ?? w).buffer, out: out.buffer }, {
    N: d.N, C: d.C, H: d.H, W: d.W, OH: d.OH, OW: d.OW, KH: d.KH, SH: d.sH, DH: d.dH,
    padH: d.pH, padW: d.pW, tilesX, tilesY, threads,
  }, Math.ceil(threads / dw.WG), 1, {
    WG: dw.WG, TH: dw.TH, TW: dw.TW, KW: d.KW, SW: d.sW, DW: d.dW, FLIP: +d.flip, UPH: d.upH, UPW: d.upW, HAS_BIAS: bias ? 1 : 0,
  });
}

/**
 * Where a row segment of the texture kernels starts for padding p (rows of a multiple of 4
 * floats): input column -p + 4k lies OFF (0..3) columns into texel colBase + k of its row.
 */
function segmentStart(p: number): { colBase: number; OFF: number } {
  const colBase = Math.floor(-p / 4);
  return { colBase, OFF: -p - 4 * colBase };
}

function runDepthwiseTextured(input: Tensor, w: Tensor, bias: Tensor | null, out: Tensor, d: DepthwisePlan): boolean {
  const tiles = convTuning().depthwiseTexture;
  if (!tiles || d.upH !== 1 || d.upW !== 1 || d.W % 4 || (tiles.TW * d.sW) % 4 || segment(tiles.TW, d.KW, d.sW, d.dW) > MAX_SEG ||
    !fitsTextureCopy(input)) return false;
  const { colBase, OFF } = segmentStart(d.pW);
  const tilesX = Math.ceil(d.OW / tiles.TW);
  const tilesY = Math.ceil(d.OH / tiles.TH);
  const threads = d.N * d.C * tilesX * tilesY;
  withTextureCopies([input], 'conv_depthwise_texture input', ([tex]) =>
    dispatchFolded(depthwiseTextureKernel, { x: tex, w: w.buffer, bias: (bias ?? w).buffer, out: out.buffer }, {
      N: d.N, C: d.C, H: d.H, W: d.W, OH: d.OH, OW: d.OW, KH: d.KH, SH: d.sH, DH: d.dH,
      padH: d.pH, colBase, tilesX, tilesY, threads,
    }, Math.ceil(threads / tiles.WG), 1, {
      WG: tiles.WG, TH: tiles.TH, TW: tiles.TW, KW: d.KW, SW: d.sW, DW: d.dW, OFF,
      WT_SHIFT: TEXTURE_COPY_SHIFT, FLIP: +d.flip, HAS_BIAS: bias ? 1 : 0,
    }));
  return true;
}

// ---- forward ------------------------------------------------------------------------------

function runForward(g: Geometry, x: Tensor, w: Tensor, bias: Tensor | null, out: Tensor): void {
  const tune = convTuning();
  if (fitsDepthwise(g, tune.depthwise.TW, g.sW)) {
    runDepthwise(x, w, bias, out, {
      N: g.N, C: g.C, H: g.H, W: g.W, OH: g.OH, OW: g.OW, KH: g.KH, KW: g.KW,
      sH: g.sH, sW: g.sW, dH: g.dH, dW: g.dW, pH: g.pH, pW: g.pW, flip: false, upH: 1, upW: 1,
    });
    return;
  }
  if (!bias && forwardTextured(g, x, w, out)) return;
  const { WG, TP } = tune.gemm;
  const TM = Math.min(tune.gemm.TM, pow2ceil(g.Og));
  const mBlocks = Math.ceil(g.Og / TM);
  const NP = g.N * g.OH * g.OW;
  dispatchFolded(forwardKernel, { x: x.buffer, w: w.buffer, bias: (bias ?? w).buffer, out: out.buffer }, {
    N: g.N, C: g.C, H: g.H, W: g.W, O: g.O, OH: g.OH, OW: g.OW, Cg: g.Cg, Og: g.Og, KH: g.KH, KW: g.KW,
    strideH: g.sH, strideW: g.sW, dilH: g.dH, dilW: g.dW, padH: g.pH, padW: g.pW, mBlocks, NP,
  }, Math.ceil(NP / (WG * TP)), g.groups * mBlocks, { WG, TM, TP, HAS_BIAS: bias ? 1 : 0 });
}

/** A dense conv, as convTextured computes it: its input, geometry, and how to pack its matrix. */
interface TexturedConv {
  input: Tensor; N: number; C: number; H: number; W: number; up: [number, number]; pad: [number, number];
  O: number; OH: number; OW: number; KH: number; KW: number; stride: [number, number]; dilation: [number, number];
  packA(label: string): PooledTexture;
}

/**
 * A dense conv as texture products (CPU rasterisers: tuning.matmulTexture; llvmpipe gathers a
 * texel fetch in one vector op where a storage load is a per-lane loop): out[n] = A x
 * patches(input[n]), A [O, R] packed once by `packA`, and per chunk of images (a texture holds
 * at most maxTextureDimension2D rows) the input zero-padded (and zero-inserted by `up`) into a
 * texture from which matmul_texture.wgsl (IM2COL) fetches the patches. The forward is this conv
 * of x with W; the input gradient, of g zero-inserted by the stride with F flipped and
 * transposed. Needs an output width that is a multiple of 4, a horizontal stride of 1 or 2 and
 * non-negative padding; false (nothing recorded) otherwise.
 */
function convTextured(v: TexturedConv, out: Tensor): boolean {
  const R = v.C * v.KH * v.KW;
  const P = v.OH * v.OW;
  const t = texturedConvTiles(v.OW, v.stride[1], v.N * v.O * P * R);
  if (!t || v.pad[0] < 0 || v.pad[1] < 0) return false;
  const textures = gpu().textures;
  const K4 = Math.ceil(R / 4);
  const { Hp, width } = padded(v.H, v.W, v.up, v.pad);
  const perChunk = Math.min(v.N, Math.floor(textures.maxDimension / (v.C * Hp)));
  if (perChunk < 1 || !textures.fits(K4, v.O) || !textures.fits(width, perChunk * v.C * Hp)) return false;
  const im2col = { R, C: v.C, OH: v.OH, OW: v.OW, Hp, sH: v.stride[0], dH: v.dilation[0], dW: v.dilation[1], KH: v.KH, KW: v.KW, SW: v.stride[1] };
  const product = { batch: perChunk, M: v.O, N: P, K4, batchedA: false, batchedB: true, zBase: 0, im2col };
  if (!texturedProductFits(product, t)) return false;
  const ta = v.packA('conv2d matrix');
  for (let z0 = 0; z0 < v.N; z0 += perChunk) {
    const images = Math.min(perChunk, v.N - z0);
    const tb = padPack(v.input, v.C, v.H, v.W, v.up, v.pad, z0, images);
    texturedProduct(ta, tb, null, v.input, out, { ...product, batch: images, zBase: z0 }, t);
    textures.release(tb);
  }
  textures.release(ta);
  return true;
}

/**
 * The texture tiles for a dense conv's products on this adapter, or null where the texture path
 * does not apply: no texture tiles (GPUs), an output width that is not a multiple of 4, a
 * horizontal stride over 2, or fewer multiply-adds than tuning.matmulTexture.minWork.
 */
function texturedConvTiles(OW: number, strideW: number, work: number): MatmulTextureTiles | null {
  const t = gpu().tuning.matmulTexture;
  return t && OW % 4 === 0 && strideW <= 2 && work >= t.minWork ? t : null;
}

/** Height and width (in texels) of an [H, W] map zero-inserted by `up` and zero-padded by `pad`. */
function padded(H: number, W: number, up: [number, number], pad: [number, number]): { Hp: number; width: number } {
  return { Hp: (H - 1) * up[0] + 1 + 2 * pad[0], width: Math.ceil(((W - 1) * up[1] + 1 + 2 * pad[1]) / 4) };
}

/**
 * Images z0 .. z0 + images - 1 of input [N, C, H, W], zero-inserted by `up` and zero-padded by
 * `pad`, into a scratch texture of width x (images * C * Hp) texels (conv_pad_pack).
 */
function padPack(input: Tensor, C: number, H: number, W: number, up: [number, number], pad: [number, number], z0: number, images: number): PooledTexture {
  const { Hp, width } = padded(H, W, up, pad);
  const tex = gpu().textures.acquire(width, images * C * Hp, 'conv2d padded input');
  gpu().dispatch(padPackKernel, { x: input.buffer, out: tex }, { C, H, W, Hp, pH: pad[0], pW: pad[1], width, zBase: z0, upH: up[0], upW: up[1] },
    [Math.ceil(width / 8), Math.ceil((C * Hp) / 8), images]);
  return tex;
}

function forwardTextured(g: Geometry, x: Tensor, w: Tensor, out: Tensor): boolean {
  if (g.groups !== 1) return false;
  return convTextured({
    input: x, N: g.N, C: g.C, H: g.H, W: g.W, up: [1, 1], pad: [g.pH, g.pW],
    O: g.O, OH: g.OH, OW: g.OW, KH: g.KH, KW: g.KW, stride: [g.sH, g.sW], dilation: [g.dH, g.dW],
    packA: (label) => packMatrixTexture(w, g.O, g.C * g.KH * g.KW, g.O, 1, 0, false, label),
  }, out);
}

/**
 * dW [O, R] = sum over images of g[n] [O, P] x patches(x[n])^T, computed as its transpose
 * patches x g^T (matmul_texture, PATCHES_A: the patches fetched from the padded input, C stored
 * transposed) in splits of Pz images, enough splits for ~256 threads, summed in order. Same
 * conditions as convTextured.
 */
function weightGradTextured(g: Geometry, x: Tensor, grad: Tensor, dW: Tensor): boolean {
  const R = g.C * g.KH * g.KW;
  const P = g.OH * g.OW;
  const t = texturedConvTiles(g.OW, g.sW, g.N * g.O * P * R);
  if (!t || g.groups !== 1) return false;
  const textures = gpu().textures;
  const { Hp, width } = padded(g.H, g.W, [1, 1], [g.pH, g.pW]);
  // Both operands are packed at one storage load per element (x and g: about C + O per pixel)
  // for R * O FMAs per pixel. At 8 FMAs per packed element (1x1, 16 -> 16 channels) the GEMM
  // kernel was faster (15 against 21 ms, batch 32, 32x32); at 16 (32 -> 32) textures won 2x.
  if ((R * g.O) / (g.C + g.O) < 12) return false;
  const maxImages = Math.min(g.N, Math.floor(textures.maxDimension / Math.max(g.C * Hp, P)));
  if (maxImages < 1 || !textures.fits(width, maxImages * g.C * Hp) || !textures.fits(Math.ceil(g.O / 4), maxImages * P)) return false;
  const blocks = Math.ceil(g.O / t.TN) * Math.ceil(R / t.TM);
  const Pz = Math.min(maxImages, Math.ceil(g.N / Math.ceil(256 / blocks)));
  const perChunk = Math.floor(maxImages / Pz) * Pz;
  const splits = Math.ceil(g.N / Pz);
  const patches = { R, C: g.C, OH: g.OH, OW: g.OW, Hp, sH: g.sH, dH: g.dH, dW: g.dW, KH: g.KH, KW: g.KW, SW: g.sW };
  const product = (batch: number, zBase: number, images: number) => ({
    batch, M: R, N: g.O, K4: (Pz * P) / 4, batchedA: false, batchedB: true, zBase, patchesA: { ...patches, Pz, K4total: (images * P) / 4 },
  });
  if (!texturedProductFits(product(Math.ceil(perChunk / Pz), 0, perChunk), t)) return false;
  const part = splits > 1 ? Tensor.empty([splits * dW.size], 'f32', 'conv partials') : dW;
  for (let z0 = 0, zBase = 0; z0 < g.N; z0 += perChunk) {
    const images = Math.min(perChunk, g.N - z0);
    const ta = padPack(x, g.C, g.H, g.W, [1, 1], [g.pH, g.pW], z0, images);
    const tb = packMatrixTexture(grad, P, g.O, P, images, g.O * P, true, 'conv2d gradient', z0 * g.O * P);
    const zs = Math.ceil(images / Pz);
    texturedProduct(ta, tb, null, x, part, product(zs, zBase, images), t);
    textures.release(ta);
    textures.release(tb);
    zBase += zs;
  }
  if (part !== dW) {
    sumPartials(part, dW, splits);
    part.release();
  }
  return true;
}

/** dx = conv(g zero-inserted by the stride, F flipped and transposed), stride 1, padding (K - 1) * d - p. */
function inputGradTextured(g: Geometry, grad: Tensor, F: Tensor, dx: Tensor): boolean {
  if (g.groups !== 1) return false;
  return convTextured({
    input: grad, N: g.N, C: g.O, H: g.OH, W: g.OW, up: [g.sH, g.sW], pad: [(g.KH - 1) * g.dH - g.pH, (g.KW - 1) * g.dW - g.pW],
    O: g.C, OH: g.H, OW: g.W, KH: g.KH, KW: g.KW, stride: [1, 1], dilation: [g.dH, g.dW],
    packA: (label) => {
      const R = g.O * g.KH * g.KW;
      const width = Math.ceil(R / 4);
      const tex = gpu().textures.acquire(width, g.C, label);
      gpu().dispatch(packFlippedKernel, { f: F.buffer, out: tex }, { C: g.C, R, width }, [Math.ceil(width / 8), Math.ceil(g.C / 8)], { KH: g.KH, KW: g.KW });
      return tex;
    },
  }, dx);
}

/** y = conv2d(x, weight) (+ bias), no autograd. x [N, C, H, W], weight [O, C/groups, KH, KW], bias [O]. */
export function conv2dForward(x: Tensor, weight: Tensor, params: Conv2dParams = {}, bias: Tensor | null = null): Tensor {
  const op = 'conv2d';
  checkF32(op, 'input', x);
  checkF32(op, 'weight', weight);
  const g = geometry(op, x.shape, weight.shape, params);
  if (bias) {
    checkF32(op, 'bias', bias);
    if (bias.size !== g.O || bias.rank !== 1) throw new Error(`${op}: bias ${fmt(bias.shape)} does not match weight ${fmt(weight.shape)} (expected [${g.O}])`);
  }
  if (isPointwise(g) && !bias) return pointwiseProduct(weight, x, [g.N, g.O, g.OH, g.OW], false);
  const out = Tensor.empty([g.N, g.O, g.OH, g.OW]);
  runForward(g, x, weight, bias, out);
  return out;
}

/** A 1x1 conv at stride 1 without padding or groups is a matrix product per image. */
function isPointwise(g: Geometry): boolean {
  return g.KH === 1 && g.KW === 1 && g.sH === 1 && g.sW === 1 && g.pH === 0 && g.pW === 0 && g.groups === 1 && g.N > 0 && g.H * g.W > 0;
}

/**
 * out[n] = M x[n] (forward, M = W [O, C]) or M^T x[n] (input gradient, M = F, x = g): the
 * batched matmul with a shared left operand, which register-blocks better than the conv loop.
 */
function pointwiseProduct(m: Tensor, x: Tensor, shape: number[], transpose: boolean): Tensor {
  const [O, C] = m.shape;
  const m2 = m.view([O, C]);
  const x3 = x.view([x.shape[0], x.shape[1], x.shape[2] * x.shape[3]]);
  const y = matmulRaw(m2, x3, { transA: transpose });
  m2.release();
  x3.release();
  const out = y.view(shape);
  y.release();
  return out;
}

/**
 * dW [O, C] of a 1x1 conv = sum over images of g[n] [O, HW] x x[n]^T, on CPU rasterisers when
 * the batched product takes the texture matmul: one product per image (g[n] copied into its
 * texture when HW % 64 == 0, x[n] packed transposed), then the N products summed in order.
 * Measured on llvmpipe against the paths before it (the GEMM kernel at 16 channels, the
 * patch-matrix product above): batch 32, 16 -> 16, 32x32: 12 against 15 ms; batch 64,
 * 32 -> 32, 16x16: 8 against 15; 64 -> 64, 8x8: 5.4 against 10.
 */
function pointwiseWeightGradTextured(g: Geometry, x: Tensor, grad: Tensor, dW: Tensor): boolean {
  const t = gpu().tuning.matmulTexture;
  const HW = g.H * g.W;
  if (!t || g.N * g.O * g.C * HW < t.minWork) return false;
  const g3 = grad.view([g.N, g.O, HW]);
  const x3 = x.view([g.N, g.C, HW]);
  const perImage = matmulRaw(g3, x3, { transB: true });
  g3.release();
  x3.release();
  sumPartials(perImage, dW, g.N);
  perImage.release();
  return true;
}

// ---- input gradient -------------------------------------------------------------------------

function checkGradShape(op: string, g: Geometry, grad: Tensor): void {
  checkF32(op, 'gradient', grad);
  const want = [g.N, g.O, g.OH, g.OW];
  if (grad.rank !== 4 || grad.shape.some((d, i) => d !== want[i])) {
    throw new Error(`${op}: gradient ${fmt(grad.shape)} does not match the conv's output ${fmt(want)}`);
  }
}

/**
 * dx of conv2d for the output gradient g, with the weight replaced by F (any tensor of the
 * weight's shape: W for back-propagation, a feedback matrix for other learning rules).
 * g [N, O, OH, OW], F [O, C/groups, KH, KW]; returns [N, C, H, W] = inputShape.
 */
export function conv2dBackwardInput(grad: Tensor, F: Tensor, inputShape: Shape, params: Conv2dParams = {}): Tensor {
  const op = 'conv2dBackwardInput';
  checkF32(op, 'matrix', F);
  const g = geometry(op, inputShape, F.shape, params);
  checkGradShape(op, g, grad);
  if (isPointwise(g)) return pointwiseProduct(F, grad, [g.N, g.C, g.H, g.W], true);
  const dx = Tensor.empty([g.N, g.C, g.H, g.W]);
  const tune = convTuning();
  if (fitsDepthwise(g, tune.depthwise.TW, 1)) {
    // dx = conv(g with stride-1 zeros inserted, flip(F)), stride 1, padding (K - 1) * d - p.
    runDepthwise(grad, F, null, dx, {
      N: g.N, C: g.C, H: g.OH, W: g.OW, OH: g.H, OW: g.W, KH: g.KH, KW: g.KW, sH: 1, sW: 1, dH: g.dH, dW: g.dW,
      pH: (g.KH - 1) * g.dH - g.pH, pW: (g.KW - 1) * g.dW - g.pW, flip: true, upH: g.sH, upW: g.sW,
    });
    return dx;
  }
  if (inputGradTextured(g, grad, F, dx)) return dx;
  const { WG, TP } = tune.gemm;
  const TM = Math.min(tune.gemm.TM, pow2ceil(g.Cg));
  const mBlocks = Math.ceil(g.Cg / TM);
  const NP = g.N * g.H * g.W;
  dispatchFolded(inputGradKernel, { g: grad.buffer, B: F.buffer, dx: dx.buffer }, {
    N: g.N, C: g.C, H: g.H, W: g.W, O: g.O, OH: g.OH, OW: g.OW, Cg: g.Cg, Og: g.Og, KH: g.KH, KW: g.KW,
    dilH: g.dH, dilW: g.dW, padH: g.pH, padW: g.pW, mBlocks, NP,
  }, Math.ceil(NP / (WG * TP)), g.groups * mBlocks, { WG, TM, TP, SH: g.sH, SW: g.sW });
  return dx;
}

// ---- weight and bias gradients ----------------------------------------------------------------

/**
 * dW of a depthwise conv: partial sums over splits of the N*OH output rows, then summed in
 * order. On CPU rasterisers (tuning.conv.depthwiseWeightGradTexture) x and g are read from
 * texture copies when their rows start whole texels.
 */
function depthwiseWeightGrad(g: Geometry, x: Tensor, grad: Tensor, dW: Tensor): void {
  const tune = convTuning();
  const textured = tune.depthwiseWeightGradTexture;
  const useTextures = textured && g.W % 4 === 0 && g.OW % 4 === 0 && (textured.TW * g.sW) % 4 === 0 &&
    segment(textured.TW, g.KW, g.sW, g.dW) <= MAX_SEG && fitsTextureCopy(x) && fitsTextureCopy(grad);
  const tiles = useTextures ? textured : tune.depthwiseWeightGrad;
  const rows = g.N * g.OH;
  const { splits, chunk } = splitReduction(rows, g.C * g.KH, tiles.threads, tiles.minChunk);
  const part = splits > 1 ? Tensor.empty([splits * dW.size], 'f32', 'conv partials') : dW;
  const threads = splits * g.C * g.KH;
  const uniforms = { N: g.N, C: g.C, H: g.H, W: g.W, OH: g.OH, OW: g.OW, KH: g.KH, SH: g.sH, DH: g.dH, padH: g.pH, chunk, threads };
  const overrides = { WG: tiles.WG, TW: tiles.TW, KW: g.KW, SW: g.sW, DW: g.dW };
  const workgroups = Math.ceil(threads / tiles.WG);
  if (useTextures) {
    const { colBase, OFF } = segmentStart(g.pW);
    withTextureCopies([x, grad], 'conv_depthwise_weight_grad_texture', ([tx, tg]) =>
      dispatchFolded(depthwiseWeightGradTextureKernel, { x: tx, g: tg, part: part.buffer }, { ...uniforms, colBase }, workgroups, 1,
        { ...overrides, OFF, WT_SHIFT: TEXTURE_COPY_SHIFT }));
  } else {
    dispatchFolded(depthwiseWeightGradKernel, { x: x.buffer, g: grad.buffer, part: part.buffer }, { ...uniforms, padW: g.pW }, workgroups, 1, overrides);
  }
  if (part !== dW) {
    sumPartials(part, dW, splits);
    part.release();
  }
}

/** dW of conv2d: x [N, C, H, W], g [N, O, OH, OW]; returns weightShape [O, C/groups, KH, KW]. */
export function conv2dBackwardWeight(x: Tensor, grad: Tensor, weightShape: Shape, params: Conv2dParams = {}): Tensor {
  const op = 'conv2dBackwardWeight';
  checkF32(op, 'input', x);
  const g = geometry(op, x.shape, weightShape, params);
  checkGradShape(op, g, grad);
  const dW = Tensor.empty([g.O, g.Cg, g.KH, g.KW]);
  const tune = convTuning();
  if (isDepthwise(g) && g.KW <= MAX_KW && segment(tune.depthwiseWeightGrad.TW, g.KW, g.sW, g.dW) <= MAX_SEG) {
    depthwiseWeightGrad(g, x, grad, dW);
    return dW;
  }
  if (isPointwise(g) && pointwiseWeightGradTextured(g, x, grad, dW)) return dW;
  if (weightGradTextured(g, x, grad, dW)) return dW;
  const wg = tune.weightGrad;
  const cols = g.Cg * g.KH * g.KW;
  const TM = Math.min(wg.TM, pow2ceil(g.Og));
  const TN = Math.min(wg.TN, pow2ceil(cols));
  const mBlocks = Math.ceil(g.Og / TM);
  const nBlocks = Math.ceil(cols / TN);
  const NP = g.N * g.OH * g.OW;
  const { splits, chunk } = splitReduction(NP, g.groups * mBlocks * nBlocks, wg.threads, wg.minChunk);
  const part = splits > 1 ? Tensor.empty([splits * dW.size], 'f32', 'conv partials') : dW;
  const threads = splits * g.groups * mBlocks * nBlocks;
  dispatchFolded(weightGradKernel, { x: x.buffer, g: grad.buffer, part: part.buffer }, {
    N: g.N, C: g.C, H: g.H, W: g.W, O: g.O, OH: g.OH, OW: g.OW, Cg: g.Cg, Og: g.Og, KH: g.KH, KW: g.KW,
    strideH: g.sH, strideW: g.sW, dilH: g.dH, dilW: g.dW, padH: g.pH, padW: g.pW, groups: g.groups,
    mBlocks, nBlocks, chunk, NP, threads,
  }, Math.ceil(threads / wg.WG), 1, { WG: wg.WG, TM, TN });
  if (part !== dW) {
    sumPartials(part, dW, splits);
    part.release();
  }
  return dW;
}

/** db of conv2d: the sum of g [N, O, OH, OW] over N, OH, OW; returns [O]. */
export function conv2dBackwardBias(grad: Tensor): Tensor {
  const op = 'conv2dBackwardBias';
  checkF32(op, 'gradient', grad);
  checkRank4(op, 'gradient', grad.shape, '[N, O, OH, OW]');
  const [N, O, OH, OW] = grad.shape;
  const OHW = OH * OW;
  const tune = convTuning().biasGrad;
  const { splits, chunk } = splitReduction(N * OHW, O, tune.threads, tune.minChunk);
  const db = Tensor.empty([O]);
  const part = splits > 1 ? Tensor.empty([splits * O], 'f32', 'conv partials') : db;
  const threads = splits * O;
  const WG = gpu().tuning.elementwiseWorkgroup;
  dispatchFolded(biasGradKernel, { g: grad.buffer, part: part.buffer }, { N, O, OHW, chunk, threads },
    Math.ceil(threads / WG), 1, { WG });
  if (part !== db) {
    sumPartials(part, db, splits);
    part.release();
  }
  return db;
}

// ---- the op -----------------------------------------------------------------------------------

/**
 * conv2d with autograd. x [N, C, H, W], weight [O, C/groups, KH, KW] -> [N, O, OH, OW].
 * Backward: dx = conv2dBackwardInput(g, F) with F = opts.feedback ?? weight (F = weight whenever
 * exactGradients() is on, at the forward or at the backward); dW exact; db = sum of g over N, H, W.
 */
export function conv2d(x: Tensor, weight: Tensor, opts: Conv2dOptions = {}): Tensor {
  const bias = opts.bias ?? null;
  const feedback = opts.feedback ?? null;
  if (feedback) {
    checkF32('conv2d', 'feedback', feedback);
    if (feedback.rank !== weight.rank || feedback.shape.some((d, i) => d !== weight.shape[i])) {
      throw new Error(`conv2d: feedback ${fmt(feedback.shape)} must have the weight's shape ${fmt(weight.shape)}`);
    }
  }
  const params: Conv2dParams = { stride: opts.stride, padding: opts.padding, dilation: opts.dilation, groups: opts.groups };
  const out = conv2dForward(x, weight, params, bias);
  const exactAtForward = exactGradients();
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(out, 'conv2d', inputs, (g) => {
    const F = exactAtForward || exactGradients() || !feedback ? weight : feedback;
    const dx = x.requiresGrad ? conv2dBackwardInput(g, F, x.shape, params) : null;
    const dw = weight.requiresGrad ? conv2dBackwardWeight(x, g, weight.shape, params) : null;
    if (!bias) return [dx, dw];
    return [dx, dw, bias.requiresGrad ? conv2dBackwardBias(g) : null];
  });
}
