// Hebbian conv (SPEC section 3): a conv whose filters H [C_out, C_in, kh, kw] are not trained
// by gradient but by a normalised Hebbian rule, applied at every forward in training mode.
//
// With P_m the input patch at output position m = (n, oh, ow) (the im2col row, C_in*kh*kw
// values, zero padding) and Y_m = y[n, :, oh, ow] the C_out outputs there, y = conv(x, H):
//   U[o, k] = sum_{n, oh, ow} (Y_m[o] / max(|Y_m|, eps)) * (P_m[k] / max(|P_m|, eps))   (eps = 1e-12)
//   H <- clamp(H + HEBBIAN_RATE * U, -1, 1)
// i.e. the outer products of the L2-normalised output rows and patch rows, accumulated over
// the batch and all positions.
//
// Which filters the output uses: the filters BEFORE this forward's update. The update is a
// function of y = conv(x, H), so computing y once with H and then updating H costs one conv;
// the output and the update are consistent (Oja / Hebb: y = Hx, then dH ~ y x^T), and the
// updated H is used from the next forward on. Because H changes in place after y is computed
// while y's backward needs the filters that made it, a training forward that records for
// backward convolves with a copy of H (C_out*C_in*kh*kw values); without a gradient it uses
// H itself (the commands run in order, so the conv reads H before the update writes it).
// In eval mode there is no update and y = conv(x, H).
//
// Gradients: H is a buffer (checkpointed with the model, requires no gradient, so no
// optimizer touches it). The gradient with respect to the input flows through the conv with
// the filters of the forward (exact backprop through H), so the BN after this layer and the
// layers before it learn by gradient.
//
// Kernels: U has the form of a conv weight gradient. hebbian_scale (one thread per position m)
// scales y[n, :, oh, ow] by 1/max(|Y_m|, eps) * 1/max(|P_m|, eps); then
// U = conv2dBackwardWeight(x, scaled y) (src/ops/conv.ts: threads over blocks of (o, k) filter
// elements, each summing over N*OH*OW positions in split chunks added in order: parallel,
// deterministic, no atomics), and hebbian_apply (one thread per filter element) updates and
// clamps H. On llvmpipe this update took about 0.1 s for 16 -> 16 channels, 3x3, input
// [16, 16, 32, 32], against 1.8 s for a first version with one thread per (o, k) element summing
// all positions (a plain conv forward there: about 0.06 to 0.17 s). Nothing is read back.
//
// Initialisation: H ~ U(-b, b), b = min(1, sqrt(6 / (fan_in + fan_out))) (xavier-uniform,
// within the clamp range), from the layer's generator. The update runs in every training-mode
// forward, also under noGrad(); there is no bias (a BN follows in the search space).

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { Tensor, fmt, type Shape } from '../tensor.js';
import { isGradEnabled, noGrad } from '../autograd.js';
import { conv2d, conv2dBackwardWeight, convOutputShape } from '../ops/conv.js';
import { copy } from '../ops/elementwise.js';
import { uniformInPlace, Generator } from '../ops/random.js';
import { Module, buffer } from './module.js';
import { fans } from './init.js';
import { defaultGen } from './layers.js';
import scaleSource from '../../shaders/hebbian/scale.wgsl';
import applySource from '../../shaders/hebbian/apply.wgsl';

const scaleKernel = new Kernel('hebbian_scale', scaleSource);
const applyKernel = new Kernel('hebbian_apply', applySource);

/**
 * Scale of the Hebbian update, H += HEBBIAN_RATE * U: the value SPEC section 3 fixes
 * ("accumulate their outer products over batch and positions into H (scaled 1e-4)").
 */
export const HEBBIAN_RATE = 1e-4;

type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : v);

export interface HebbianGeometry {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
}

export interface HebbianConvOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  gen?: Generator;
  /** Scale of the update (default HEBBIAN_RATE). */
  rate?: number;
}

function checkInputs(op: string, x: Tensor, y: Tensor, weightShape: Shape, g: HebbianGeometry): number {
  if (x.rank !== 4 || x.dtype !== 'f32') throw new Error(`${op}: input ${fmt(x.shape)} (${x.dtype}) must be f32 [N, C, H, W]`);
  const [N, C, H, W] = x.shape;
  const [O, Cw, KH, KW] = weightShape;
  if (C !== Cw) throw new Error(`${op}: input ${fmt(x.shape)} has ${C} channels, filters ${fmt(weightShape)} expect ${Cw}`);
  const OH = Math.floor((H + 2 * g.padding[0] - g.dilation[0] * (KH - 1) - 1) / g.stride[0]) + 1;
  const OW = Math.floor((W + 2 * g.padding[1] - g.dilation[1] * (KW - 1) - 1) / g.stride[1]) + 1;
  if (y.rank !== 4 || y.shape[0] !== N || y.shape[1] !== O || y.shape[2] !== OH || y.shape[3] !== OW) {
    throw new Error(`${op}: output ${fmt(y.shape)} is not conv(${fmt(x.shape)}, ${fmt(weightShape)}) = [${N}, ${O}, ${OH}, ${OW}]`);
  }
  return N * OH * OW;
}

/**
 * The unscaled Hebbian update U [O, C, kh, kw] of input x and output y = conv(x, H) (H's shape
 * is `weightShape`); no gradient. U is a conv weight gradient: with y scaled at every position
 * by both inverse row norms (hebbian_scale), U = conv2dBackwardWeight(x, scaled y).
 */
export function hebbianCorrelation(x: Tensor, y: Tensor, weightShape: Shape, g: HebbianGeometry): Tensor {
  const M = checkInputs('hebbianCorrelation', x, y, weightShape, g);
  const [, C, H, W] = x.shape;
  const [O, , KH, KW] = weightShape;
  const [, , OH, OW] = y.shape;
  const scaled = Tensor.empty(y.shape, 'f32', 'hebbian.scaled');
  gpu().dispatch1d(scaleKernel, { x: x.buffer, y: y.buffer, out: scaled.buffer }, {
    M, C, H, W, O, OH, OW, KH, KW,
    stride_h: g.stride[0], stride_w: g.stride[1], pad_h: g.padding[0], pad_w: g.padding[1], dil_h: g.dilation[0], dil_w: g.dilation[1],
  }, M);
  const U = conv2dBackwardWeight(x, scaled, weightShape, { ...g, groups: 1 });
  scaled.release();
  return U;
}

/** In place: H <- clamp(H + rate * U(x, y), -1, 1), with y = conv(x, H) the output of the forward. */
export function hebbianUpdate(x: Tensor, y: Tensor, H: Tensor, g: HebbianGeometry, rate = HEBBIAN_RATE): void {
  if (H.rank !== 4 || H.dtype !== 'f32') throw new Error(`hebbianUpdate: filters ${fmt(H.shape)} (${H.dtype}) must be f32 [O, C, kh, kw]`);
  if (!Number.isFinite(rate)) throw new Error(`hebbianUpdate: rate must be finite, got ${rate}`);
  const U = hebbianCorrelation(x, y, H.shape, g);
  gpu().dispatch1d(applyKernel, { u: U.buffer, h: H.buffer }, { n: H.size, rate }, H.size);
  U.release();
}

export class HebbianConv extends Module {
  /** The filters H [C_out, C_in, kh, kw], in [-1, 1]: a buffer, changed only by the Hebbian update. */
  readonly filters: Tensor;
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  rate: number;

  constructor(readonly inChannels: number, readonly outChannels: number, kernel: Pair, opts: HebbianConvOptions = {}) {
    super();
    const [kh, kw] = pair(kernel);
    for (const [what, v] of [['inChannels', inChannels], ['outChannels', outChannels], ['kernel height', kh], ['kernel width', kw]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`HebbianConv: ${what} must be a positive integer, got ${v}`);
    }
    this.stride = pair(opts.stride ?? 1);
    this.padding = pair(opts.padding ?? 0);
    this.dilation = pair(opts.dilation ?? 1);
    this.rate = opts.rate ?? HEBBIAN_RATE;
    const shape: Shape = [outChannels, inChannels, kh, kw];
    this.filters = buffer(Tensor.empty(shape, 'f32', 'hebbian.H'), 'hebbian.H');
    // Xavier-uniform, within the clamp range.
    const { fanIn, fanOut } = fans(shape);
    const bound = Math.min(1, Math.sqrt(6 / (fanIn + fanOut)));
    uniformInPlace(this.filters, opts.gen ?? defaultGen(), -bound, bound);
  }

  get geometry(): HebbianGeometry {
    return { stride: this.stride, padding: this.padding, dilation: this.dilation };
  }

  get params() {
    return { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: 1 };
  }

  forward(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[1] !== this.inChannels) {
      throw new Error(`HebbianConv: input ${fmt(x.shape)} must be [N, ${this.inChannels}, H, W] for filters ${fmt(this.filters.shape)}`);
    }
    if (!this.training) return conv2d(x, this.filters, this.params);
    // y's backward must see the filters that made y, which the update below changes in place.
    const recording = isGradEnabled() && x.requiresGrad;
    const used = recording ? noGrad(() => copy(this.filters)) : this.filters;
    const y = conv2d(x, used, this.params);
    noGrad(() => hebbianUpdate(x, y, this.filters, this.geometry, this.rate));
    return y;
  }

  outputShape(input: Shape): Shape {
    return convOutputShape(input, this.filters.shape, this.params);
  }
}
