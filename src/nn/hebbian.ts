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
// In eval mode, and in an evaluating step context (src/context.ts), there is no update and
// y = conv(x, H).
//
// Gradients: H is a buffer (checkpointed with the model, requires no gradient, so no
// optimizer touches it). The gradient with respect to the input flows through the conv with
// the filters of the forward (exact backprop through H), so the BN after this layer and the
// layers before it learn by gradient.
//
// Kernels: src/ops/hebbian.ts (hebbian_scale, hebbian_apply, and a conv weight gradient).
//
// Initialisation: H ~ U(-b, b), b = min(1, sqrt(6 / (fan_in + fan_out))) (xavier-uniform,
// within the clamp range), from the layer's generator. The update runs in every training-mode
// forward, also under noGrad(); there is no bias (a BN follows in the search space).

import { Tensor, fmt, type Shape } from '../tensor.js';
import { isGradEnabled, noGrad } from '../context.js';
import { conv2d, convOutputShape } from '../ops/conv.js';
import { copy } from '../ops/elementwise.js';
import { hebbianUpdate, type HebbianGeometry } from '../ops/hebbian.js';
import { uniformInPlace, Generator } from '../ops/random.js';
import { Module, buffer } from './module.js';
import { fans } from './init.js';
import { defaultGen } from './layers.js';

export type { HebbianGeometry } from '../ops/hebbian.js';

/**
 * Scale of the Hebbian update, H += HEBBIAN_RATE * U: the value SPEC section 3 fixes
 * ("accumulate their outer products over batch and positions into H (scaled 1e-4)").
 */
export const HEBBIAN_RATE = 1e-4;

type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : v);

export interface HebbianConvOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  gen?: Generator;
  /** Scale of the update (default HEBBIAN_RATE). */
  rate?: number;
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
    // Evaluation (eval mode, or an 'eval' step context: scoring) changes no filter.
    if (!this.isLearning()) return conv2d(x, this.filters, this.params);
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
