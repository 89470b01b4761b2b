// Elementwise arithmetic on same-shape tensors, and ReLU. One WGSL source, one pipeline per OP;
// on CPU rasterisers (tuning.texturedElementwise) a second reads its operands from texture copies.

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { Tensor, fmt } from '../tensor.js';
import { record } from '../tape.js';
import { TEXTURE_COPY_SHIFT, readsTextureCopies, withTextureCopies } from './texture_copy.js';
import source from '../../shaders/elementwise/binary.wgsl';
import textureSource from '../../shaders/elementwise/binary_texture.wgsl';

const binaryKernel = new Kernel('binary', source);
const binaryTextureKernel = new Kernel('binary_texture', textureSource);
const OP = { add: 0, sub: 1, mul: 2, axpy: 3, scale: 4, relu: 5, reluBackward: 6, copy: 7 } as const;

function sameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.size !== b.size || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${op}: shapes differ: ${fmt(a.shape)} and ${fmt(b.shape)}`);
  }
  if (a.dtype !== 'f32' || b.dtype !== 'f32') throw new Error(`${op}: needs f32 tensors, got ${a.dtype} and ${b.dtype}`);
}

function run(op: keyof typeof OP, a: Tensor, b: Tensor | null, out: Tensor, alpha = 0): void {
  const rt = gpu();
  // axpy reads out too: its texture variant reads out's copy as b.
  const operands = op === 'axpy' ? [a, out] : b ? [a, b] : [a];
  if (op !== 'copy' && readsTextureCopies(out.size, operands)) {
    withTextureCopies(operands, `binary_texture ${op}`, ([ta, tb]) =>
      rt.dispatch1d(binaryTextureKernel, { a: ta, b: tb ?? ta, out: out.buffer }, { n: out.size, alpha },
        Math.ceil(out.size / 4), { OP: OP[op], WT_SHIFT: TEXTURE_COPY_SHIFT }));
    return;
  }
  rt.dispatch1d(binaryKernel, { a: a.buffer, b: (b ?? a).buffer, out: out.buffer }, { n: out.size, alpha }, out.size, { OP: OP[op] });
}

export function add(a: Tensor, b: Tensor): Tensor {
  sameShape('add', a, b);
  const out = Tensor.empty(a.shape);
  run('add', a, b, out);
  return record(out, 'add', [a, b], (g) => [g, g]);
}

export function sub(a: Tensor, b: Tensor): Tensor {
  sameShape('sub', a, b);
  const out = Tensor.empty(a.shape);
  run('sub', a, b, out);
  return record(out, 'sub', [a, b], (g) => [g, scale(g, -1)]);
}

export function mul(a: Tensor, b: Tensor): Tensor {
  sameShape('mul', a, b);
  const out = Tensor.empty(a.shape);
  run('mul', a, b, out);
  return record(out, 'mul', [a, b], (g) => [a.requiresGrad ? mul(g, b) : null, b.requiresGrad ? mul(g, a) : null]);
}

export function scale(a: Tensor, alpha: number): Tensor {
  if (a.dtype !== 'f32') throw new Error(`scale: needs an f32 tensor, got ${a.dtype}`);
  const out = Tensor.empty(a.shape);
  run('scale', a, null, out, alpha);
  return record(out, 'scale', [a], (g) => [scale(g, alpha)]);
}

export function relu(a: Tensor): Tensor {
  if (a.dtype !== 'f32') throw new Error(`relu: needs an f32 tensor, got ${a.dtype}`);
  const out = Tensor.empty(a.shape);
  run('relu', a, null, out);
  return record(out, 'relu', [a], (g) => [reluBackward(g, a)]);
}

/** grad where x > 0, else 0. */
export function reluBackward(grad: Tensor, x: Tensor): Tensor {
  sameShape('reluBackward', grad, x);
  const out = Tensor.empty(grad.shape);
  run('reluBackward', grad, x, out);
  return out;
}

export function copy(a: Tensor): Tensor {
  const out = Tensor.empty(a.shape, a.dtype);
  run('copy', a, null, out);
  return record(out, 'copy', [a], (g) => [g]);
}

/** dst += alpha * src, in place (no gradient). */
export function axpy(dst: Tensor, src: Tensor, alpha: number): void {
  sameShape('axpy', dst, src);
  run('axpy', src, null, dst, alpha);
}

/** dst += src, in place (no gradient): gradient accumulation. */
export function addInto(dst: Tensor, src: Tensor): void {
  axpy(dst, src, 1);
}

/** dst = src, in place (no gradient): a buffer copy in the step's encoder. */
export function copyInto(dst: Tensor, src: Tensor): void {
  sameShape('copyInto', dst, src);
  if (dst.size > 0) gpu().recorder.copy(src.buffer, dst.buffer, dst.size * 4);
}
