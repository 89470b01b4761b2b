// Per-image losses of logits that the attacks ascend, with their backward: the DLR loss of
// APGD-DLR (Croce & Hein 2020) and the KL divergence KL(p || softmax(z)) of TPGD (Zhang et al.
// 2019). Both return [N] per-row losses; an attack sums them (ops/reduce.ts) for the gradient,
// and APGD also keeps the rows, its per-image state. Cross-entropy per row is ops/loss.ts's.

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { Tensor, fmt } from '../tensor.js';
import { record } from '../tape.js';
import dlrSource from '../../shaders/attack/dlr.wgsl';
import dlrBackwardSource from '../../shaders/attack/dlr_backward.wgsl';
import klSource from '../../shaders/attack/kl_divergence.wgsl';
import klBackwardSource from '../../shaders/attack/kl_divergence_backward.wgsl';

const dlrKernel = new Kernel('dlr', dlrSource);
const dlrBackwardKernel = new Kernel('dlr_backward', dlrBackwardSource);
const klKernel = new Kernel('kl_divergence', klSource);
const klBackwardKernel = new Kernel('kl_divergence_backward', klBackwardSource);

/** Quiet-NaN bits a bad label turns into (as in ops/loss.ts). */
const NAN_BITS = 0x7fc00000;
/** DLR's denominator needs the third-largest logit. */
const DLR_MIN_CLASSES = 3;

function checkLogits(op: string, logits: Tensor): { N: number; K: number } {
  if (logits.rank !== 2 || logits.dtype !== 'f32') throw new Error(`${op}: logits must be f32 [N, K], got ${logits.dtype} ${fmt(logits.shape)}`);
  const [N, K] = logits.shape;
  return { N, K };
}

/**
 * DLR loss per row of logits [N, K] (K >= 3) against i32 labels [N]:
 * -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3 + 1e-12), pi1 / pi3 the largest / third-largest.
 * Differentiable in the logits. A label outside [0, K) gives a NaN row.
 */
export function dlrLoss(logits: Tensor, labels: Tensor): Tensor {
  const { N, K } = checkLogits('dlrLoss', logits);
  if (K < DLR_MIN_CLASSES) throw new Error(`dlrLoss: needs at least ${DLR_MIN_CLASSES} classes (its denominator is z_pi1 - z_pi3), got logits ${fmt(logits.shape)}`);
  if (labels.dtype !== 'i32' || labels.rank !== 1 || labels.shape[0] !== N) {
    throw new Error(`dlrLoss: labels must be i32 [${N}] for logits ${fmt(logits.shape)}, got ${labels.dtype} ${fmt(labels.shape)}`);
  }
  const loss = Tensor.empty([N], 'f32', 'dlr.loss');
  const picks = Tensor.empty([N, 3], 'i32', 'dlr.picks');
  if (N > 0) {
    gpu().dispatch1d(dlrKernel, { logits: logits.buffer, labels: labels.buffer, picks: picks.buffer, loss: loss.buffer },
      { N, K, nanBits: NAN_BITS, pad: 0 }, N);
  }
  const out = record(loss, 'dlrLoss', [logits], (g) => [dlrBackward(g, logits, labels, picks)]);
  if (!out.node) picks.release();
  return out;
}

/** Gradient of dlrLoss's rows with respect to the logits, given the rows' gradient g [N]. */
export function dlrBackward(g: Tensor, logits: Tensor, labels: Tensor, picks: Tensor): Tensor {
  const { N, K } = checkLogits('dlrBackward', logits);
  if (g.size !== N) throw new Error(`dlrBackward: gradient ${fmt(g.shape)} must have ${N} elements (one per row)`);
  const dx = Tensor.empty(logits.shape, 'f32', 'dlr.dx');
  if (dx.size > 0) {
    gpu().dispatch1d(dlrBackwardKernel, { logits: logits.buffer, labels: labels.buffer, picks: picks.buffer, g: g.buffer, dx: dx.buffer },
      { n: dx.size, K, nanBits: NAN_BITS, pad: 0 }, dx.size);
  }
  return dx;
}

/**
 * KL(p || softmax(z)) per row of logits z [N, K], p [N, K] a fixed distribution per row (no
 * gradient flows to it); terms with p = 0 count 0, as in PyTorch's KLDivLoss.
 */
export function klDivergence(logits: Tensor, p: Tensor): Tensor {
  const { N, K } = checkLogits('klDivergence', logits);
  if (p.dtype !== 'f32' || p.rank !== 2 || p.shape[0] !== N || p.shape[1] !== K) {
    throw new Error(`klDivergence: p ${p.dtype} ${fmt(p.shape)} must be f32 of the logits' shape ${fmt(logits.shape)}`);
  }
  if (K < 1) throw new Error(`klDivergence: logits ${fmt(logits.shape)} have no classes`);
  const loss = Tensor.empty([N], 'f32', 'kl.loss');
  const stats = Tensor.empty([N, 2], 'f32', 'kl.stats');
  if (N > 0) gpu().dispatch1d(klKernel, { logits: logits.buffer, p: p.buffer, stats: stats.buffer, loss: loss.buffer }, { N, K }, N);
  const out = record(loss, 'klDivergence', [logits], (g) => [klDivergenceBackward(g, logits, p, stats)]);
  if (!out.node) stats.release();
  return out;
}

/** Gradient of klDivergence's rows with respect to the logits, given the rows' gradient g [N]. */
export function klDivergenceBackward(g: Tensor, logits: Tensor, p: Tensor, stats: Tensor): Tensor {
  const { N, K } = checkLogits('klDivergenceBackward', logits);
  if (g.size !== N) throw new Error(`klDivergenceBackward: gradient ${fmt(g.shape)} must have ${N} elements (one per row)`);
  const dx = Tensor.empty(logits.shape, 'f32', 'kl.dx');
  if (dx.size > 0) {
    gpu().dispatch1d(klBackwardKernel, { logits: logits.buffer, p: p.buffer, stats: stats.buffer, g: g.buffer, dx: dx.buffer },
      { n: dx.size, K }, dx.size);
  }
  return dx;
}
