// BioNAS-DARTS: bi-level search. Each step: one architecture step (Adam on the alphas) on a
// validation batch, then one weight step (SGD, gradient clipping) on a training batch.
// First order by default. Second order (DARTS' unrolled step): with w' = w - lr * (momentum *
// v + dL_train/dw + wd * w), the alpha gradient is dL_val(w', a)/da minus lr times a
// finite-difference Hessian-vector product, (dL_train(w+, a)/da - dL_train(w-, a)/da) / 2R,
// w+- = w +- R dL_val(w', a)/dw', R = 0.01 / ||dL_val/dw'||.
// The architecture gradient flows through each op's learning-rule backward: with bio rules it
// is itself a pseudo-gradient (SPEC 4).

import { Tensor, scope, keep } from '../tensor.js';
import { backward, noGrad } from '../autograd.js';
import { axpy, addInto, scale, copy, copyInto } from '../ops/elementwise.js';
import { weightUpdate } from '../train/step.js';
import { fillInPlace } from '../ops/fill.js';
import { crossEntropy, countCorrect } from '../ops/loss.js';
import { SGD } from '../optim/sgd.js';
import { Adam } from '../optim/adam.js';
import { globalNorm } from '../optim/clip.js';
import { learningRate } from '../optim/schedule.js';
import { clearOutputError } from '../rules/dfa.js';
import type { Batch } from '../data/loader.js';
import type { Supernet } from './supernet.js';

export interface DartsConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  minLr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  gradClip: number;
  archLr: number;
  archBetas: [number, number];
  archWeightDecay: number;
  secondOrder: boolean;
  seed: number;
  logEvery: number;
}

/** DARTS (Liu et al. 2019) search hyper-parameters. */
export const DARTS_SEARCH: Omit<DartsConfig, 'seed' | 'secondOrder'> & { C: number; layers: number; steps: number } = {
  epochs: 50, batchSize: 64, lr: 0.025, minLr: 0.001, momentum: 0.9, nesterov: false, weightDecay: 3e-4, gradClip: 5,
  archLr: 3e-4, archBetas: [0.5, 0.999], archWeightDecay: 1e-3, logEvery: 20, C: 16, layers: 8, steps: 4,
};

/** The BioNAS paper's supernet table: Nesterov SGD lr 0.1 -> 0, batch 256, 5 cells. */
export const BIONAS_SEARCH: typeof DARTS_SEARCH = {
  ...DARTS_SEARCH, batchSize: 256, lr: 0.1, minLr: 0, nesterov: true, layers: 5,
};

export interface StepStats {
  trainLoss: Tensor;
  trainCorrect: Tensor;
  validLoss: Tensor;
  validCorrect: Tensor;
}

/** Runs f with the given tensors' requiresGrad switched off (skips their gradient kernels). */
export function frozen<T>(tensors: Tensor[], f: () => T): T {
  const before = tensors.map((t) => t.requiresGrad);
  tensors.forEach((t) => (t.requiresGrad = false));
  try {
    return f();
  } finally {
    tensors.forEach((t, i) => (t.requiresGrad = before[i]));
  }
}

function lossOf(model: Supernet, b: Batch): { loss: Tensor; logits: Tensor } {
  const logits = model.forward(b.x);
  return { loss: crossEntropy(logits, b.y), logits };
}

/** Drops gradients left on tensors, so a backward starts from zero instead of accumulating. */
function clearGrads(tensors: Tensor[]): void {
  for (const t of tensors) {
    if (t.grad && !t.grad.released) t.grad.release();
    t.grad = null;
  }
}

/** Gradients of the alphas at the current weights (weights frozen). */
export function alphaGradients(model: Supernet, b: Batch): Tensor[] {
  const alphas = model.alphas;
  clearGrads(alphas);
  return scope(() => {
    frozen(model.weightParameters(), () => {
      backward(lossOf(model, b).loss);
      clearOutputError();
    });
    const grads = alphas.map((a) => a.grad!);
    alphas.forEach((a) => (a.grad = null));
    return grads;
  });
}

/**
 * The second-order architecture gradient (DARTS' _backward_step_unrolled). Leaves the weights
 * as they were; returns one gradient per alpha. Reads back one number (||dw'||) per call.
 */
export async function unrolledAlphaGradients(model: Supernet, train: Batch, valid: Batch, lr: number, wOpt: SGD): Promise<Tensor[]> {
  const weights = model.weightParameters();
  const alphas = model.alphas;
  clearGrads([...weights, ...alphas]);
  const saved = weights.map((w) => keep(noGrad(() => copy(w))));
  // dL_train/dw at w (alphas frozen).
  scope(() => frozen(alphas, () => {
    backward(lossOf(model, train).loss);
    clearOutputError();
  }));
  // w' = w - lr * (momentum * v + g + wd * w)
  const momentum = wOpt.stateDict().momentumBuffers;
  noGrad(() => weights.forEach((w, i) => {
    const g = w.grad;
    if (g) axpy(w, g, -lr);
    axpy(w, saved[i], -lr * wOpt.weightDecay);
    const v = momentum[i];
    if (v) axpy(w, v, -lr * wOpt.momentum);
    g?.release();
    w.grad = null;
  }));
  // dL_val(w', a)/da and /dw'
  scope(() => {
    backward(lossOf(model, valid).loss);
    clearOutputError();
  });
  const dAlpha = alphas.map((a) => a.grad!);
  alphas.forEach((a) => (a.grad = null));
  const dW = weights.map((w) => w.grad);
  weights.forEach((w) => (w.grad = null));
  const normT = globalNorm(dW.filter((g): g is Tensor => !!g));
  const norm = await normT.item();
  normT.release();
  const R = 0.01 / Math.max(norm, 1e-12);
  const gradAt = (sign: 1 | -1): Tensor[] => {
    noGrad(() => weights.forEach((w, i) => {
      // w = saved + sign * R * dW
      copyInto(w, saved[i]);
      if (dW[i]) axpy(w, dW[i]!, sign * R);
    }));
    return alphaGradients(model, train);
  };
  const plus = gradAt(1);
  const minus = gradAt(-1);
  noGrad(() => weights.forEach((w, i) => copyInto(w, saved[i])));
  const result = noGrad(() => dAlpha.map((d, i) => {
    const out = copy(d);
    axpy(out, plus[i], -lr / (2 * R));
    axpy(out, minus[i], lr / (2 * R));
    return keep(out);
  }));
  for (const t of [...saved, ...dAlpha, ...plus, ...minus, ...dW]) if (t && !t.released) t.release();
  return result;
}

/** One search step: the alpha step on `valid`, then the weight step on `train`. */
export async function searchStep(model: Supernet, train: Batch, valid: Batch, c: DartsConfig, lr: number, wOpt: SGD, aOpt: Adam, stats: StepStats): Promise<void> {
  const alphas = model.alphas;
  const weights = model.weightParameters();
  if (c.secondOrder) {
    const grads = await unrolledAlphaGradients(model, train, valid, lr, wOpt);
    alphas.forEach((a, i) => (a.grad = grads[i]));
    // The validation metrics of this step, at the current weights.
    scope(() => noGrad(() => {
      const { loss, logits } = lossOf(model, valid);
      addInto(stats.validLoss, scale(loss, valid.x.shape[0]));
      addInto(stats.validCorrect, countCorrect(logits, valid.y));
    }));
  } else {
    scope(() => {
      frozen(weights, () => {
        const { loss, logits } = lossOf(model, valid);
        backward(loss);
        clearOutputError();
        noGrad(() => {
          addInto(stats.validLoss, scale(loss, valid.x.shape[0]));
          addInto(stats.validCorrect, countCorrect(logits, valid.y));
        });
      });
    });
  }
  aOpt.step();
  aOpt.zeroGrad();
  scope(() => {
    frozen(alphas, () => {
      const { loss, logits } = lossOf(model, train);
      weightUpdate(loss, logits, train.y, weights, wOpt, lr, c.gradClip, { loss: stats.trainLoss, correct: stats.trainCorrect });
    });
  });
}

export function makeOptimizers(model: Supernet, c: DartsConfig): { wOpt: SGD; aOpt: Adam } {
  return {
    wOpt: new SGD(model.weightParameters(), { lr: c.lr, momentum: c.momentum, nesterov: c.nesterov, weightDecay: c.weightDecay }),
    aOpt: new Adam(model.alphas, { lr: c.archLr, betas: c.archBetas, weightDecay: c.archWeightDecay }),
  };
}

export function newStats(): StepStats {
  const z = () => keep(fillInPlace(Tensor.empty([1]), 0));
  return { trainLoss: z(), trainCorrect: z(), validLoss: z(), validCorrect: z() };
}

export async function readStats(s: StepStats, trainSeen: number, validSeen: number) {
  const [tl, tc, vl, vc] = await Promise.all([s.trainLoss.data(), s.trainCorrect.data(), s.validLoss.data(), s.validCorrect.data()]);
  return { trainLoss: tl[0] / Math.max(1, trainSeen), trainAcc: tc[0] / Math.max(1, trainSeen), validLoss: vl[0] / Math.max(1, validSeen), validAcc: vc[0] / Math.max(1, validSeen) };
}

export function releaseStats(s: StepStats): void {
  for (const t of Object.values(s)) t.release();
}

/** Rate of weight step at fractional epoch t: cosine from lr to minLr (stepped per epoch, as DARTS). */
export function searchLr(c: DartsConfig, t: number): number {
  return learningRate({ name: 'cosine', lr: c.lr, minLr: c.minLr, epochs: c.epochs }, t);
}
