// What an attack sees of a model: images in [0, 1] go in, logits come out; the data set's
// normalisation runs inside (SPEC 6: one protocol for every model). White-box attacks also ask
// for the gradient of a loss of the logits with respect to the image, from a chosen source:
// 'rule' (the model's own learning-rule backward, as Biotorch and BioNAS attacked) or 'exact'
// (true backprop: the honest robustness figure, since feedback-alignment rules mask gradients).
// Nothing here learns: the model runs in evaluation mode (running BN statistics, no brSF
// redraw, no drop path), so attacking a model leaves every tensor of it unchanged.

import { Tensor, scope, keep, fmt } from '../tensor.js';
import { withContext, withStep } from '../context.js';
import { backward } from '../autograd.js';
import { copy } from '../ops/elementwise.js';
import { normalizeChannels } from '../ops/channel_affine.js';
import type { Module } from '../nn/module.js';

export type GradientSource = 'rule' | 'exact';
export const GRADIENT_SOURCES: readonly GradientSource[] = ['rule', 'exact'];

export interface AttackTarget {
  readonly model: Module;
  /** The data set's normalisation, applied inside the model. */
  readonly mean: readonly number[];
  readonly std: readonly number[];
  readonly numClasses: number;
  /** A name for messages and tables (e.g. the checkpoint's path or 'resnet20 (fa)'). */
  readonly name: string;
}

export function attackTarget(model: Module, o: { mean: readonly number[]; std: readonly number[]; numClasses: number; name: string }): AttackTarget {
  if (o.mean.length !== o.std.length) throw new Error(`attack target ${o.name}: ${o.mean.length} means but ${o.std.length} stds`);
  return { model, ...o };
}

function checkImages(t: AttackTarget, x01: Tensor): void {
  if (x01.rank !== 4 || x01.shape[1] !== t.mean.length) {
    throw new Error(`${t.name}: images must be [N, ${t.mean.length}, H, W] in [0, 1], got ${fmt(x01.shape)}`);
  }
}

/** Logits [N, classes] of images x01 [N, C, H, W] in [0, 1]: evaluation mode, nothing recorded. */
export function targetLogits(t: AttackTarget, x01: Tensor): Tensor {
  checkImages(t, x01);
  t.model.eval();
  return withContext({ grad: false, mode: 'eval' }, () => scope(() => keep(t.model.forward(normalizeChannels(x01, t.mean, t.std)))));
}

/**
 * The gradient of `loss(logits)` (a scalar) with respect to the images, from `source`, and the
 * logits of that forward. The model's parameters are frozen for the call, so no weight gradient
 * is computed or accumulated; their flags are restored however the call ends.
 */
export function inputGradient(
  t: AttackTarget, x01: Tensor, loss: (logits: Tensor) => Tensor, source: GradientSource,
): { grad: Tensor; logits: Tensor } {
  checkImages(t, x01);
  t.model.eval();
  const params = t.model.parameters();
  for (const p of params) p.requiresGrad = false;
  try {
    return withStep(() => withContext({ grad: true, mode: 'eval', exact: source === 'exact' }, () => scope(() => {
      const x = copy(x01);
      x.requiresGrad = true;
      const logits = t.model.forward(normalizeChannels(x, t.mean, t.std));
      const l = loss(logits);
      if (l.size !== 1) throw new Error(`inputGradient: the loss must be a scalar, got ${fmt(l.shape)}`);
      backward(l);
      const grad = x.grad;
      if (!grad) throw new Error(`${t.name}: no gradient reached the input`);
      x.grad = null;
      return { grad: keep(grad), logits: keep(logits) };
    })));
  } finally {
    for (const p of params) p.requiresGrad = true;
  }
}
