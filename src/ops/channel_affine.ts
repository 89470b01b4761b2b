// Per-channel affine map of an NCHW tensor, x * a[c] + b[c], with its backward (g * a[c]). The
// attacks feed models images in [0, 1] and normalise inside the model with it.

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { Tensor, fmt } from '../tensor.js';
import { record } from '../tape.js';
import source from '../../shaders/attack/channel_affine.wgsl';

const affineKernel = new Kernel('channel_affine', source);
const MAX_CHANNELS = 4;

function dispatch(x: Tensor, a: readonly number[], b: readonly number[]): Tensor {
  const out = Tensor.empty(x.shape);
  if (out.size === 0) return out;
  const av = [1, 1, 1, 1], bv = [0, 0, 0, 0];
  a.forEach((v, c) => (av[c] = v));
  b.forEach((v, c) => (bv[c] = v));
  gpu().dispatch1d(affineKernel, { x: x.buffer, out: out.buffer },
    { n: out.size, channels: x.shape[1], hw: x.shape[2] * x.shape[3], pad: 0, a: av, b: bv }, out.size);
  return out;
}

/** x * a[c] + b[c] over the channels of x [N, C, H, W] (C <= 4); the gradient flows to x. */
export function channelAffine(x: Tensor, a: readonly number[], b: readonly number[]): Tensor {
  if (x.rank !== 4) throw new Error(`channelAffine: input must be [N, C, H, W], got ${fmt(x.shape)}`);
  const C = x.shape[1];
  if (C > MAX_CHANNELS) throw new Error(`channelAffine: at most ${MAX_CHANNELS} channels, got ${C}`);
  if (a.length !== C || b.length !== C) throw new Error(`channelAffine: ${C} channels but ${a.length} scales and ${b.length} shifts`);
  const out = dispatch(x, a, b);
  return record(out, 'channel_affine', [x], (g) => [dispatch(g, a, [])]);
}

/** Normalisation as a model's first layer: (x - mean) / std per channel. */
export function normalizeChannels(x: Tensor, mean: readonly number[], std: readonly number[]): Tensor {
  return channelAffine(x, std.map((s) => 1 / s), mean.map((m, c) => -m / std[c]));
}
