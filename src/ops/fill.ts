// Constant fills: zeros, ones, full, and in-place fill of an existing tensor.

import { gpu } from '../gpu/runtime.js';
import { Tensor, fillKernel, type DType, type Shape } from '../tensor.js';

const f32 = new Float32Array(1);
const bits = new Uint32Array(f32.buffer);
const i32 = new Int32Array(f32.buffer);

function bitsOf(value: number, dtype: DType): number {
  if (dtype === 'f32') f32[0] = value;
  else if (dtype === 'i32') i32[0] = value;
  else bits[0] = value;
  return bits[0];
}

/** Sets every element of t to value, in place. */
export function fillInPlace(t: Tensor, value: number): Tensor {
  if (t.size > 0) gpu().dispatch1d(fillKernel, { out: t.buffer }, { n: t.size, bits: bitsOf(value, t.dtype) }, t.size);
  return t;
}

export function full(shape: Shape, value: number, dtype: DType = 'f32'): Tensor {
  return fillInPlace(Tensor.empty(shape, dtype), value);
}

export const zeros = (shape: Shape, dtype: DType = 'f32') => full(shape, 0, dtype);
export const ones = (shape: Shape, dtype: DType = 'f32') => full(shape, 1, dtype);
