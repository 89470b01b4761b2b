// One weight update, as the trainer, BioNAS-DARTS' weight step and BioNAS-EG's weight epochs
// all run it: backward of the loss, the rules' output error cleared, the gradient clipped,
// the optimizer stepped, and the batch's summed loss and hits added to running GPU sums (read
// back only when the progress bar shows them).

import type { Tensor } from '../tensor.js';
import { backward, noGrad } from '../autograd.js';
import { addInto, scale } from '../ops/elementwise.js';
import { countCorrect } from '../ops/loss.js';
import { clipGradNorm } from '../optim/clip.js';
import { clearOutputError } from '../rules/dfa.js';

export interface StepSums {
  /** [1]: sum over images of the loss. */
  loss: Tensor;
  /** [1]: images classified right. */
  correct: Tensor;
}

export function weightUpdate(
  loss: Tensor, logits: Tensor, labels: Tensor, params: Tensor[],
  opt: { step(lr?: number): void; zeroGrad(): void }, lr: number, gradClip: number, sums: StepSums,
): void {
  backward(loss);
  clearOutputError();
  if (gradClip > 0) clipGradNorm(params, gradClip);
  opt.step(lr);
  opt.zeroGrad();
  noGrad(() => {
    addInto(sums.loss, scale(loss, labels.shape[0]));
    addInto(sums.correct, countCorrect(logits, labels));
  });
}
