// Training throughput: one ResNet-20 step (forward, loss, backward, SGD) at batch 128,
// as images per second, under BP and under a bio rule.

import type { BenchCase, Runnable } from './harness.js';
import { Tensor, scope, keep } from '../src/tensor.js';
import { backward } from '../src/autograd.js';
import { Generator, randomNormal } from '../src/ops/random.js';
import { crossEntropy } from '../src/ops/loss.js';
import { SGD } from '../src/optim/sgd.js';
import { CifarResNet } from '../src/models/resnet.js';
import { clearOutputError } from '../src/rules/dfa.js';
import type { RuleName } from '../src/rules/rule.js';

const BATCH = 128;
// ResNet-20 forward: 40.8 MFLOP per 32x32 image (multiply-adds x 2); backward about twice that.
const RESNET20_FLOPS = 3 * 2 * 20.4e6;

function resnetStep(rule: RuleName): Runnable {
  const gen = new Generator(1);
  const model = new CifarResNet({ depth: 20, numClasses: 10, rule, gen });
  const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
  const x = keep(randomNormal([BATCH, 3, 32, 32], gen));
  const y = keep(Tensor.fromData(Int32Array.from({ length: BATCH }, (_, i) => i % 10), [BATCH], 'i32'));
  return {
    run: () => scope(() => {
      backward(crossEntropy(model.forward(x), y));
      clearOutputError();
      opt.step();
      opt.zeroGrad();
    }),
    dispose: () => {
      opt.dispose();
      model.dispose();
      x.release();
      y.release();
    },
  };
}

export const cases: BenchCase[] = (['bp', 'usf'] as RuleName[]).map((rule) => ({
  name: `resnet20 train step ${rule} batch ${BATCH} 32x32`,
  family: 'train',
  flops: BATCH * RESNET20_FLOPS,
  bytes: 0,
  items: BATCH,
  profile: true,
  bionas: () => resnetStep(rule),
}));
