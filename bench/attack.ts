// Attack throughput: PGD-10 (exact gradients, eps 8/255) on a ResNet-20 (FA), as images per
// second: ten forward-backward passes to the input per image. Skipped, with a line saying so,
// when no 'pgd' attack is registered.

import type { BenchCase, Runnable } from './harness.js';
import { Tensor, keep } from '../src/tensor.js';
import { Generator, randomUniform } from '../src/ops/random.js';
import { CifarResNet } from '../src/models/resnet.js';
import '../src/attack/index.js';
import { attackNames, attackOptions, getAttack } from '../src/attack/attack.js';
import { attackTarget } from '../src/attack/target.js';
import { seededDraws } from '../src/attack/draws.js';
import { CIFAR10_MEAN, CIFAR10_STD } from '../src/data/dataset.js';

const BATCH = 64;
const STEPS = 10;
// ResNet-20 forward: 40.8 MFLOP per 32x32 image; a step's backward to the input about as much again (no weight gradients).
const RESNET20_FORWARD_FLOPS = 2 * 20.4e6;

function pgdRun(): Runnable {
  const gen = new Generator(1);
  const model = new CifarResNet({ depth: 20, numClasses: 10, rule: 'fa', gen });
  const target = attackTarget(model, { mean: CIFAR10_MEAN, std: CIFAR10_STD, numClasses: 10, name: 'resnet20 (fa)' });
  const x = keep(randomUniform([BATCH, 3, 32, 32], gen, 0, 1));
  const y = keep(Tensor.fromData(Int32Array.from({ length: BATCH }, (_, i) => i % 10), [BATCH], 'i32'));
  const pgd = getAttack('pgd');
  const options = attackOptions(pgd, 'pgd-steps' in (pgd.flags ?? {}) ? { 'pgd-steps': STEPS } : {});
  let draws = 0;
  return {
    run: async () => {
      const out = await pgd.run({ target, x, y, eps: 8 / 255, gradient: 'exact', draws: seededDraws(++draws), options });
      out.adv.release();
    },
    dispose: () => {
      model.dispose();
      x.release();
      y.release();
    },
  };
}

const registered = attackNames().includes('pgd');
if (!registered) console.log("bench attack: no 'pgd' attack is registered (src/attack/index.ts); the PGD-10 case is skipped");

export const cases: BenchCase[] = registered ? [{
  name: `pgd-${STEPS} resnet20 fa batch ${BATCH} 32x32`,
  family: 'attack',
  flops: BATCH * STEPS * 2 * RESNET20_FORWARD_FLOPS,
  bytes: 0,
  items: BATCH,
  bionas: pgdRun,
}] : [];
