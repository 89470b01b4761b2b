// Random numbers on the GPU from a counter-based generator (Philox4x32-10): a Generator is a
// key (the seed) and a counter; every draw reads words counter .. counter + n - 1 of the
// key's stream and advances the counter, so a seed reproduces the same tensors on every
// backend, whatever the workgroup size. Nothing is read back.

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { Tensor, fmt, type Shape } from '../tensor.js';
import source from '../../shaders/random/philox.wgsl';

const philoxKernel = new Kernel('philox', source);
const DIST = { bits: 0, uniform: 1, normal: 2, mask: 3 } as const;

export interface GeneratorState {
  seed: number;
  counter: number;
}

/**
 * A seed (the Philox key: low and high 32 bits of a non-negative safe integer) and a counter,
 * the index of the next word of its stream. A draw of n values advances the counter by n
 * rounded up to a whole Philox block (4 words), so consecutive draws never share a block.
 */
export class Generator {
  private seed: number;
  private counter = 0;

  constructor(seed: number) {
    this.seed = Generator.checkSeed(seed, 'Generator');
  }

  private static checkSeed(seed: number, what: string): number {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`${what}: seed must be a non-negative safe integer, got ${seed}`);
    return seed;
  }

  state(): GeneratorState {
    return { seed: this.seed, counter: this.counter };
  }

  setState(s: GeneratorState): void {
    const seed = Generator.checkSeed(s.seed, 'Generator.setState');
    if (!Number.isSafeInteger(s.counter) || s.counter < 0 || s.counter % 4 !== 0) {
      throw new Error(`Generator.setState: counter must be a non-negative multiple of 4, got ${s.counter}`);
    }
    this.seed = seed;
    this.counter = s.counter;
  }

  /** The key words (seed mod 2^32, floor(seed / 2^32)). */
  get key(): [number, number] {
    return [this.seed % 2 ** 32 >>> 0, Math.floor(this.seed / 2 ** 32) >>> 0];
  }

  /** Reserves n words; returns the counter of the first. */
  take(n: number): number {
    const start = this.counter;
    this.counter += Math.ceil(n / 4) * 4;
    if (!Number.isSafeInteger(this.counter)) throw new Error('Generator: counter overflowed 2^53');
    return start;
  }
}

function dispatch(out: Tensor, gen: Generator, dist: keyof typeof DIST, a: number, b: number): void {
  const n = out.size;
  const start = gen.take(n);
  if (n === 0) return;
  const block = start / 4;
  const [key0, key1] = gen.key;
  gpu().dispatch1d(
    philoxKernel,
    { out: out.buffer },
    { n, block_lo: block % 2 ** 32, block_hi: Math.floor(block / 2 ** 32), key0, key1, a, b },
    Math.ceil(n / 4),
    { DIST: DIST[dist] },
  );
}

function checkGen(op: string, gen: Generator): void {
  if (!(gen instanceof Generator)) throw new Error(`${op}: expected a Generator, got ${String(gen)}`);
}

function checkF32(op: string, t: Tensor): void {
  if (t.dtype !== 'f32') throw new Error(`${op}: needs an f32 tensor, got ${t.dtype} ${fmt(t.shape)}`);
}

function checkFinite(op: string, values: Record<string, number>): void {
  for (const [name, v] of Object.entries(values)) {
    if (!Number.isFinite(v)) throw new Error(`${op}: ${name} must be finite, got ${v}`);
  }
}

/** The raw Philox words (u32), for tests and for ops that map bits themselves. */
export function randomBits(shape: Shape, gen: Generator): Tensor {
  checkGen('randomBits', gen);
  const out = Tensor.empty(shape, 'u32', 'randomBits');
  dispatch(out, gen, 'bits', 0, 0);
  return out;
}

/** Fills t with values uniform in [lo, hi), in place. */
export function uniformInPlace(t: Tensor, gen: Generator, lo = 0, hi = 1): Tensor {
  checkGen('uniformInPlace', gen);
  checkF32('uniformInPlace', t);
  checkFinite('uniformInPlace', { lo, hi });
  if (!(lo < hi)) throw new Error(`uniformInPlace: needs lo < hi, got [${lo}, ${hi}) for ${fmt(t.shape)}`);
  dispatch(t, gen, 'uniform', lo, hi);
  return t;
}

/** Fills t with normal values of the given mean and standard deviation, in place. */
export function normalInPlace(t: Tensor, gen: Generator, mean = 0, std = 1): Tensor {
  checkGen('normalInPlace', gen);
  checkF32('normalInPlace', t);
  checkFinite('normalInPlace', { mean, std });
  if (std < 0) throw new Error(`normalInPlace: std must be >= 0, got ${std} for ${fmt(t.shape)}`);
  dispatch(t, gen, 'normal', mean, std);
  return t;
}

export function randomUniform(shape: Shape, gen: Generator, lo = 0, hi = 1): Tensor {
  checkGen('randomUniform', gen);
  checkFinite('randomUniform', { lo, hi });
  if (!(lo < hi)) throw new Error(`randomUniform: needs lo < hi, got [${lo}, ${hi}) for ${fmt(shape)}`);
  return uniformInPlace(Tensor.empty(shape, 'f32', 'randomUniform'), gen, lo, hi);
}

export function randomNormal(shape: Shape, gen: Generator, mean = 0, std = 1): Tensor {
  checkGen('randomNormal', gen);
  checkFinite('randomNormal', { mean, std });
  if (std < 0) throw new Error(`randomNormal: std must be >= 0, got ${std} for ${fmt(shape)}`);
  return normalInPlace(Tensor.empty(shape, 'f32', 'randomNormal'), gen, mean, std);
}

/** [n] tensor of 1/keep with probability keep, else 0 (a drop-path mask); u < keep on word j. */
export function bernoulliMask(shape: Shape, gen: Generator, keep: number): Tensor {
  checkGen('bernoulliMask', gen);
  if (!(keep > 0 && keep <= 1)) throw new Error(`bernoulliMask: keep probability must be in (0, 1], got ${keep} for ${fmt(shape)}`);
  const out = Tensor.empty(shape, 'f32', 'bernoulliMask');
  dispatch(out, gen, 'mask', keep, 1 / keep);
  return out;
}
