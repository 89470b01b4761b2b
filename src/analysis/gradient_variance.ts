// Gradient-variance probe (the BioNAS paper's Figure 3 compares mixed-rule and single-rule
// networks by it): over K batches, the variance of each parameter's gradient across batches,
// averaged over the parameters of each layer and over the whole model. The gradient is each
// rule's own (the update direction SGD takes, before learning rate and momentum). Sums and
// sums of squares accumulate on the GPU; one read-back per parameter tensor at the end.

import { Tensor, scope, keep } from '../tensor.js';
import { backward, noGrad } from '../autograd.js';
import { addInto, mul } from '../ops/elementwise.js';
import { fillInPlace } from '../ops/fill.js';
import { sum } from '../ops/reduce.js';
import { clearOutputError } from '../context.js';
import type { Module } from '../nn/module.js';
import type { Batch } from '../data/loader.js';

export interface VarianceReport {
  batches: number;
  /** Mean per-parameter variance of each parameter tensor, by name. */
  perTensor: { name: string; size: number; variance: number }[];
  /** Mean over all parameters (weighted by their count). */
  overall: number;
}

export async function gradientVariance(model: Module, batches: Iterable<Batch>, loss: (logits: Tensor, b: Batch) => Tensor, limit = Infinity): Promise<VarianceReport> {
  const named = model.namedParameters();
  const sums = named.map(([, p]) => keep(fillInPlace(Tensor.empty(p.shape), 0)));
  const squares = named.map(([, p]) => keep(fillInPlace(Tensor.empty(p.shape), 0)));
  let k = 0;
  for (const b of batches) {
    if (k >= limit) {
      b.x.release();
      b.y.release();
      break;
    }
    scope(() => {
      backward(loss(model.forward(b.x), b));
      clearOutputError();
      noGrad(() => named.forEach(([, p], i) => {
        if (!p.grad) return;
        addInto(sums[i], p.grad);
        addInto(squares[i], mul(p.grad, p.grad));
        p.grad.release();
        p.grad = null;
      }));
    });
    b.x.release();
    b.y.release();
    k++;
  }
  if (k < 2) throw new Error(`gradientVariance: needs at least 2 batches, got ${k}`);
  // mean over elements of E[g^2] - E[g]^2, from the two sums.
  const totals = scope(() => noGrad(() => named.map((_, i) => [sum(sums[i]), sum(squares[i]), sum(mul(sums[i], sums[i]))])));
  const perTensor = await Promise.all(named.map(async ([name, p], i) => {
    const [s2, sq] = await Promise.all([totals[i][2].item(), totals[i][1].item()]);
    const variance = (sq / k - s2 / (k * k)) / p.size;
    return { name, size: p.size, variance };
  }));
  totals.flat().forEach((t) => t.release());
  [...sums, ...squares].forEach((t) => t.release());
  const n = perTensor.reduce((a, r) => a + r.size, 0);
  return { batches: k, perTensor, overall: perTensor.reduce((a, r) => a + r.variance * r.size, 0) / n };
}
