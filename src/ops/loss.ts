// Softmax, log-softmax and the softmax cross-entropy loss with label smoothing, over the last
// axis of [N, K] logits, numerically stable (the row maximum is subtracted), and countCorrect:
// the number of argmax hits, accumulated on the GPU for metrics.
//
// Rows of at most tuning.reduceThreadChunk values get one thread each; longer rows one
// workgroup each (a tree in workgroup memory). The cross-entropy's backward is one fused
// elementwise pass, (softmax - target) / N * g, reading g from its GPU buffer.
//
// Labels are i32 [N], checked on the CPU for shape and dtype only (values would need a
// readback): a label outside [0, K) is never used as an index; its row's loss and gradient
// are NaN, so the mistake shows.

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import type { PooledBuffer } from '../gpu/buffers.js';
import { Tensor, fmt } from '../tensor.js';
import { record } from '../tape.js';
import { planReduce, sumRaw } from './reduce.js';
import softmaxSource from '../../shaders/loss/softmax.wgsl';
import softmaxBackwardSource from '../../shaders/loss/softmax_backward.wgsl';
import ceSource from '../../shaders/loss/cross_entropy.wgsl';
import ceBackwardSource from '../../shaders/loss/cross_entropy_backward.wgsl';
import countSource from '../../shaders/loss/count_correct.wgsl';

const softmaxThread = new Kernel('softmax_thread', softmaxSource, 'thread_main');
const softmaxGroup = new Kernel('softmax_group', softmaxSource, 'group_main');
const softmaxBackThread = new Kernel('softmax_backward_thread', softmaxBackwardSource, 'thread_main');
const softmaxBackGroup = new Kernel('softmax_backward_group', softmaxBackwardSource, 'group_main');
const ceThread = new Kernel('cross_entropy_thread', ceSource, 'thread_main');
const ceGroup = new Kernel('cross_entropy_group', ceSource, 'group_main');
const ceBackwardKernel = new Kernel('cross_entropy_backward', ceBackwardSource);
const countKernel = new Kernel('count_correct', countSource);

/** The NaN a bad label turns into (quiet NaN bits; WGSL cannot spell NaN as a constant). */
const NAN_BITS = 0x7fc00000;

export type Reduction = 'mean' | 'sum' | 'none';

export interface CrossEntropyOptions {
  /** eps in [0, 1]: the target is (1 - eps) * onehot + eps / K. Default 0. */
  labelSmoothing?: number;
  /** 'mean' (default) and 'sum' give a [1] tensor, 'none' the [N] per-row losses. */
  reduction?: Reduction;
}

/** Rows x columns of a softmax over the last axis. */
function rowsOf(op: string, x: Tensor): { N: number; K: number } {
  if (x.dtype !== 'f32') throw new Error(`${op}: needs f32 logits, got ${x.dtype} ${fmt(x.shape)}`);
  if (x.rank < 1) throw new Error(`${op}: input ${fmt(x.shape)} needs at least one axis`);
  const K = x.shape[x.rank - 1];
  if (K < 1) throw new Error(`${op}: input ${fmt(x.shape)} has an empty last axis`);
  return { N: x.size / K, K };
}

/** Dispatches a row kernel: a thread per row for short rows, else a workgroup per row. */
function dispatchRows(thread: Kernel, group: Kernel, buffers: Record<string, PooledBuffer>,
  uniforms: Record<string, number>, N: number, K: number, overrides: Record<string, number> = {}): void {
  const rt = gpu();
  if (N === 0) return;
  const wg = rt.tuning.reduceWorkgroup;
  if (K <= rt.tuning.reduceThreadChunk) {
    rt.dispatch1d(thread, buffers, uniforms, N, { ...overrides, WG: wg });
  } else {
    const max = rt.info.limits.maxComputeWorkgroupsPerDimension ?? 65535;
    const y = Math.ceil(N / max);
    rt.dispatch(group, buffers, uniforms, [Math.ceil(N / y), y], { ...overrides, WG: wg });
  }
}

// ---- softmax and log-softmax -------------------------------------------------------------------

function softmaxForward(op: string, x: Tensor, log: boolean): Tensor {
  const { N, K } = rowsOf(op, x);
  const out = Tensor.empty(x.shape, 'f32', op);
  dispatchRows(softmaxThread, softmaxGroup, { x: x.buffer, out: out.buffer }, { N, K }, N, K, { LOG: log ? 1 : 0 });
  return out;
}

/**
 * Backward of softmax (log = false: y is softmax's output) or log-softmax (log = true: y is
 * logSoftmax's output), given the output gradient g.
 */
export function softmaxBackward(g: Tensor, y: Tensor, log = false): Tensor {
  const op = log ? 'logSoftmaxBackward' : 'softmaxBackward';
  if (g.size !== y.size || g.rank !== y.rank || g.shape.some((d, i) => d !== y.shape[i])) {
    throw new Error(`${op}: gradient ${fmt(g.shape)} does not match output ${fmt(y.shape)}`);
  }
  const { N, K } = rowsOf(op, y);
  const dx = Tensor.empty(y.shape, 'f32', op);
  dispatchRows(softmaxBackThread, softmaxBackGroup, { y: y.buffer, g: g.buffer, dx: dx.buffer }, { N, K }, N, K, { LOG: log ? 1 : 0 });
  return dx;
}

/** Softmax over the last axis (x is [N, K], or any rank: rows of the last axis). */
export function softmax(x: Tensor): Tensor {
  const out = softmaxForward('softmax', x, false);
  return record(out, 'softmax', [x], (g) => [softmaxBackward(g, out, false)]);
}

/** log(softmax(x)) over the last axis, computed as x - max - log(sum(exp(x - max))). */
export function logSoftmax(x: Tensor): Tensor {
  const out = softmaxForward('logSoftmax', x, true);
  return record(out, 'logSoftmax', [x], (g) => [softmaxBackward(g, out, true)]);
}

// ---- cross-entropy -----------------------------------------------------------------------------

function checkLogitsLabels(op: string, logits: Tensor, labels: Tensor): { N: number; K: number } {
  if (logits.rank !== 2) throw new Error(`${op}: logits ${fmt(logits.shape)} must be [N, K] (rank 2, got rank ${logits.rank})`);
  if (logits.dtype !== 'f32') throw new Error(`${op}: logits must be f32, got ${logits.dtype} ${fmt(logits.shape)}`);
  const [N, K] = logits.shape;
  if (labels.dtype !== 'i32') throw new Error(`${op}: labels must be i32, got ${labels.dtype} ${fmt(labels.shape)}`);
  if (labels.rank !== 1 || labels.shape[0] !== N) {
    throw new Error(`${op}: labels ${fmt(labels.shape)} must be [${N}] for logits ${fmt(logits.shape)}`);
  }
  if (K < 1) throw new Error(`${op}: logits ${fmt(logits.shape)} have no classes`);
  return { N, K };
}

/** What the cross-entropy backward needs from its forward. */
export interface CrossEntropySaved {
  /** [N]: log-sum-exp of every row. */
  lse: Tensor;
  labelSmoothing: number;
  reduction: Reduction;
}

/** Raw forward: the loss ([1], or [N] for 'none') and what the backward needs. */
export function crossEntropyForward(logits: Tensor, labels: Tensor, opts: CrossEntropyOptions = {}): { loss: Tensor; saved: CrossEntropySaved } {
  const { N, K } = checkLogitsLabels('crossEntropy', logits, labels);
  const labelSmoothing = opts.labelSmoothing ?? 0;
  const reduction = opts.reduction ?? 'mean';
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) throw new Error(`crossEntropy: labelSmoothing ${labelSmoothing} must be in [0, 1]`);
  if (!['mean', 'sum', 'none'].includes(reduction)) throw new Error(`crossEntropy: reduction '${reduction}' is not 'mean', 'sum' or 'none'`);
  const rows = Tensor.empty([N], 'f32', 'crossEntropy.rows');
  const lse = Tensor.empty([N], 'f32', 'crossEntropy.lse');
  dispatchRows(ceThread, ceGroup, { logits: logits.buffer, labels: labels.buffer, loss: rows.buffer, lse: lse.buffer },
    { N, K, smoothing: labelSmoothing, nanBits: NAN_BITS }, N, K);
  let loss = rows;
  if (reduction !== 'none') {
    loss = sumRaw(rows, planReduce('crossEntropy', [N], undefined, false), reduction === 'mean' ? 1 / N : 1);
    rows.release();
  }
  return { loss, saved: { lse, labelSmoothing, reduction } };
}

/**
 * Gradient of the loss with respect to the logits: (softmax - smoothed onehot) * g / N for
 * 'mean' (no / N for 'sum'; g per row for 'none'). g is the loss gradient, on the GPU.
 */
export function crossEntropyBackward(g: Tensor, logits: Tensor, labels: Tensor, saved: CrossEntropySaved): Tensor {
  const { N, K } = checkLogitsLabels('crossEntropyBackward', logits, labels);
  const perRow = saved.reduction === 'none';
  if (g.size !== (perRow ? N : 1)) {
    throw new Error(`crossEntropyBackward: gradient ${fmt(g.shape)} must have ${perRow ? N : 1} element(s) (reduction '${saved.reduction}')`);
  }
  const dx = Tensor.empty(logits.shape, 'f32', 'crossEntropy.dx');
  if (dx.size > 0) {
    gpu().dispatch1d(
      ceBackwardKernel,
      { logits: logits.buffer, labels: labels.buffer, lse: saved.lse.buffer, g: g.buffer, dx: dx.buffer },
      { n: dx.size, K, smoothing: saved.labelSmoothing, scale: saved.reduction === 'mean' ? 1 / N : 1, gPerRow: perRow ? 1 : 0, nanBits: NAN_BITS },
      dx.size,
    );
  }
  return dx;
}

/**
 * Softmax cross-entropy of logits [N, K] against i32 labels [N]: a [1] tensor (mean over
 * the batch by default). Label smoothing eps mixes eps / K of the uniform target in.
 */
export function crossEntropy(logits: Tensor, labels: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const { loss, saved } = crossEntropyForward(logits, labels, opts);
  const recorded = record(loss, 'crossEntropy', [logits], (g) => [crossEntropyBackward(g, logits, labels, saved)]);
  if (!recorded.node) saved.lse.release();
  return recorded;
}

// ---- metrics -----------------------------------------------------------------------------------

/**
 * Number of rows whose argmax (first maximum) equals the label, as f32 [1] on the GPU. With
 * `into` (f32 [1]) the count is added to it in place and `into` is returned: a running count
 * over batches with no readback.
 */
export function countCorrect(logits: Tensor, labels: Tensor, into?: Tensor): Tensor {
  const { N, K } = checkLogitsLabels('countCorrect', logits, labels);
  if (into && (into.dtype !== 'f32' || into.size !== 1)) {
    throw new Error(`countCorrect: the accumulator ${fmt(into.shape)} (${into.dtype}) must be f32 [1]`);
  }
  const out = into ?? Tensor.empty([1], 'f32', 'countCorrect');
  gpu().dispatch(countKernel, { logits: logits.buffer, labels: labels.buffer, out: out.buffer },
    { N, K, accumulate: into ? 1 : 0 }, [1], { WG: gpu().tuning.reduceWorkgroup });
  return out;
}
