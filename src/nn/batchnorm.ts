// BatchNorm2d: batch statistics in training (running statistics updated on the GPU),
// running statistics in evaluation. affine=false is what DARTS search ops use.
// The step context decides with the module's training flag: a module that learns (training
// mode, context in 'train') normalises with the batch and updates the running statistics; in
// an 'eval' context nothing is updated, and the batch's statistics (per batch group) are used
// only when the context asks for them (batchStats: scoring).

import { Tensor } from '../tensor.js';
import { Module, parameter, buffer } from './module.js';
import { batchNorm2d, batchNormReadsInput } from '../ops/batchnorm.js';
import { needsGrad } from '../tape.js';
import { context } from '../context.js';
import { fillInPlace } from '../ops/fill.js';

export class BatchNorm2d extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;

  constructor(readonly channels: number, readonly opts: { affine?: boolean; momentum?: number; eps?: number } = {}) {
    super();
    const affine = opts.affine ?? true;
    this.weight = affine ? parameter(fillInPlace(Tensor.empty([channels], 'f32', 'bn.weight'), 1)) : null;
    this.bias = affine ? parameter(fillInPlace(Tensor.empty([channels], 'f32', 'bn.bias'), 0)) : null;
    this.runningMean = buffer(fillInPlace(Tensor.empty([channels], 'f32', 'bn.running_mean'), 0));
    this.runningVar = buffer(fillInPlace(Tensor.empty([channels], 'f32', 'bn.running_var'), 1));
  }

  /** Whether forward(x) keeps x for its backward (so the caller must not free x early). */
  keepsInput(x: Tensor): boolean {
    return needsGrad(x, this.weight, this.bias) && batchNormReadsInput(this);
  }

  forward(x: Tensor): Tensor {
    const ctx = context();
    const batchStats = ctx.batchStats && (ctx.mode === 'eval' || this.training);
    return batchNorm2d(x, {
      weight: this.weight,
      bias: this.bias,
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      training: batchStats,
      updateRunning: batchStats && this.isLearning(),
      momentum: this.opts.momentum ?? 0.1,
      eps: this.opts.eps ?? 1e-5,
    });
  }
}
