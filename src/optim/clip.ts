// Gradient clipping by global L2 norm, entirely on the GPU: per tensor, partial sums of squares
// into one partials buffer (shaders/mixed/dot_partials.wgsl), one pass adding them in order and
// taking the root into a [1] tensor, then every gradient scaled by
// min(1, maxNorm / (norm + 1e-6)) read from that tensor by the kernel (PyTorch's clip_grad_norm_).

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { Tensor, fmt } from '../tensor.js';
import { fillInPlace } from '../ops/fill.js';
import { dotPartialsInto, partialGroups, sumRowsInto } from '../ops/mixed.js';
import source from '../../shaders/optim/clip_scale.wgsl';

const clipScaleKernel = new Kernel('clip_scale', source);

/** sqrt(sum over tensors of sum(t^2)) as a [1] tensor on the GPU (nothing read back). */
export function globalNorm(tensors: Tensor[]): Tensor {
  tensors.forEach((t, i) => {
    if (t.dtype !== 'f32') throw new Error(`globalNorm: tensor ${i} ${fmt(t.shape)} is ${t.dtype}, needs f32`);
  });
  const groups = tensors.map((t) => partialGroups(t.size));
  const total = groups.reduce((a, b) => a + b, 0);
  const out = Tensor.empty([1], 'f32', 'globalNorm');
  const partials = Tensor.empty([Math.max(total, 1)], 'f32', 'globalNorm.partials');
  let base = 0;
  tensors.forEach((t, i) => {
    dotPartialsInto(t, [t], partials, base, groups[i]);
    base += groups[i];
  });
  if (total === 0) fillInPlace(partials, 0); // no tensors: the norm is 0
  sumRowsInto(partials, 1, Math.max(total, 1), 0, out, 0, true);
  partials.release();
  return out;
}

/**
 * Scales the gradients of params (those that have one) so that their global L2 norm is at most
 * maxNorm; returns the norm before clipping as a [1] tensor (read it for logging if wanted).
 */
export function clipGradNorm(params: Tensor[], maxNorm: number): Tensor {
  if (!(maxNorm >= 0)) throw new Error(`clipGradNorm: maxNorm must be >= 0, got ${maxNorm}`);
  const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
  const norm = globalNorm(grads);
  for (const g of grads) {
    if (g.size === 0) continue;
    gpu().dispatch1d(clipScaleKernel, { norm: norm.buffer, g: g.buffer }, { n: g.size, max_norm: maxNorm }, g.size);
  }
  return norm;
}
