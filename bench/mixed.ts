// DARTS plumbing benchmark cases: the MixedOp weighted sum (forward and backward: dxs and the
// weight gradient) and a channel concat, the two ops every supernet edge and cell runs; and an
// elementwise add (residuals, gradient accumulation).

import { randomArray as random, bionasRun, tfjsRun, type BenchCase } from './harness.js';
import { Tensor } from '../src/tensor.js';
import { weightedSumInto, weightedSumBackward } from '../src/ops/mixed.js';
import { concatRaw } from '../src/ops/concat.js';
import { add } from '../src/ops/elementwise.js';


const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function weightedSumCase(N: number, shape: number[]): BenchCase {
  const n = size(shape);
  const weights = Array.from({ length: N }, (_, k) => (k + 1) / ((N * (N + 1)) / 2));
  return {
    name: `weightedSum ${N} x [${shape.join(',')}] fwd+bwd`,
    family: 'mixed',
    // forward 2Nn; backward: dxs Nn, weight gradient 2Nn
    flops: 5 * N * n,
    // read xs twice (forward, weight gradient), write out, read g, write dxs
    bytes: 4 * (2 * N * n + n + n + N * n),
    bionas() {
      const xs = Array.from({ length: N }, (_, k) => Tensor.fromData(random(n, k + 1), shape));
      const w = Tensor.fromData(weights, [N]);
      const g = Tensor.fromData(random(n, 99), shape);
      return bionasRun([...xs, w, g], () => {
        weightedSumInto(Tensor.empty(shape), xs, w);
        return weightedSumBackward(g, xs, w);
      });
    },
    tfjs(tf: any) {
      const xs = Array.from({ length: N }, (_, k) => tf.tensor(random(n, k + 1), shape));
      const w = tf.tensor(weights, [N]);
      const g = tf.tensor(random(n, 99), shape);
      return tfjsRun([...xs, w, g], () => {
        const ws = tf.unstack(w);
        tf.addN(xs.map((x: any, k: number) => tf.mul(x, ws[k])));
        xs.forEach((_: any, k: number) => tf.mul(g, ws[k]));
        return tf.stack(xs.map((x: any) => tf.sum(tf.mul(g, x))));
      }, tf);
    },
  };
}

function addCase(shape: number[]): BenchCase {
  const n = size(shape);
  return {
    name: `add [${shape.join(',')}]`,
    family: 'mixed',
    flops: n,
    bytes: 4 * 3 * n,
    bionas() {
      const a = Tensor.fromData(random(n, 1), shape);
      const b = Tensor.fromData(random(n, 2), shape);
      return bionasRun([a, b], () => add(a, b));
    },
    tfjs(tf: any) {
      const a = tf.tensor(random(n, 1), shape);
      const b = tf.tensor(random(n, 2), shape);
      return tfjsRun([a, b], () => tf.add(a, b), tf);
    },
  };
}

function concatCase(N: number, shape: number[]): BenchCase {
  const n = size(shape);
  return {
    name: `concat ${N} x [${shape.join(',')}] axis 1`,
    family: 'mixed',
    flops: 0,
    bytes: 4 * 2 * N * n,
    bionas() {
      const xs = Array.from({ length: N }, (_, k) => Tensor.fromData(random(n, k + 1), shape));
      return bionasRun(xs, () => concatRaw(xs, 1));
    },
    tfjs(tf: any) {
      const xs = Array.from({ length: N }, (_, k) => tf.tensor(random(n, k + 1), shape));
      return tfjsRun(xs, () => tf.concat(xs, 1), tf);
    },
  };
}

export const cases: BenchCase[] = [
  weightedSumCase(8, [32, 16, 32, 32]),
  concatCase(4, [64, 16, 16, 16]),
  addCase([32, 16, 32, 32]),
];

export default cases;
