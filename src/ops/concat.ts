// Concatenation along an axis (DARTS cells concatenate node outputs on channels) and slicing,
// each the other's gradient. Both move blocks of words between tensors seen as row-major
// [outer, inner] matrices (shaders/mixed/copy_block.wgsl), so any dtype works.

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { Tensor, fmt, type Shape } from '../tensor.js';
import { record } from '../tape.js';
import source from '../../shaders/mixed/copy_block.wgsl';

const copyBlockKernel = new Kernel('copy_block', source);

function normaliseAxis(op: string, shape: Shape, axis: number): number {
  const rank = shape.length;
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new Error(`${op}: axis ${axis} is out of range for ${fmt(shape)} (rank ${rank})`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** [outer, inner-per-index] of an axis: outer = prod(shape[:axis]), after = prod(shape[axis+1:]). */
function split(shape: Shape, axis: number): { outer: number; after: number } {
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i];
  let after = 1;
  for (let i = axis + 1; i < shape.length; i++) after *= shape[i];
  return { outer, after };
}

interface Block {
  len: number;
  srcInner: number;
  srcOff: number;
  dstInner: number;
  dstOff: number;
}

function copyBlock(src: Tensor, dst: Tensor, outer: number, b: Block): void {
  const n = outer * b.len;
  if (n === 0) return;
  gpu().dispatch1d(copyBlockKernel, { src: src.buffer, dst: dst.buffer },
    { n, len: b.len, src_inner: b.srcInner, src_off: b.srcOff, dst_inner: b.dstInner, dst_off: b.dstOff }, n, { OP: 0 });
}

/** dst (whole) = src's block placed at dstOff of each row, zeros elsewhere. */
function padBlock(src: Tensor, dst: Tensor, outer: number, b: Block): void {
  const n = outer * b.dstInner;
  if (n === 0) return;
  gpu().dispatch1d(copyBlockKernel, { src: src.buffer, dst: dst.buffer },
    { n, len: b.len, src_inner: b.srcInner, src_off: b.srcOff, dst_inner: b.dstInner, dst_off: b.dstOff }, n, { OP: 1 });
}

/** x[..., start:end, ...] along axis, without recording a gradient. */
export function sliceRaw(x: Tensor, axis: number, start: number, end: number): Tensor {
  const a = normaliseAxis('slice', x.shape, axis);
  const dim = x.shape[a];
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > dim || start > end) {
    throw new Error(`slice: range [${start}, ${end}) is not within 0..${dim} on axis ${a} of ${fmt(x.shape)}`);
  }
  const shape = x.shape.map((d, i) => (i === a ? end - start : d));
  const out = Tensor.empty(shape, x.dtype, 'slice');
  const { outer, after } = split(x.shape, a);
  const len = (end - start) * after;
  copyBlock(x, out, outer, { len, srcInner: dim * after, srcOff: start * after, dstInner: len, dstOff: 0 });
  return out;
}

/** The gradient of slice: g placed at [start, start + g.shape[axis]) of a zero tensor of `shape`. */
export function sliceBackward(g: Tensor, shape: Shape, axis: number, start: number): Tensor {
  const a = normaliseAxis('sliceBackward', shape, axis);
  const count = g.shape[a];
  if (g.shape.length !== shape.length || g.shape.some((d, i) => i !== a && d !== shape[i]) || start < 0 || start + count > shape[a]) {
    throw new Error(`sliceBackward: gradient ${fmt(g.shape)} does not fit ${fmt(shape)} at ${start} on axis ${a}`);
  }
  const out = Tensor.empty(shape, g.dtype, 'sliceBackward');
  const { outer, after } = split(shape, a);
  const len = count * after;
  padBlock(g, out, outer, { len, srcInner: len, srcOff: 0, dstInner: shape[a] * after, dstOff: start * after });
  return out;
}

export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const out = sliceRaw(x, axis, start, end);
  const a = normaliseAxis('slice', x.shape, axis);
  return record(out, 'slice', [x], (g) => [sliceBackward(g, x.shape, a, start)]);
}

/** Concatenation along axis (default 1: channels of NCHW), without recording a gradient. */
export function concatRaw(xs: Tensor[], axis = 1): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) throw new Error('concat: needs at least one tensor');
  const first = xs[0].shape;
  const a = normaliseAxis('concat', first, axis);
  let total = 0;
  xs.forEach((x, k) => {
    if (x.dtype !== xs[0].dtype) throw new Error(`concat: input ${k} ${fmt(x.shape)} is ${x.dtype} but input 0 is ${xs[0].dtype}`);
    if (x.shape.length !== first.length || x.shape.some((d, i) => i !== a && d !== first[i])) {
      throw new Error(`concat: input ${k} has shape ${fmt(x.shape)} but input 0 has ${fmt(first)}; all dimensions but axis ${a} must match`);
    }
    total += x.shape[a];
  });
  const shape = first.map((d, i) => (i === a ? total : d));
  const out = Tensor.empty(shape, xs[0].dtype, 'concat');
  const { outer, after } = split(first, a);
  let offset = 0;
  for (const x of xs) {
    const len = x.shape[a] * after;
    copyBlock(x, out, outer, { len, srcInner: len, srcOff: 0, dstInner: total * after, dstOff: offset * after });
    offset += x.shape[a];
  }
  return out;
}

export function concat(xs: Tensor[], axis = 1): Tensor {
  const out = concatRaw(xs, axis);
  const a = normaliseAxis('concat', xs[0].shape, axis);
  return record(out, 'concat', xs, (g) => {
    let offset = 0;
    return xs.map((x) => {
      const start = offset;
      offset += x.shape[a];
      return x.requiresGrad ? sliceRaw(g, a, start, start + x.shape[a]) : null;
    });
  });
}
