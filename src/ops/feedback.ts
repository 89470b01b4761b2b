// The kernels of the learning rules' feedback (src/rules/): the sign-symmetry matrices,
// elementwise over W, and DFA's spatial broadcast of the output error. The rules choose the
// mode and own the tensors; these only dispatch.

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { Tensor, fmt } from '../tensor.js';
import feedbackSource from '../../shaders/rules/feedback.wgsl';
import broadcastSource from '../../shaders/rules/broadcast_spatial.wgsl';

const feedbackKernel = new Kernel('rule_feedback', feedbackSource);
const broadcastKernel = new Kernel('dfa_broadcast_spatial', broadcastSource);

/**
 * In place: b = f(w, m, b) elementwise by the kernel's MODE (shaders/rules/feedback.wgsl: 0
 * scale * sign(W), 1 |M| * sign(W), 2 |B| * sign(W)). Where the mode does not read m, pass w.
 */
export function signFeedback(mode: number, w: Tensor, m: Tensor, b: Tensor, scale = 0): void {
  if (w.size !== b.size || m.size !== w.size) throw new Error(`signFeedback: W ${fmt(w.shape)}, M ${fmt(m.shape)} and B ${fmt(b.shape)} must have one size`);
  if (w.size === 0) return;
  gpu().dispatch1d(feedbackKernel, { w: w.buffer, m: m.buffer, b: b.buffer }, { n: w.size, scale }, w.size, { MODE: mode });
}

/** e [N, K] repeated over every position: [N, K, H, W]. */
export function broadcastSpatial(e: Tensor, h: number, w: number): Tensor {
  if (e.rank !== 2) throw new Error(`broadcastSpatial: error must be [N, classes], got ${fmt(e.shape)}`);
  const out = Tensor.empty([e.shape[0], e.shape[1], h, w]);
  if (out.size > 0) gpu().dispatch1d(broadcastKernel, { e: e.buffer, out: out.buffer }, { n: out.size, hw: h * w }, out.size);
  return out;
}
