// Drop path (DARTS / FractalNet): each sample of a batch keeps its whole path with probability
// keep = 1 - dropProb, scaled by 1 / keep, else becomes zero. The per-sample mask comes from the
// GPU generator (src/ops/random.ts) and stays on the GPU; backward applies the same mask.

import { Tensor, fmt } from '../tensor.js';
import { record, needsGrad } from '../tape.js';
import { Generator, bernoulliMask } from './random.js';
import { scaleRows } from './mixed.js';

/** [N] mask of 1 / keep (kept) or 0 (dropped), from gen; words drawn: N. */
export function dropPathMask(batch: number, dropProb: number, gen: Generator): Tensor {
  return bernoulliMask([batch], gen, 1 - dropProb);
}

/** x * mask[sample] (mask as from dropPathMask): forward and backward alike. */
export function applyDropPathMask(x: Tensor, mask: Tensor): Tensor {
  const batch = x.shape[0];
  if (mask.size !== batch) throw new Error(`dropPath: mask ${fmt(mask.shape)} for a batch of ${batch} ${fmt(x.shape)}`);
  return scaleRows(x, mask, batch === 0 ? 1 : x.size / batch);
}

export function dropPath(x: Tensor, dropProb: number, gen: Generator): Tensor {
  if (x.dtype !== 'f32') throw new Error(`dropPath: needs an f32 tensor, got ${x.dtype} ${fmt(x.shape)}`);
  if (x.shape.length < 1) throw new Error(`dropPath: needs a batch dimension, got ${fmt(x.shape)}`);
  if (!(dropProb >= 0 && dropProb < 1)) throw new Error(`dropPath: dropProb must be in [0, 1), got ${dropProb} for ${fmt(x.shape)}`);
  if (!(gen instanceof Generator)) throw new Error(`dropPath: expected a Generator, got ${String(gen)}`);
  if (dropProb === 0) return x;
  const mask = dropPathMask(x.shape[0], dropProb, gen);
  const out = applyDropPathMask(x, mask);
  if (!needsGrad(x)) {
    mask.release();
    return out;
  }
  // The mask is saved for backward; the enclosing scope releases it.
  return record(out, 'dropPath', [x], (g) => [applyDropPathMask(g, mask)]);
}
