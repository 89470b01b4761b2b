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
// Ops and kernels: src/ops/predictive.ts (unit filters, the transposed conv, the inference step)
// and src/ops/conv.ts.

import { Tensor, fmt, type Shape } from '../tensor.js';
import { conv2d, convOutputShape } from '../ops/conv.js';
import { sub, relu } from '../ops/elementwise.js';
import { fillInPlace } from '../ops/fill.js';
import { normalizeFilters, convTranspose, pcStep, type ConvParams } from '../ops/predictive.js';
import { Module, parameter, buffer } from './module.js';
import { Conv2d, type LayerOptions, type InitName } from './layers.js';
import { forwardWithRule } from '../rules/route.js';

/** Initial inference step: below 1/L for unit-norm 3x3 filters (L ~ 4 to 4.5 at stride 1). */
export const ETA_INIT = 0.2;
export const PC_ITERATIONS = 3;

type Pair = number | [number, number];


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
    // A routed rule (DFA) runs the layer on a detached input and routes x's gradient; under
    // exact gradients at the forward it records plain backprop through the unrolled iterations.
    let errors: Tensor[] = [];
    const out = forwardWithRule(this.conv.rule, x, this.weight, this.isLearning(), { name: `PredictiveCodingConv (${this.conv.rule.name})`, conv: this.params },
      (input, feedback) => {
        const trace = this.infer(input, feedback, keepErrors);
        errors = trace.errors;
        return trace.out;
      });
    return { out, errors };
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
