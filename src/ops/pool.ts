// Pooling on NCHW float32: max and average over k x k windows (stride, zero-extent padding
// that never wins a max and, by default, is not counted in an average), and global average
// pooling [N, C, H, W] -> [N, C]. Max pooling stores the argmax of every output (an i32 per
// output) for its backward when a gradient is needed. Backwards are gathers: each input pixel
// sums over the outputs whose window covers it, so overlapping windows need no atomics.

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import type { PooledBuffer } from '../gpu/buffers.js';
import { Tensor, fmt, type Shape } from '../tensor.js';
import { record, needsGrad } from '../tape.js';
import { planReduce, sumRaw, sumBackward } from './reduce.js';
import maxForwardSource from '../../shaders/pool/max_forward.wgsl';
import max3ForwardSource from '../../shaders/pool/max3_forward.wgsl';
import maxBackwardSource from '../../shaders/pool/max_backward.wgsl';
import avgForwardSource from '../../shaders/pool/avg_forward.wgsl';
import avgBackwardSource from '../../shaders/pool/avg_backward.wgsl';

const maxForwardKernel = new Kernel('maxpool_forward', maxForwardSource);
const max3ForwardKernel = new Kernel('maxpool3_forward', max3ForwardSource);
const maxBackwardKernel = new Kernel('maxpool_backward', maxBackwardSource);
const avgForwardKernel = new Kernel('avgpool_forward', avgForwardSource);
const avgBackwardKernel = new Kernel('avgpool_backward', avgBackwardSource);

export type Pair = number | readonly [number, number];

export interface Pool2dOptions {
  /** Window size (default 3). */
  kernel?: Pair;
  /** Default 1. */
  stride?: Pair;
  /** Default 1; at most half the window. */
  padding?: Pair;
}

export interface AvgPool2dOptions extends Pool2dOptions {
  /** Divide by kh * kw (padding counted as zeros) instead of the valid pixels (default false). */
  countIncludePad?: boolean;
}

/** The resolved geometry of a 2-D pooling: input [N, C, H, W], output [N, C, Ho, Wo]. */
export interface PoolGeometry {
  N: number; C: number; H: number; W: number; Ho: number; Wo: number;
  kh: number; kw: number; sh: number; sw: number; ph: number; pw: number;
}

const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

/** Validates the input and options and computes the output size. */
export function poolGeometry(op: string, shape: Shape, opts: Pool2dOptions): PoolGeometry {
  if (shape.length !== 4) throw new Error(`${op}: input ${fmt(shape)} must be [N, C, H, W] (rank 4, got rank ${shape.length})`);
  const [N, C, H, W] = shape;
  const [kh, kw] = pair(opts.kernel ?? 3);
  const [sh, sw] = pair(opts.stride ?? 1);
  const [ph, pw] = pair(opts.padding ?? 1);
  const desc = `kernel [${kh}, ${kw}], stride [${sh}, ${sw}], padding [${ph}, ${pw}]`;
  for (const v of [kh, kw, sh, sw]) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${op}: ${desc}: kernel and stride must be positive integers`);
  }
  for (const v of [ph, pw]) if (!Number.isInteger(v) || v < 0) throw new Error(`${op}: ${desc}: padding must be a non-negative integer`);
  if (2 * ph > kh || 2 * pw > kw) throw new Error(`${op}: ${desc}: padding must be at most half the kernel`);
  const Ho = Math.floor((H + 2 * ph - kh) / sh) + 1;
  const Wo = Math.floor((W + 2 * pw - kw) / sw) + 1;
  if (Ho < 1 || Wo < 1) throw new Error(`${op}: input ${fmt(shape)} is smaller than the window (${desc})`);
  return { N, C, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw };
}

function checkInput(op: string, x: Tensor): void {
  if (x.dtype !== 'f32') throw new Error(`${op}: needs an f32 input, got ${x.dtype} ${fmt(x.shape)}`);
}

/** A backward pool kernel over n input pixels, tuning.pixelsPerThread consecutive ones per thread. */
function dispatchPixels(kernel: Kernel, buffers: Record<string, PooledBuffer>, geo: PoolGeometry, n: number, overrides: Record<string, number> = {}): void {
  const rt = gpu();
  const per = rt.tuning.pixelsPerThread;
  rt.dispatch1d(kernel, buffers, uniforms(geo, n), Math.ceil(n / per), { ...overrides, PER: per });
}

/**
 * A forward pool kernel: each thread computes up to 8 (tuning.pixelsPerThread) neighbouring
 * outputs of one output row, sharing the loads of their overlapping windows.
 */
function dispatchRowBlocks(kernel: Kernel, buffers: Record<string, PooledBuffer>, geo: PoolGeometry, overrides: Record<string, number>): void {
  const rt = gpu();
  const per = Math.max(1, Math.min(8, rt.tuning.pixelsPerThread));
  const threads = geo.N * geo.C * geo.Ho * Math.ceil(geo.Wo / per);
  rt.dispatch1d(kernel, buffers, uniforms(geo, geo.N * geo.C * geo.Ho * geo.Wo), threads, { ...overrides, PER: per });
}

function uniforms(geo: PoolGeometry, n: number) {
  const { H, W, Ho, Wo, kh, kw, sh, sw, ph, pw } = geo;
  return { n, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw };
}

// ---- max pooling -------------------------------------------------------------------------------

/**
 * Raw max-pool forward. With `storeArgmax` also returns the argmax (i32, flat index of the
 * winner within its H x W plane, one per output) that maxPool2dBackward needs.
 */
export function maxPool2dForward(x: Tensor, opts: Pool2dOptions = {}, storeArgmax = true): { out: Tensor; argmax: Tensor | null; geo: PoolGeometry } {
  checkInput('maxPool2d', x);
  const geo = poolGeometry('maxPool2d', x.shape, opts);
  const out = Tensor.empty([geo.N, geo.C, geo.Ho, geo.Wo], 'f32', 'maxpool');
  // 3x3 windows at stride 1 without an argmax (inference, scoring): the separable kernel.
  if (!storeArgmax && geo.kh === 3 && geo.kw === 3 && geo.sh === 1 && geo.sw === 1) {
    if (out.size > 0) dispatchRowBlocks(max3ForwardKernel, { x: x.buffer, out: out.buffer }, geo, {});
    return { out, argmax: null, geo };
  }
  // Without a stored argmax the binding still needs a buffer: a one-element placeholder.
  const argmax = Tensor.empty(storeArgmax ? out.shape : [1], 'i32', 'maxpool.argmax');
  if (out.size > 0) {
    dispatchRowBlocks(maxForwardKernel, { x: x.buffer, out: out.buffer, argmax: argmax.buffer }, geo, { STORE: storeArgmax ? 1 : 0 });
  }
  if (!storeArgmax) {
    argmax.release();
    return { out, argmax: null, geo };
  }
  return { out, argmax, geo };
}

/** dx of max pooling: g [N, C, Ho, Wo] routed to the argmax of each window. */
export function maxPool2dBackward(g: Tensor, argmax: Tensor, geo: PoolGeometry): Tensor {
  const outShape = [geo.N, geo.C, geo.Ho, geo.Wo];
  if (g.size !== argmax.size || g.size !== geo.N * geo.C * geo.Ho * geo.Wo) {
    throw new Error(`maxPool2dBackward: gradient ${fmt(g.shape)} and argmax ${fmt(argmax.shape)} must both be ${fmt(outShape)}`);
  }
  if (argmax.dtype !== 'i32') throw new Error(`maxPool2dBackward: argmax must be i32, got ${argmax.dtype}`);
  const dx = Tensor.empty([geo.N, geo.C, geo.H, geo.W], 'f32', 'maxpool.dx');
  if (dx.size > 0) {
    dispatchPixels(maxBackwardKernel, { g: g.buffer, argmax: argmax.buffer, dx: dx.buffer }, geo, dx.size);
  }
  return dx;
}

/** Max pooling, NCHW: kernel 3, stride 1, padding 1 by default; padding never wins. */
export function maxPool2d(x: Tensor, opts: Pool2dOptions = {}): Tensor {
  const grad = needsGrad(x);
  const { out, argmax, geo } = maxPool2dForward(x, opts, grad);
  if (!grad) return out;
  // The argmax lives as long as the graph (the scope of the step releases it).
  return record(out, 'maxPool2d', [x], (g) => [maxPool2dBackward(g, argmax!, geo)]);
}

// ---- average pooling ---------------------------------------------------------------------------

export function avgPool2dForward(x: Tensor, opts: AvgPool2dOptions = {}): { out: Tensor; geo: PoolGeometry } {
  checkInput('avgPool2d', x);
  const geo = poolGeometry('avgPool2d', x.shape, opts);
  const out = Tensor.empty([geo.N, geo.C, geo.Ho, geo.Wo], 'f32', 'avgpool');
  if (out.size > 0) {
    dispatchRowBlocks(avgForwardKernel, { x: x.buffer, out: out.buffer }, geo, { COUNT_PAD: opts.countIncludePad ? 1 : 0 });
  }
  return { out, geo };
}

/** dx of average pooling: each g spread evenly over its window's (counted) pixels. */
export function avgPool2dBackward(g: Tensor, geo: PoolGeometry, countIncludePad = false): Tensor {
  const outShape = [geo.N, geo.C, geo.Ho, geo.Wo];
  if (g.size !== geo.N * geo.C * geo.Ho * geo.Wo) throw new Error(`avgPool2dBackward: gradient ${fmt(g.shape)} must be ${fmt(outShape)}`);
  const dx = Tensor.empty([geo.N, geo.C, geo.H, geo.W], 'f32', 'avgpool.dx');
  if (dx.size > 0) {
    dispatchPixels(avgBackwardKernel, { g: g.buffer, dx: dx.buffer }, geo, dx.size, { COUNT_PAD: countIncludePad ? 1 : 0 });
  }
  return dx;
}

/** Average pooling, NCHW: kernel 3, stride 1, padding 1; divides by the valid pixels by default. */
export function avgPool2d(x: Tensor, opts: AvgPool2dOptions = {}): Tensor {
  const { out, geo } = avgPool2dForward(x, opts);
  const countIncludePad = !!opts.countIncludePad;
  return record(out, 'avgPool2d', [x], (g) => [avgPool2dBackward(g, geo, countIncludePad)]);
}

// ---- global average pooling --------------------------------------------------------------------

/** Raw forward: [N, C, H, W] -> [N, C], the mean over each H x W plane. */
export function globalAvgPoolForward(x: Tensor): Tensor {
  checkInput('globalAvgPool', x);
  if (x.rank !== 4) throw new Error(`globalAvgPool: input ${fmt(x.shape)} must be [N, C, H, W] (rank 4, got rank ${x.rank})`);
  const plan = planReduce('globalAvgPool', x.shape, [2, 3], false);
  return sumRaw(x, plan, 1 / plan.count);
}

/** dx of global average pooling: g [N, C] spread evenly over each H x W plane of `shape`. */
export function globalAvgPoolBackward(g: Tensor, shape: Shape): Tensor {
  if (shape.length !== 4 || g.size !== shape[0] * shape[1]) {
    throw new Error(`globalAvgPoolBackward: gradient ${fmt(g.shape)} does not match input ${fmt(shape)} (want [N, C])`);
  }
  const plan = planReduce('globalAvgPool', shape, [2, 3], false);
  return sumBackward(g, shape, plan, 1 / plan.count);
}

/** [N, C, H, W] -> [N, C]: the mean of every channel plane. */
export function globalAvgPool(x: Tensor): Tensor {
  const out = globalAvgPoolForward(x);
  return record(out, 'globalAvgPool', [x], (g) => [globalAvgPoolBackward(g, x.shape)]);
}
