// The ops of the predictive-coding conv (src/nn/predictive.ts has the layer and its equations):
// unit-norm filters, the transposed conv that predicts the input, and the inference step.
// Kernels (shaders/predictive/): pc_normalize_rows (unit filters and their backward), pc_step
// (r + eta * u, relu) and pc_step_backward; the convs are src/ops/conv.ts.

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { Tensor, fmt, type Shape } from '../tensor.js';
import { record } from '../tape.js';
import { exactGradients } from '../context.js';
import { conv2dForward, conv2dBackwardInput, conv2dBackwardWeight } from './conv.js';
import { mul } from './elementwise.js';
import { sum } from './reduce.js';
import stepSource from '../../shaders/predictive/step.wgsl';
import stepBackwardSource from '../../shaders/predictive/step_backward.wgsl';
import normalizeSource from '../../shaders/predictive/normalize_rows.wgsl';

const stepKernel = new Kernel('pc_step', stepSource);
const stepBackwardKernel = new Kernel('pc_step_backward', stepBackwardSource);
const normalizeKernel = new Kernel('pc_normalize_rows', normalizeSource);

export interface ConvParams {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

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
