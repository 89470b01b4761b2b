// Predictive-coding conv: a conv layer whose output is refined by a few inference iterations
// that reduce the error of predicting the layer's input from its output (SPEC section 3).
//
// Model: Rao & Ballard 1999 (a representation predicts its input through generative weights;
// inference reduces the prediction error), in the convolutional, locally recurrent form of
// Wen et al. 2018 ("Deep predictive coding network for object recognition", ICML) and Han et
// al. 2018 ("Deep predictive coding network with local recurrent processing", NeurIPS): a
// feed-forward conv sweep, then cycles of prediction by a transposed conv and error feedback by
// the conv. The representation r (the output, [N, C_out, OH, OW]) predicts the input x through
// the transposed conv with the SAME filters (tied weights, as in Rao & Ballard's generative
// model; PCN unties them), so inference is exactly descent on the prediction-error energy
// E(r) = 1/2 |x - conv^T(r, V)|^2 under r >= 0, with half the parameters:
//
//   V       = W / |W|_row             every output filter scaled to unit L2 norm (option `normalize`,
//                                      default on; V = W when off)
//   r_0     = relu(conv(x, V))                          feed-forward sweep
//   for t = 0 .. T-1:
//     x^_t    = conv^T(r_t, V)                          prediction of the input (conv2dBackwardInput)
//     e_t     = x - x^_t                                prediction error
//     r_{t+1} = relu(r_t + eta[c] * conv(e_t, V))       error feedback, per-channel step eta
//   output  = r_T                                       [N, C_out, OH, OW], as a conv of the same stride/padding
//
// conv(e, V) = -dE/dr, so each iteration is a projected gradient step on E (ISTA without the
// sparsity term); for eta < 1/L, L = |conv^T conv| (the largest eigenvalue), E decreases at every
// step. Stability: normalising the filters (the dictionary-atom normalisation of sparse coding,
// Olshausen & Field 1996) makes the dynamics independent of the filters' scale, which training
// changes freely since a BN follows. With unit filters, measured L is about 4 to 4.5 at stride 1
// and 2 to 2.5 at stride 2 for random 3x3 filters (C = 5 .. 36), so eta starts at ETA_INIT = 0.2
// (eta * L < 1): monotone descent at initialisation. eta is a learnable parameter [C_out]
// (option `learnStep`, default on; otherwise a fixed buffer) and is not clamped: training
// can make the steps larger or smaller.
//
// Stride: at stride s the feed-forward and feedback convs run at stride s, and the prediction is
// the transposed conv of the same stride, so x^ has x's shape and the output is
// [N, C_out, floor((H + 2p - k) / s) + 1, ...]. T defaults to 3 iterations: 1 + 2T convs per
// forward; on llvmpipe a forward + backward took about 9 times a plain conv's (16 channels,
// input [16, 16, 32, 32]). Most of the error reduction comes in the first two iterations.
//
// Weight learning: gradient through the unrolled iterations (the convs are autograd ops), under
// the layer's learning rule: every conv and transposed conv sends its input gradient through
// the rule's feedback matrix B (refreshed once per forward) instead of V, as Conv2d does
// (B replaces V, the filters actually used, in those paths); the weight gradients are exact.
// Under DFA the whole layer is run on a detached input and the input receives B^T e (as
// Conv2d's DFA; the weight gradient is backprop inside the layer; a forward run under
// exactGradients() records plain backprop instead). The weight and rule are held
// by an inner Conv2d (`conv`) so that rule-aware code (ruleLayers, alignment) sees them; its
// own forward is not used.
//
// Kernels (shaders/predictive/): pc_normalize_rows (unit filters and their backward),
// pc_step (r + eta * u, relu) and pc_step_backward; the convs are src/ops/conv.ts.

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { Tensor, fmt, type Shape } from '../tensor.js';
import { record, exactGradients } from '../autograd.js';
import { conv2d, conv2dForward, conv2dBackwardInput, conv2dBackwardWeight, convOutputShape } from '../ops/conv.js';
import { sub, mul, relu } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import { fillInPlace } from '../ops/fill.js';
import { Module, parameter, buffer } from './module.js';
import { Conv2d, type LayerOptions, type InitName } from './layers.js';
import { broadcastSpatial, currentOutputError, joinInputGradient } from './rules.js';
import stepSource from '../../shaders/predictive/step.wgsl';
import stepBackwardSource from '../../shaders/predictive/step_backward.wgsl';
import normalizeSource from '../../shaders/predictive/normalize_rows.wgsl';

const stepKernel = new Kernel('pc_step', stepSource);
const stepBackwardKernel = new Kernel('pc_step_backward', stepBackwardSource);
const normalizeKernel = new Kernel('pc_normalize_rows', normalizeSource);

/** Initial inference step: below 1/L for unit-norm 3x3 filters (L ~ 4 to 4.5 at stride 1). */
export const ETA_INIT = 0.2;
export const PC_ITERATIONS = 3;

type Pair = number | [number, number];

export interface ConvParams {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

// ---- ops ------------------------------------------------------------------------------------

/** Every output filter of w [O, ...] scaled to unit L2 norm (rows of w viewed as [O, K]). */
export function normalizeFilters(w: Tensor): Tensor {
  if (w.dtype !== 'f32' || w.rank < 2) throw new Error(`normalizeFilters: weight ${fmt(w.shape)} (${w.dtype}) must be f32 [O, ...]`);
  const rows = w.shape[0];
  const K = rows === 0 ? 0 : w.size / rows;
  const run = (g: Tensor | null, mode: 0 | 1): Tensor => {
    const out = Tensor.empty(w.shape, 'f32', mode === 0 ? 'pc.V' : 'pc.dW');
    if (rows > 0) gpu().dispatch1d(normalizeKernel, { w: w.buffer, g: (g ?? w).buffer, out: out.buffer }, { rows, K }, rows, { MODE: mode });
    return out;
  };
  const out = run(null, 0);
  return record(out, 'normalizeFilters', [w], (g) => [run(g, 1)]);
}

/**
 * x^ = conv^T(r, V): the transpose of conv(., V) with `params`, of input shape `inputShape`
 * (conv2dBackwardInput as an autograd op). Its input gradient is conv(g, feedback ?? V) (V when
 * exactGradients() is on at the forward or the backward, as conv2d); its weight gradient is the
 * exact conv2dBackwardWeight(g, r).
 */
export function convTranspose(r: Tensor, V: Tensor, inputShape: Shape, params: ConvParams, feedback: Tensor | null = null): Tensor {
  const out = conv2dBackwardInput(r, V, inputShape, params);
  const exactAtForward = exactGradients();
  return record(out, 'convTranspose', [r, V], (g) => [
    r.requiresGrad ? conv2dForward(g, exactAtForward || exactGradients() || !feedback ? V : feedback, params) : null,
    V.requiresGrad ? conv2dBackwardWeight(g, r, V.shape, params) : null,
  ]);
}

/** relu(r + eta[c] * u) for NCHW r, u and per-channel eta [C]. */
export function pcStep(r: Tensor, u: Tensor, eta: Tensor): Tensor {
  if (r.rank !== 4 || r.dtype !== 'f32' || u.dtype !== 'f32' || r.shape.some((d, i) => d !== u.shape[i]) || u.rank !== 4) {
    throw new Error(`pcStep: r ${fmt(r.shape)} and u ${fmt(u.shape)} must be f32 [N, C, H, W] of one shape`);
  }
  const [, C, H, W] = r.shape;
  if (eta.dtype !== 'f32' || eta.size !== C) throw new Error(`pcStep: step ${fmt(eta.shape)} must have ${C} values for ${fmt(r.shape)}`);
  const uniforms = { n: r.size, C, HW: H * W };
  const out = Tensor.empty(r.shape, 'f32', 'pc.r');
  if (out.size > 0) gpu().dispatch1d(stepKernel, { r: r.buffer, u: u.buffer, eta: eta.buffer, out: out.buffer }, uniforms, out.size);
  return record(out, 'pcStep', [r, u, eta], (g) => {
    const gr = Tensor.empty(r.shape, 'f32', 'pc.dr');
    const gu = u.requiresGrad ? Tensor.empty(r.shape, 'f32', 'pc.du') : null;
    if (gr.size > 0) {
      gpu().dispatch1d(
        stepBackwardKernel,
        { g: g.buffer, out: out.buffer, eta: eta.buffer, gr: gr.buffer, gu: (gu ?? gr).buffer },
        uniforms, gr.size, { MODE: gu ? 0 : 1 },
      );
    }
    let geta: Tensor | null = null;
    if (eta.requiresGrad) {
      const prod = mul(gr, u);
      geta = sum(prod, [0, 2, 3]);
      prod.release();
    }
    if (!r.requiresGrad) {
      gr.release();
      return [null, gu, geta];
    }
    return [gr, gu, geta];
  });
}

// ---- layer ----------------------------------------------------------------------------------

export interface PredictiveCodingOptions extends LayerOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  /** Inference iterations T (default PC_ITERATIONS). */
  iterations?: number;
  /** Initial per-channel step (default ETA_INIT). */
  step?: number;
  /** Learn the step by gradient (default true) or keep it fixed. */
  learnStep?: boolean;
  /** Unit-norm filters (default true). */
  normalize?: boolean;
  init?: InitName;
}

export interface PcTrace {
  out: Tensor;
  /** e_t = x - conv^T(r_t, V) for t = 0 .. T (the last one after the final iteration). */
  errors: Tensor[];
}

export class PredictiveCodingConv extends Module {
  /** Holds the weight W [C_out, C_in, kh, kw] and the learning rule; its forward is not used. */
  readonly conv: Conv2d;
  /** Per-channel inference step [C_out]. */
  readonly eta: Tensor;
  readonly iterations: number;
  readonly normalize: boolean;

  constructor(readonly inChannels: number, readonly outChannels: number, kernel: Pair, opts: PredictiveCodingOptions = {}) {
    super();
    const { iterations = PC_ITERATIONS, step = ETA_INIT, learnStep = true, normalize = true, stride, padding, dilation, ...layer } = opts;
    if (!Number.isInteger(iterations) || iterations < 0) throw new Error(`PredictiveCodingConv: iterations must be a non-negative integer, got ${iterations}`);
    if (!Number.isFinite(step)) throw new Error(`PredictiveCodingConv: step must be finite, got ${step}`);
    this.conv = new Conv2d(inChannels, outChannels, kernel, { ...layer, stride, padding, dilation });
    this.iterations = iterations;
    this.normalize = normalize;
    const eta = fillInPlace(Tensor.empty([outChannels], 'f32', 'pc.eta'), step);
    this.eta = learnStep ? parameter(eta, 'pc.eta') : buffer(eta, 'pc.eta');
  }

  get weight(): Tensor {
    return this.conv.weight;
  }

  get params(): ConvParams {
    return this.conv.params;
  }

  forward(x: Tensor): Tensor {
    return this.run(x, false).out;
  }

  /** The forward with the prediction errors e_0 .. e_T kept (diagnostics, tests). */
  trace(x: Tensor): PcTrace {
    return this.run(x, true);
  }

  private run(x: Tensor, keepErrors: boolean): PcTrace {
    if (x.rank !== 4 || x.dtype !== 'f32' || x.shape[1] !== this.inChannels) {
      throw new Error(`PredictiveCodingConv: input ${fmt(x.shape)} (${x.dtype}) must be f32 [N, ${this.inChannels}, H, W] for weight ${fmt(this.weight.shape)}`);
    }
    const rule = this.conv.rule;
    // Under exactGradients() (attacks, checks) the forward records plain backprop through the layer.
    if (rule.name !== 'dfa' || exactGradients()) return this.infer(x, rule.name === 'dfa' ? null : rule.feedback(this.weight), keepErrors);
    const p = this.params;
    const result = this.infer(x.view(), null, keepErrors);
    const [, , oh, ow] = result.out.shape;
    result.out = joinInputGradient(result.out, x, 'pc_conv_dfa', () => {
      const e = broadcastSpatial(currentOutputError('PredictiveCodingConv (dfa)'), oh, ow);
      const dx = conv2dBackwardInput(e, rule.matrix!, x.shape, { ...p, groups: 1 });
      e.release();
      return dx;
    });
    return result;
  }

  private infer(x: Tensor, feedback: Tensor | null, keepErrors: boolean): PcTrace {
    const p = this.params;
    const V = this.normalize ? normalizeFilters(this.weight) : this.weight;
    let r = relu(conv2d(x, V, { ...p, feedback }));
    const errors: Tensor[] = [];
    for (let t = 0; ; t++) {
      if (t === this.iterations && !keepErrors) break;
      const xh = convTranspose(r, V, x.shape, p, feedback);
      const e = sub(x, xh);
      if (keepErrors) errors.push(e);
      if (t === this.iterations) break;
      r = pcStep(r, conv2d(e, V, { ...p, feedback }), this.eta);
    }
    return { out: r, errors };
  }

  outputShape(input: Shape): Shape {
    return convOutputShape(input, this.weight.shape, this.params);
  }
}
