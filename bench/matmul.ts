// Matmul and linear-layer benchmark cases: square products (compared with tf.matMul on the
// same adapter) and the small linear shapes a DARTS-style search runs every step.

import { randomArray as random, bionasRun, tfjsRun, type BenchCase } from './harness.js';
import { Tensor } from '../src/tensor.js';
import { matmul, linear, linearBackwardInput, linearBackwardWeight, linearBackwardBias } from '../src/ops/matmul.js';


function matmulCase(M: number, K: number, N: number, transB = false, tfjs = true): BenchCase {
  const aShape = [M, K];
  const bShape = transB ? [N, K] : [K, N];
  return {
    name: `matmul ${M}x${K}x${N}${transB ? ' B^T' : ''}`,
    family: 'matmul',
    flops: 2 * M * N * K,
    bytes: 4 * (M * K + K * N + M * N),
    bionas() {
      const a = Tensor.fromData(random(M * K, 1), aShape);
      const b = Tensor.fromData(random(K * N, 2), bShape);
      return bionasRun([a, b], () => matmul(a, b, { transB }));
    },
    tfjs: tfjs
      ? (tf: any) => {
          const a = tf.tensor(random(M * K, 1), aShape);
          const b = tf.tensor(random(K * N, 2), bShape);
          return tfjsRun([a, b], () => tf.matMul(a, b, false, transB));
        }
      : undefined,
  };
}

function batchedCase(batch: number, M: number, K: number, N: number): BenchCase {
  return {
    name: `matmul ${batch}x(${M}x${K}x${N})`,
    family: 'matmul',
    flops: 2 * batch * M * N * K,
    bytes: 4 * batch * (M * K + K * N + M * N),
    bionas() {
      const a = Tensor.fromData(random(batch * M * K, 1), [batch, M, K]);
      const b = Tensor.fromData(random(batch * K * N, 2), [batch, K, N]);
      return bionasRun([a, b], () => matmul(a, b));
    },
    tfjs(tf: any) {
      const a = tf.tensor(random(batch * M * K, 1), [batch, M, K]);
      const b = tf.tensor(random(batch * K * N, 2), [batch, K, N]);
      return tfjsRun([a, b], () => tf.matMul(a, b));
    },
  };
}

/** y = x W^T + b, x [rows, inF], W [outF, inF]. */
function linearCase(rows: number, inF: number, outF: number): BenchCase {
  return {
    name: `linear ${rows}x${inF}->${outF}`,
    family: 'linear',
    flops: 2 * rows * inF * outF,
    bytes: 4 * (rows * inF + outF * inF + outF + rows * outF),
    bionas() {
      const x = Tensor.fromData(random(rows * inF, 1), [rows, inF]);
      const w = Tensor.fromData(random(outF * inF, 2), [outF, inF]);
      const b = Tensor.fromData(random(outF, 3), [outF]);
      return bionasRun([x, w, b], () => linear(x, w, b));
    },
    tfjs(tf: any) {
      const x = tf.tensor(random(rows * inF, 1), [rows, inF]);
      const w = tf.tensor(random(outF * inF, 2), [outF, inF]);
      const b = tf.tensor(random(outF, 3), [outF]);
      return tfjsRun([x, w, b], () => tf.fused.matMul({ a: x, b: w, transposeB: true, bias: b }));
    },
  };
}

/** The three backward products of a linear layer: dx = g W, dW = g^T x, db = colsum(g). */
function linearBackwardCase(rows: number, inF: number, outF: number): BenchCase {
  return {
    name: `linear backward ${rows}x${inF}->${outF}`,
    family: 'linear',
    flops: 4 * rows * inF * outF + rows * outF,
    bytes: 4 * (2 * rows * outF + 2 * rows * inF + 2 * outF * inF + outF),
    bionas() {
      const x = Tensor.fromData(random(rows * inF, 1), [rows, inF]);
      const w = Tensor.fromData(random(outF * inF, 2), [outF, inF]);
      const g = Tensor.fromData(random(rows * outF, 3), [rows, outF]);
      return bionasRun([x, w, g], () => [linearBackwardInput(g, w), linearBackwardWeight(g, x), linearBackwardBias(g)]);
    },
    tfjs(tf: any) {
      const x = tf.tensor(random(rows * inF, 1), [rows, inF]);
      const w = tf.tensor(random(outF * inF, 2), [outF, inF]);
      const g = tf.tensor(random(rows * outF, 3), [rows, outF]);
      // One result to read back: the three gradients concatenated would add a copy, so return
      // dx and dispose the others (tfjs executes them all in order before dx's readback).
      return tfjsRun([x, w, g], () => {
        const dw = tf.matMul(g, x, true, false);
        const db = tf.sum(g, 0);
        const dx = tf.matMul(g, w);
        dw.dispose();
        db.dispose();
        return dx;
      });
    },
  };
}

export const cases: BenchCase[] = [
  matmulCase(1024, 1024, 1024),
  matmulCase(1024, 1024, 1024, true),
  matmulCase(512, 512, 512),
  matmulCase(257, 129, 65, false),
  batchedCase(16, 64, 64, 64),
  linearCase(64, 256, 10),
  linearCase(64, 256, 256),
  linearCase(256, 1024, 512),
  linearBackwardCase(64, 256, 10),
  linearBackwardCase(256, 1024, 512),
];

export default cases;
