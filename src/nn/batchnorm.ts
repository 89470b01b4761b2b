// BatchNorm2d: batch statistics in training (running statistics updated on the GPU),
// running statistics in evaluation. affine=false is what DARTS search ops use.

import { Tensor } from '../tensor.js';
import { Module, parameter, buffer } from './module.js';
import { batchNorm2d, batchNormReadsInput } from '../ops/batchnorm.js';
import { needsGrad } from '../autograd.js';
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
    return batchNorm2d(x, {
      weight: this.weight,
      bias: this.bias,
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      training: this.training,
      momentum: this.opts.momentum ?? 0.1,
      eps: this.opts.eps ?? 1e-5,
    });
  }
}
