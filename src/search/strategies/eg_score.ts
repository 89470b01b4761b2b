// Scoring BioNAS-EG's candidates on the GPU: loss and accuracy of the supernet on a held-out
// batch under each candidate's alphas, side by side (no gradients): up to `perPass` of them in
// one pass, the batch repeated once per candidate, each copy mixed by its candidate's alphas
// and normalised by its own BN statistics, so a candidate scores as it would alone. Losses and
// hits stay on the GPU and are read once per call.

import { Tensor, scope } from '../../tensor.js';
import { noGrad } from '../../autograd.js';
import { concat, slice } from '../../ops/concat.js';
import { scoring } from '../../context.js';
import { crossEntropy, countCorrect } from '../../ops/loss.js';
import type { Batch } from '../../data/loader.js';
import type { Supernet } from '../supernet.js';

/** G candidates' alphas as population tensors [G, edges, pairs], one per alpha matrix. */
function populationAlphas(model: Supernet, xs: ArrayLike<number>[]): Tensor[] {
  let at = 0;
  return model.alphas.map((a) => {
    const data = new Float32Array(xs.length * a.size);
    xs.forEach((x, g) => {
      for (let i = 0; i < a.size; i++) data[g * a.size + i] = x[at + i];
    });
    at += a.size;
    return Tensor.fromData(data, xs.length === 1 ? a.shape : [xs.length, ...a.shape]);
  });
}

/**
 * The one place a candidate pass runs the supernet: logits of x (G copies of a batch) under
 * population alphas, in the scoring context (evaluation mode with batch statistics per batch
 * group: no Hebbian update, no BN running-statistic update, no brSF redraw), so scoring the same
 * candidate twice gives the same numbers and leaves the supernet as it was.
 */
function scoringForward(model: Supernet, x: Tensor, alphas: Tensor[], groups: number): Tensor {
  return scoring(groups, () => model.forward(x, alphas));
}

/** [loss_0, correct_0, loss_1, ...] of G candidates on batch b, in one pass of the supernet. */
function scorePass(model: Supernet, xs: ArrayLike<number>[], b: Batch): Tensor {
  const G = xs.length;
  const n = b.x.shape[0];
  return scope(() => {
    const alphas = populationAlphas(model, xs);
    const x = G === 1 ? b.x : noGrad(() => concat(Array.from({ length: G }, () => b.x), 0));
    const logits = scoringForward(model, x, alphas, G);
    return noGrad(() => {
      const parts: Tensor[] = [];
      for (let g = 0; g < G; g++) {
        const mine = G === 1 ? logits : slice(logits, 0, g * n, (g + 1) * n);
        parts.push(crossEntropy(mine, b.y), countCorrect(mine, b.y));
      }
      return concat(parts, 0);
    });
  });
}

/**
 * Loss and accuracy of the supernet on batch b under each candidate's alphas (flattened in the
 * order of model.alphas; the forward takes their softmax), `perPass` candidates per pass. The
 * model's own alphas are untouched.
 */
export async function scoreCandidates(model: Supernet, xs: ArrayLike<number>[], b: Batch, perPass = xs.length): Promise<{ loss: number[]; acc: number[] }> {
  const size = model.alphas.reduce((n, a) => n + a.size, 0);
  xs.forEach((x, i) => {
    if (x.length !== size) throw new Error(`scoreCandidates: candidate ${i} has ${x.length} values, the alphas have ${size}`);
  });
  if (!(Number.isInteger(perPass) && perPass >= 1)) throw new Error(`scoreCandidates: candidates per pass must be a positive integer, got ${perPass}`);
  const scores: Tensor[] = [];
  for (let i = 0; i < xs.length; i += perPass) scores.push(scorePass(model, xs.slice(i, i + perPass), b));
  const all = scores.length === 1 ? scores[0] : noGrad(() => concat(scores, 0));
  const values = await all.data();
  if (all !== scores[0]) all.release();
  scores.forEach((t) => t.release());
  const n = b.x.shape[0];
  return { loss: xs.map((_, i) => values[2 * i]), acc: xs.map((_, i) => values[2 * i + 1] / n) };
}

/**
 * Candidates per scoring pass: the configured number, or as many as fit in scoreMemoryMiB
 * given the bytes one candidate's pass took (and its largest buffer under the adapter's limit).
 */
export function candidatesPerPass(c: { candidatesPerPass: number; scoreMemoryMiB: number }, population: number,
  measured: { bytes: number; largestBuffer: number }, maxBufferBytes: number): number {
  if (c.candidatesPerPass > 0) return Math.min(c.candidatesPerPass, population);
  const byMemory = Math.floor((c.scoreMemoryMiB * 2 ** 20) / Math.max(measured.bytes, 1));
  const byBuffer = Math.floor(maxBufferBytes / Math.max(measured.largestBuffer, 1));
  return Math.max(1, Math.min(population, byMemory, byBuffer));
}
