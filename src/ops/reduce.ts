// Reductions: sum and mean over any set of axes, with keepDims, and their backward (a
// broadcast of the gradient). No permute: the reduced axes are grouped into runs of adjacent
// axes (size-1 axes join any run), and each run is one strided reduction of x viewed as
// [outer, R, inner]. Several runs are reduced one after another, the largest first. A run
// whose R is long is split into chunks reduced in parallel, and the partials are reduced again.

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { Tensor, fmt, shapeSize, type Shape } from '../tensor.js';
import { record } from '../tape.js';
import { fillInPlace } from './fill.js';
import sumSource from '../../shaders/reduce/sum.wgsl';
import expandSource from '../../shaders/reduce/expand.wgsl';

const sumGroupKernel = new Kernel('reduce_sum_group', sumSource, 'group_main');
const sumThreadKernel = new Kernel('reduce_sum_thread', sumSource, 'thread_main');
const expandKernel = new Kernel('reduce_expand', expandSource);

/** One strided reduction: x viewed as [outer, R, inner] -> [outer, inner]. */
export interface ReduceRun {
  outer: number;
  R: number;
  inner: number;
}

export interface ReducePlan {
  /** The reduced axes, non-negative, ascending. */
  axes: number[];
  /** Output shape with keepDims (reduced axes of size 1). */
  keptShape: number[];
  /** Output shape as asked for. */
  outShape: number[];
  /** Number of input elements summed into each output. */
  count: number;
  /** Passes in execution order (empty when every reduced axis has size 1). */
  runs: ReduceRun[];
}

/** Normalises axes (negative counts from the end; undefined = all) and plans the passes. */
export function planReduce(op: string, shape: Shape, axes: number | readonly number[] | undefined, keepDims: boolean): ReducePlan {
  const rank = shape.length;
  let list: number[];
  if (axes === undefined) list = shape.map((_, i) => i);
  else {
    const given = typeof axes === 'number' ? [axes] : [...axes];
    list = [];
    for (const a of given) {
      if (!Number.isInteger(a) || a < -rank || a >= rank) {
        throw new Error(`${op}: axis ${a} is out of range for input ${fmt(shape)} (rank ${rank})`);
      }
      const n = a < 0 ? a + rank : a;
      if (list.includes(n)) throw new Error(`${op}: axis ${a} given twice for input ${fmt(shape)}`);
      list.push(n);
    }
    list.sort((a, b) => a - b);
  }
  const reduced = shape.map((_, i) => list.includes(i));
  const keptShape = shape.map((d, i) => (reduced[i] ? 1 : d));
  let outShape = shape.filter((_, i) => !reduced[i]);
  if (!keepDims && outShape.length === 0) outShape = [1];
  let count = 1;
  for (const a of list) count *= shape[a];

  // Runs: maximal segments of axes that are reduced or of size 1, holding a reduced axis > 1.
  const segments: [number, number][] = [];
  let start = -1;
  let useful = false;
  for (let i = 0; i <= rank; i++) {
    const joinable = i < rank && (reduced[i] || shape[i] === 1);
    if (joinable) {
      if (start < 0) start = i;
      if (reduced[i] && shape[i] > 1) useful = true;
    } else {
      if (start >= 0 && useful) segments.push([start, i - 1]);
      start = -1;
      useful = false;
    }
  }
  const extent = (a: number, b: number, cur: number[]) => {
    let p = 1;
    for (let i = a; i <= b; i++) p *= cur[i];
    return p;
  };
  segments.sort((s, t) => extent(t[0], t[1], [...shape]) - extent(s[0], s[1], [...shape]));
  const cur = [...shape];
  const runs: ReduceRun[] = [];
  for (const [a, b] of segments) {
    runs.push({ outer: extent(0, a - 1, cur), R: extent(a, b, cur), inner: extent(b + 1, rank - 1, cur) });
    for (let i = a; i <= b; i++) if (reduced[i]) cur[i] = 1;
  }
  return { axes: list, keptShape, outShape: keepDims ? keptShape : outShape, count, runs };
}

/** One pass of the strided sum: out[o, s, i] = alpha * (sum over chunk s of x[o, :, i]). */
function sumPass(x: Tensor, run: ReduceRun, alpha: number): Tensor {
  const rt = gpu();
  const { outer, R, inner } = run;
  const tune = rt.tuning;
  // A thread per output reads neighbouring addresses across threads when inner is wide, and
  // walks memory in order (llvmpipe's preference); a workgroup per output coalesces rows.
  const threadMode = tune.reduceByThreads || inner >= 32 || R <= tune.reduceThreadChunk;
  const chunk = threadMode ? tune.reduceThreadChunk : tune.reduceChunk;
  const S = Math.ceil(R / chunk);
  const out = Tensor.empty([outer * S * inner], 'f32', 'reduce');
  const last = S === 1;
  const uniforms = { outer, R, inner, chunk, S, alpha: last ? alpha : 1 };
  if (threadMode) {
    rt.dispatch1d(sumThreadKernel, { x: x.buffer, out: out.buffer }, uniforms, out.size, { WG: tune.reduceWorkgroup });
  } else {
    const groups = out.size;
    const max = rt.info.limits.maxComputeWorkgroupsPerDimension ?? 65535;
    const y = Math.ceil(groups / max);
    rt.dispatch(sumGroupKernel, { x: x.buffer, out: out.buffer }, uniforms, [Math.ceil(groups / y), y], { WG: tune.reduceWorkgroup });
  }
  if (last) return out;
  const next = sumPass(out, { outer, R: S, inner }, alpha);
  out.release();
  return next;
}

/**
 * alpha * (sum of x over `axes`) without autograd: the raw forward of sum and mean.
 * Runs (outer, R, inner) of a plan; the result has plan.outShape.
 */
export function sumRaw(x: Tensor, plan: ReducePlan, alpha = 1): Tensor {
  let cur: Tensor | null = null;
  if (plan.count === 0 || x.size === 0) {
    const out = Tensor.empty(plan.outShape, 'f32', 'reduce');
    // An empty sum is 0 (a mean of nothing is 0 * alpha = NaN when alpha = 1/0).
    return fillInPlace(out, plan.count === 0 ? 0 * alpha : 0);
  }
  const runs = plan.runs.length ? plan.runs : [{ outer: x.size, R: 1, inner: 1 }];
  for (let k = 0; k < runs.length; k++) {
    const next = sumPass(cur ?? x, runs[k], k === runs.length - 1 ? alpha : 1);
    cur?.release();
    cur = next;
  }
  const result = cur!.view(plan.outShape);
  cur!.release();
  return result;
}

/** The backward of alpha * sum over plan's axes: g (of the output's size) broadcast to `shape`. */
export function sumBackward(g: Tensor, shape: Shape, plan: ReducePlan, alpha = 1): Tensor {
  if (g.size !== shapeSize(plan.keptShape)) {
    throw new Error(`sumBackward: gradient ${fmt(g.shape)} does not match the reduced shape ${fmt(plan.keptShape)} of ${fmt(shape)}`);
  }
  const rt = gpu();
  const n = shapeSize(shape);
  if (n === 0) return Tensor.empty(shape);
  const runs = plan.runs.length ? plan.runs : [{ outer: n, R: 1, inner: 1 }];
  // Undo the runs in reverse: each broadcasts [outer, 1, inner] to [outer, R, inner].
  let cur: Tensor | null = null;
  for (let k = runs.length - 1; k >= 0; k--) {
    const { outer, R, inner } = runs[k];
    const out = Tensor.empty(k === 0 ? shape : [outer * R * inner], 'f32', 'reduce');
    rt.dispatch1d(expandKernel, { g: (cur ?? g).buffer, out: out.buffer }, { n: out.size, R, inner, alpha: k === runs.length - 1 ? alpha : 1 }, out.size);
    cur?.release();
    cur = out;
  }
  return cur!;
}

function checkInput(op: string, x: Tensor): void {
  if (x.dtype !== 'f32') throw new Error(`${op}: needs an f32 tensor, got ${x.dtype} ${fmt(x.shape)}`);
}

/** Sum over `axes` (all when omitted; negative axes count from the end). sum(x) is [1]. */
export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  checkInput('sum', x);
  const plan = planReduce('sum', x.shape, axes, keepDims);
  const out = sumRaw(x, plan, 1);
  return record(out, 'sum', [x], (g) => [sumBackward(g, x.shape, plan, 1)]);
}

/** Mean over `axes` (all when omitted). mean(x) is [1]. */
export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  checkInput('mean', x);
  const plan = planReduce('mean', x.shape, axes, keepDims);
  const alpha = 1 / plan.count;
  const out = sumRaw(x, plan, alpha);
  return record(out, 'mean', [x], (g) => [sumBackward(g, x.shape, plan, alpha)]);
}
