// A tensor is a shape and a pooled GPU buffer. Its memory is released deterministically:
// by release(), by `using`, or by the scope() it was made in; a released tensor throws when used.

import type { PooledBuffer } from './gpu/buffers.js';
import { gpu } from './gpu/runtime.js';
import { Kernel } from './gpu/kernels.js';
import fillSource from '../shaders/core/fill.wgsl';

export type DType = 'f32' | 'i32' | 'u32';

/** What an op records on its output for backward (src/tape.ts records it, autograd.ts walks it). */
export interface GradNode {
  name: string;
  inputs: Tensor[];
  /** Gradients for the inputs, given the output's gradient (null: none). */
  backward(grad: Tensor): (Tensor | null)[];
}
export type Shape = readonly number[];
export type TypedArrayOf<D extends DType> = D extends 'f32' ? Float32Array : D extends 'i32' ? Int32Array : Uint32Array;

export const fillKernel = new Kernel('fill', fillSource);
const NAN_BITS = 0x7fc00000;

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function checkShape(shape: Shape, what = 'tensor'): void {
  if (!Array.isArray(shape) && !(shape as any)?.length && shape.length !== 0) throw new Error(`${what}: shape must be an array, got ${String(shape)}`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${what}: bad shape [${shape.join(', ')}]: dimensions must be non-negative integers`);
  }
}

export const fmt = (shape: Shape) => `[${shape.join(', ')}]`;

/**
 * Fans of a weight, as PyTorch computes them: for [out, in, ...kernel] (linear [out, in]; conv
 * [C_out, C_in / groups, kh, kw]) with receptive field r = prod(shape[2:]), fan_in = shape[1] * r
 * and fan_out = shape[0] * r.
 */
export function fans(shape: Shape): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new Error(`fans: a weight needs at least 2 dimensions, got ${fmt(shape)}`);
  let receptive = 1;
  for (let i = 2; i < shape.length; i++) receptive *= shape[i];
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

// ---- scopes ---------------------------------------------------------------------------------

const scopes: Set<Tensor>[] = [];

/** Runs fn; every tensor made inside and not returned (or kept) is released when it ends. */
export function scope<T>(fn: () => T): T {
  const made = new Set<Tensor>();
  scopes.push(made);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of made) if (!t.released) t.release();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) throw new Error('scope(fn): fn must be synchronous (a step records commands; it does not await)');
  const escaping = new Set<Tensor>();
  collectTensors(result, escaping);
  const parent = scopes[scopes.length - 1];
  for (const t of made) {
    if (escaping.has(t)) parent?.add(t);
    else if (!t.released) t.release();
  }
  return result;
}

function collectTensors(value: unknown, into: Set<Tensor>, depth = 0): void {
  if (value instanceof Tensor) into.add(value);
  else if (depth < 3 && Array.isArray(value)) for (const v of value) collectTensors(v, into, depth + 1);
  else if (depth < 3 && value && typeof value === 'object' && value.constructor === Object) {
    for (const v of Object.values(value)) collectTensors(v, into, depth + 1);
  }
}

/** Takes t out of every scope: it lives until released by hand (parameters, optimizer state). */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

/** Objects that hold tensors to checkpoint without being modules (a learning rule's B). */
export const STATE = Symbol('state');
export interface HasState {
  [STATE](): [string, Tensor][];
  /** Releases every tensor it holds, checkpointed or not. */
  dispose(): void;
}

// ---- tensor ---------------------------------------------------------------------------------

export class Tensor {
  readonly shape: Shape;
  readonly size: number;
  readonly dtype: DType;
  requiresGrad = false;
  /** Accumulated gradient of a leaf after backward(); owned by this tensor. */
  grad: Tensor | null = null;
  /** How this tensor was computed, for backward(); null for leaves. */
  node: GradNode | null = null;
  /** Called with this tensor's complete gradient before it flows on; may return a replacement. */
  hooks: ((grad: Tensor) => Tensor | void)[] = [];
  name?: string;
  private storage: PooledBuffer | null;

  private constructor(shape: Shape, dtype: DType, storage: PooledBuffer) {
    this.shape = Object.freeze([...shape]);
    this.size = shapeSize(shape);
    this.dtype = dtype;
    this.storage = storage;
    scopes[scopes.length - 1]?.add(this);
  }

  /** A tensor with unspecified contents (NaN when the runtime poisons, as tests do). */
  static empty(shape: Shape, dtype: DType = 'f32', label = 'tensor'): Tensor {
    checkShape(shape, label);
    const rt = gpu();
    const storage = rt.pool.acquire(Math.max(4, shapeSize(shape) * 4), label);
    const t = new Tensor(shape, dtype, storage);
    if (rt.poison && t.size > 0) {
      rt.dispatch1d(fillKernel, { out: storage }, { n: t.size, bits: NAN_BITS }, t.size);
    }
    return t;
  }

  static fromData(data: ArrayLike<number>, shape: Shape, dtype: DType = 'f32'): Tensor {
    checkShape(shape, 'fromData');
    const n = shapeSize(shape);
    if (data.length !== n) throw new Error(`fromData: ${data.length} values do not fill shape ${fmt(shape)} (${n} elements)`);
    const rt = gpu();
    const storage = rt.pool.acquire(Math.max(4, n * 4), 'upload');
    const t = new Tensor(shape, dtype, storage);
    if (n > 0) rt.recorder.writeBuffer(storage, toTyped(data, dtype));
    return t;
  }

  get released(): boolean {
    return this.storage === null;
  }

  /** The pooled buffer; throws if the tensor was released. */
  get buffer(): PooledBuffer {
    if (!this.storage) throw new Error(`use of a released tensor${this.name ? ` '${this.name}'` : ''} ${fmt(this.shape)}`);
    return this.storage;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** A tensor of another shape over the same memory (no copy, no gradient). */
  view(shape: Shape = this.shape): Tensor {
    checkShape(shape, 'view');
    if (shapeSize(shape) !== this.size) throw new Error(`view: cannot view ${fmt(this.shape)} as ${fmt(shape)}`);
    const storage = this.buffer;
    storage.refs++;
    return new Tensor(shape, this.dtype, storage);
  }

  /** True when another tensor shares this memory (so in-place updates would leak into it). */
  get shared(): boolean {
    return this.buffer.refs > 1;
  }

  release(): void {
    this.releaseData();
    this.node = null;
  }

  /**
   * Frees the buffer but keeps the tensor's place in the autograd graph, so gradients still
   * flow through it: for an intermediate whose values no recorded backward reads.
   */
  releaseData(): void {
    const storage = this.buffer;
    this.storage = null;
    storage.refs--;
    if (storage.refs === 0) gpu().pool.release(storage);
    for (const s of scopes) s.delete(this);
  }

  [Symbol.dispose](): void {
    if (!this.released) this.release();
  }

  /** Overwrites the contents from the CPU (submits first if pending commands use the buffer). */
  write(data: ArrayLike<number>): void {
    if (data.length !== this.size) throw new Error(`write: ${data.length} values for a tensor of ${this.size} ${fmt(this.shape)}`);
    if (this.size > 0) gpu().recorder.writeBuffer(this.buffer, toTyped(data, this.dtype));
  }

  /** Reads the contents back (submits pending work). */
  async data(): Promise<Float32Array | Int32Array | Uint32Array> {
    const rt = gpu();
    if (this.size === 0) return new Float32Array(0);
    const bytes = await rt.recorder.read(this.buffer, this.size * 4);
    rt.throwPending();
    if (this.dtype === 'i32') return new Int32Array(bytes);
    if (this.dtype === 'u32') return new Uint32Array(bytes);
    return new Float32Array(bytes);
  }

  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item(): tensor has ${this.size} elements ${fmt(this.shape)}`);
    return (await this.data())[0];
  }

  toString(): string {
    return `Tensor(${fmt(this.shape)}, ${this.dtype}${this.released ? ', released' : ''})`;
  }
}

function toTyped(data: ArrayLike<number>, dtype: DType): ArrayBufferView {
  if (dtype === 'f32') return data instanceof Float32Array ? data : Float32Array.from(data);
  if (dtype === 'i32') return data instanceof Int32Array ? data : Int32Array.from(data);
  return data instanceof Uint32Array ? data : Uint32Array.from(data);
}
