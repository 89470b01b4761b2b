// Pooling, batch-norm and loss benchmark cases at DARTS-on-CIFAR sizes (batch 64, C = 16,
// 32 x 32 maps; 10 classes), compared with tfjs where it has the op. tfjs is NHWC, bionas
// NCHW: each side gets its own layout of the same data. The tfjs backwards are written out
// with public ops and kernels (tf.grad would need tfjs-core's gradient registry, which its
// Node build does not load): the same arithmetic tfjs's own gradients run.

import { randomArray, bionasRun, tfjsRun, type BenchCase } from './harness.js';
import { Tensor } from '../src/tensor.js';
import { maxPool2dForward, avgPool2dForward, maxPool2dBackward } from '../src/ops/pool.js';
import { batchNorm2dForward, batchNorm2dBackward } from '../src/ops/batchnorm.js';
import { crossEntropyForward, crossEntropyBackward } from '../src/ops/loss.js';
import { fillInPlace } from '../src/ops/fill.js';



const random = (n: number, seed: number, lo = -1, hi = 1) => randomArray(n, seed, lo, hi);

const N = 64, C = 16, H = 32, W = 32;
const SIZE = N * C * H * W;

function poolCase(kind: 'max' | 'avg'): BenchCase {
  return {
    name: `${kind}pool 3x3 s1 p1 ${N}x${C}x${H}x${W}`,
    family: 'pool',
    flops: 9 * SIZE,
    bytes: 4 * 2 * SIZE,
    bionas() {
      const x = Tensor.fromData(random(SIZE, 1), [N, C, H, W]);
      const opts = { kernel: 3, stride: 1, padding: 1 };
      return bionasRun([x], () => (kind === 'max' ? maxPool2dForward(x, opts, false).out : avgPool2dForward(x, opts).out));
    },
    tfjs(tf: any) {
      const x = tf.tensor4d(random(SIZE, 1), [N, H, W, C]);
      return tfjsRun([x], () => [kind === 'max' ? tf.maxPool(x, 3, 1, 1) : tf.avgPool(x, 3, 1, 1)], tf);
    },
  };
}

function maxPoolTrainCase(): BenchCase {
  return {
    name: `maxpool fwd+bwd 3x3 s1 p1 ${N}x${C}x${H}x${W}`,
    family: 'pool',
    flops: 0,
    // forward: x in, y and argmax out; backward: g and argmax in, dx out.
    bytes: 4 * 6 * SIZE,
    bionas() {
      const x = Tensor.fromData(random(SIZE, 1), [N, C, H, W]);
      const g = Tensor.fromData(random(SIZE, 2), [N, C, H, W]);
      return bionasRun([x, g], () => {
        const { argmax, geo } = maxPool2dForward(x, { kernel: 3, stride: 1, padding: 1 }, true);
        return maxPool2dBackward(g, argmax!, geo);
      });
    },
    tfjs(tf: any) {
      const x = tf.tensor4d(random(SIZE, 1), [N, H, W, C]);
      const g = tf.tensor4d(random(SIZE, 2), [N, H, W, C]);
      return tfjsRun([x, g], () => {
        const y = tf.maxPool(x, 3, 1, 1);
        return [tf.engine().runKernel('MaxPoolGrad', { dy: g, input: x, output: y }, { filterSize: 3, strides: 1, pad: 1 })];
      }, tf);
    },
  };
}

function batchNormCase(): BenchCase {
  return {
    name: `batchnorm fwd+bwd train ${N}x${C}x${H}x${W}`,
    family: 'batchnorm',
    flops: 0,
    // forward: x in, y out; backward: x and g in, dx out (at least).
    bytes: 4 * 5 * SIZE,
    bionas() {
      const x = Tensor.fromData(random(SIZE, 1, -1, 3), [N, C, H, W]);
      const g = Tensor.fromData(random(SIZE, 2), [N, C, H, W]);
      const w = fillInPlace(Tensor.empty([C]), 1);
      const b = fillInPlace(Tensor.empty([C]), 0);
      const rm = fillInPlace(Tensor.empty([C]), 0);
      const rv = fillInPlace(Tensor.empty([C]), 1);
      return bionasRun([x, g, w, b, rm, rv], () => {
        const { out, saved } = batchNorm2dForward(x, { weight: w, bias: b, runningMean: rm, runningVar: rv, training: true });
        const grads = batchNorm2dBackward(g, x, saved, w, { x: true, weight: true, bias: true });
        return [out, grads];
      });
    },
    tfjs(tf: any) {
      const x = tf.tensor4d(random(SIZE, 1, -1, 3), [N, H, W, C]);
      const g = tf.tensor4d(random(SIZE, 2), [N, H, W, C]);
      const gamma = tf.ones([C]);
      const beta = tf.zeros([C]);
      const M = N * H * W;
      return tfjsRun([x, g, gamma, beta], () => {
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        const y = tf.batchNorm(x, mean, variance, beta, gamma, 1e-5);
        const invstd = tf.rsqrt(tf.add(variance, 1e-5));
        const xhat = tf.mul(tf.sub(x, mean), invstd);
        const dbeta = tf.sum(g, [0, 1, 2]);
        const dgamma = tf.sum(tf.mul(g, xhat), [0, 1, 2]);
        const k = tf.div(tf.mul(invstd, gamma), M);
        const dx = tf.mul(k, tf.sub(tf.sub(tf.mul(g, M), dbeta), tf.mul(xhat, dgamma)));
        return [dx, y, dgamma, dbeta];
      }, tf);
    },
  };
}

function crossEntropyCase(B = 256, K = 10): BenchCase {
  return {
    name: `softmax-CE fwd+bwd [${B}, ${K}]`,
    family: 'loss',
    flops: 0,
    bytes: 4 * (2 * B * K + B),
    bionas() {
      const x = Tensor.fromData(random(B * K, 1, -3, 3), [B, K]);
      const labels = Tensor.fromData(Int32Array.from({ length: B }, (_, i) => (i * 7) % K), [B], 'i32');
      const one = fillInPlace(Tensor.empty([1]), 1);
      return bionasRun([x, labels, one], () => {
        const { loss, saved } = crossEntropyForward(x, labels, { labelSmoothing: 0.1 });
        return [loss, crossEntropyBackward(one, x, labels, saved)];
      });
    },
    tfjs(tf: any) {
      const x = tf.tensor2d(random(B * K, 1, -3, 3), [B, K]);
      const onehot = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from({ length: B }, (_, i) => (i * 7) % K), 'int32'), K));
      const eps = 0.1;
      const target = tf.add(tf.mul(onehot, 1 - eps), eps / K);
      return tfjsRun([x, onehot, target], () => {
        // Written out: tf.losses.softmaxCrossEntropy fails in the bundled tfjs-core ('cast' of null).
        const loss = tf.div(tf.neg(tf.sum(tf.mul(target, tf.logSoftmax(x)))), B);
        const grad = tf.div(tf.sub(tf.softmax(x), target), B);
        return [grad, loss];
      }, tf);
    },
  };
}

export const cases: BenchCase[] = [
  poolCase('max'),
  poolCase('avg'),
  maxPoolTrainCase(),
  batchNormCase(),
  crossEntropyCase(),
];

export default cases;
