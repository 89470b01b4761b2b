// Weight initialisers, in place on the GPU from the counter-based generator (src/ops/random.ts).
// Fans follow PyTorch: for a weight [out, in, ...kernel] (linear [out, in]; conv
// [C_out, C_in / groups, kh, kw]) the receptive field r = prod(shape[2:]),
// fan_in = shape[1] * r and fan_out = shape[0] * r.

import { Tensor, fmt, fans } from '../tensor.js';
import { fillInPlace } from '../ops/fill.js';
import { Generator, normalInPlace, uniformInPlace } from '../ops/random.js';

export type Nonlinearity = 'linear' | 'conv' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

export interface KaimingOptions {
  mode?: 'fan_in' | 'fan_out';
  nonlinearity?: Nonlinearity;
  /** Negative slope of leaky_relu (PyTorch's `a`). */
  a?: number;
}

export { fans };

/** PyTorch's torch.nn.init.calculate_gain. */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new Error(`calculateGain: unknown nonlinearity '${String(nonlinearity)}'`);
  }
}

function checkWeight(op: string, t: Tensor): { fanIn: number; fanOut: number } {
  if (t.dtype !== 'f32') throw new Error(`${op}: needs an f32 tensor, got ${t.dtype} ${fmt(t.shape)}`);
  if (t.shape.length < 2) throw new Error(`${op}: a weight needs at least 2 dimensions, got ${fmt(t.shape)}`);
  const f = fans(t.shape);
  if (f.fanIn === 0 || f.fanOut === 0) throw new Error(`${op}: zero fan for ${fmt(t.shape)}`);
  return f;
}

function kaimingStd(op: string, t: Tensor, opts: KaimingOptions): number {
  const { fanIn, fanOut } = checkWeight(op, t);
  const mode = opts.mode ?? 'fan_in';
  if (mode !== 'fan_in' && mode !== 'fan_out') throw new Error(`${op}: mode must be 'fan_in' or 'fan_out', got '${String(mode)}'`);
  const fan = mode === 'fan_in' ? fanIn : fanOut;
  return calculateGain(opts.nonlinearity ?? 'relu', opts.a ?? 0) / Math.sqrt(fan);
}

/** U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)). */
export function xavierUniform(t: Tensor, gen: Generator, gain = 1): Tensor {
  const { fanIn, fanOut } = checkWeight('xavierUniform', t);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniformInPlace(t, gen, -bound, bound);
}

/** N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)). */
export function xavierNormal(t: Tensor, gen: Generator, gain = 1): Tensor {
  const { fanIn, fanOut } = checkWeight('xavierNormal', t);
  return normalInPlace(t, gen, 0, gain * Math.sqrt(2 / (fanIn + fanOut)));
}

/** N(0, std^2) with std = gain / sqrt(fan); gain sqrt(2) for relu. */
export function kaimingNormal(t: Tensor, gen: Generator, opts: KaimingOptions = {}): Tensor {
  return normalInPlace(t, gen, 0, kaimingStd('kaimingNormal', t, opts));
}

/** U(-b, b) with b = gain * sqrt(3 / fan). */
export function kaimingUniform(t: Tensor, gen: Generator, opts: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd('kaimingUniform', t, opts);
  return uniformInPlace(t, gen, -bound, bound);
}

export function zerosInit(t: Tensor): Tensor {
  return fillInPlace(t, 0);
}
