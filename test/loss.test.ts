import { describe, it, expect } from 'vitest';
import { useGpu, rng, freshSeed, randomArray, expectClose, finiteDifference } from './util.js';
import { Tensor } from '../src/tensor.js';
import { softmax, logSoftmax, crossEntropy, countCorrect } from '../src/ops/loss.js';
import { backward } from '../src/autograd.js';
import {
  softmaxRef, softmaxBackwardRef, crossEntropyRef, crossEntropyRowsRef, crossEntropyBackwardRef, countCorrectRef,
} from './reference/loss.js';
import { chooseTuning, type Tuning } from '../src/gpu/tuning.js';

const rt = useGpu();

/** Runs fn with the kernel shapes tuning.ts gives a hardware GPU, so those kernels are tested too. */
async function withGpuTuning(fn: () => Promise<void>): Promise<void> {
  const tuning: Tuning = rt().tuning;
  const before = { ...tuning };
  Object.assign(tuning, chooseTuning({ ...rt().info, isSoftware: false }));
  try {
    await fn();
  } finally {
    Object.assign(tuning, before);
  }
}

function labelsFor(N: number, K: number, next: () => number): Int32Array {
  return Int32Array.from({ length: N }, () => Math.floor(next() * K));
}

// Rows of up to tuning.reduceThreadChunk values (1024 on llvmpipe, 256 on GPUs) take a thread
// each; longer rows (2000) a workgroup.
const SIZES: [number, number][] = [[3, 10], [7, 1], [33, 37], [3, 2000]];

/** softmax and logSoftmax, forward and backward, against the CPU at SIZES. */
async function checkSoftmax(): Promise<void> {
  const next = rng(freshSeed('softmax'));
  for (const [N, K] of SIZES) {
    for (const log of [false, true]) {
      const x = randomArray(N * K, next, -4, 4);
      const t = Tensor.fromData(x, [N, K]);
      t.requiresGrad = true;
      const y = log ? logSoftmax(t) : softmax(t);
      const what = `${log ? 'logSoftmax' : 'softmax'} [${N}, ${K}]`;
      expectClose(await y.data(), softmaxRef(x, N, K, log), 1e-5, what);
      const g = randomArray(N * K, next);
      backward(y, Tensor.fromData(g, [N, K]));
      expectClose(await t.grad!.data(), softmaxBackwardRef(g, x, N, K, log), 1e-4, `${what} backward`);
      t.grad!.release();
      t.release();
      y.release();
    }
  }
}

/** crossEntropy loss and backward against the CPU, label smoothing 0 and 0.1, mean and sum. */
async function checkCrossEntropy(): Promise<void> {
  const next = rng(freshSeed('cross entropy'));
  for (const [N, K] of [[3, 10], [33, 7], [4, 2000], [5, 1]] as [number, number][]) {
    for (const eps of [0, 0.1]) {
      for (const reduction of ['mean', 'sum'] as const) {
        const x = randomArray(N * K, next, -3, 3);
        const labels = labelsFor(N, K, next);
        const t = Tensor.fromData(x, [N, K]);
        t.requiresGrad = true;
        const loss = crossEntropy(t, Tensor.fromData(labels, [N], 'i32'), { labelSmoothing: eps, reduction });
        expect(loss.shape).toEqual([1]);
        const what = `[${N}, ${K}] eps ${eps} ${reduction}`;
        expectClose(await loss.data(), [crossEntropyRef(x, labels, N, K, eps, reduction)], 1e-5, what);
        // The incoming gradient is read from the GPU: seed it with 2.5 instead of 1.
        backward(loss, Tensor.fromData([2.5], [1]));
        expectClose(await t.grad!.data(), crossEntropyBackwardRef(x, labels, N, K, eps, reduction, 2.5), 1e-5, `${what} backward`);
        t.grad!.release();
        t.release();
        loss.release();
      }
    }
  }
}

/** countCorrect against the CPU, alone and accumulated over batches. */
async function checkCountCorrect(): Promise<void> {
  const next = rng(freshSeed('count correct'));
  let total = 0;
  const acc = Tensor.fromData([0], [1]);
  for (const [N, K] of [[3, 10], [257, 7], [100, 2000]] as [number, number][]) {
    const x = randomArray(N * K, next);
    const labels = labelsFor(N, K, next);
    // Make about half the rows hits.
    for (let i = 0; i < N; i += 2) labels[i] = countArgmax(x, i, K);
    const tl = Tensor.fromData(labels, [N], 'i32');
    const tx = Tensor.fromData(x, [N, K]);
    const want = countCorrectRef(x, labels, N, K);
    expect(await countCorrect(tx, tl).item()).toBe(want);
    countCorrect(tx, tl, acc);
    total += want;
  }
  expect(await acc.item()).toBe(total);
}

describe('softmax and logSoftmax', () => {
  it('forward and backward match the CPU (short and long rows)', checkSoftmax);
  it("the same with a GPU's tuning (rows over 256 take a workgroup of 256)", () => withGpuTuning(checkSoftmax));

  it('is stable for huge logits', async () => {
    const x = Float32Array.from([1000, 999, -1000, 3e4, 3e4 - 1, 0]);
    const p = await softmax(Tensor.fromData(x, [2, 3])).data();
    expectClose(p, softmaxRef(x, 2, 3), 1e-5, 'softmax');
    const lp = await logSoftmax(Tensor.fromData(x, [2, 3])).data();
    expectClose(lp, softmaxRef(x, 2, 3, true), 1e-5, 'logSoftmax');
  });

  it('the reference backward matches finite differences', () => {
    const next = rng(freshSeed('softmax fd'));
    const [N, K] = [3, 5];
    for (const log of [false, true]) {
      const x = Float64Array.from(randomArray(N * K, next, -2, 2));
      const g = Float64Array.from(randomArray(N * K, next));
      const f = (v: Float64Array) => softmaxRef(v, N, K, log).reduce((a, y, i) => a + y * g[i], 0);
      expectClose(softmaxBackwardRef(g, x, N, K, log), finiteDifference(f, x), 1e-6, `fd log ${log}`);
    }
  });
});

describe('crossEntropy', () => {
  it('loss and fused backward match the CPU, label smoothing 0 and 0.1', checkCrossEntropy);
  it("the same with a GPU's tuning", () => withGpuTuning(checkCrossEntropy));

  it("reduction 'none' gives per-row losses and takes a per-row gradient", async () => {
    const next = rng(freshSeed('cross entropy none'));
    const [N, K] = [6, 11];
    const x = randomArray(N * K, next, -3, 3);
    const labels = labelsFor(N, K, next);
    const t = Tensor.fromData(x, [N, K]);
    t.requiresGrad = true;
    const rows = crossEntropy(t, Tensor.fromData(labels, [N], 'i32'), { reduction: 'none', labelSmoothing: 0.1 });
    expect(rows.shape).toEqual([N]);
    expectClose(await rows.data(), crossEntropyRowsRef(x, labels, N, K, 0.1), 1e-5, 'rows');
    const g = randomArray(N, next);
    backward(rows, Tensor.fromData(g, [N]));
    const want = crossEntropyBackwardRef(x, labels, N, K, 0.1, 'sum').map((v, j) => v * g[Math.floor(j / K)]);
    expectClose(await t.grad!.data(), want, 1e-5, 'rows backward');
  });

  it('is stable for huge logits', async () => {
    const x = Float32Array.from([1e4, -1e4, 5e3, 80, 100, 90]);
    const labels = Int32Array.from([2, 0]);
    const t = Tensor.fromData(x, [2, 3]);
    t.requiresGrad = true;
    const loss = crossEntropy(t, Tensor.fromData(labels, [2], 'i32'), { labelSmoothing: 0.1 });
    expectClose(await loss.data(), [crossEntropyRef(x, labels, 2, 3, 0.1)], 1e-5, 'loss');
    backward(loss);
    expectClose(await t.grad!.data(), crossEntropyBackwardRef(x, labels, 2, 3, 0.1), 1e-5, 'grad');
  });

  it('the reference backward matches finite differences', () => {
    const next = rng(freshSeed('cross entropy fd'));
    const [N, K] = [4, 6];
    for (const eps of [0, 0.1]) {
      const x = Float64Array.from(randomArray(N * K, next, -2, 2));
      const labels = labelsFor(N, K, next);
      const fd = finiteDifference((v) => crossEntropyRef(v, labels, N, K, eps), x);
      expectClose(crossEntropyBackwardRef(x, labels, N, K, eps), fd, 1e-6, `fd eps ${eps}`);
    }
  });

  it('labels out of range give NaN rows without reading out of bounds', async () => {
    const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const labels = Int32Array.from([0, 3, -1]);
    const t = Tensor.fromData(x, [3, 3]);
    t.requiresGrad = true;
    const rows = crossEntropy(t, Tensor.fromData(labels, [3], 'i32'), { reduction: 'none' });
    const got = await rows.data();
    expect(got[0]).toBeCloseTo(crossEntropyRowsRef(x, [0], 1, 3)[0], 5);
    expect(Number.isNaN(got[1]) && Number.isNaN(got[2])).toBe(true);
    backward(rows, Tensor.fromData([1, 1, 1], [3]));
    const dx = await t.grad!.data();
    expect(Array.from(dx.slice(0, 3)).every(Number.isFinite)).toBe(true);
    expect(Array.from(dx.slice(3)).every(Number.isNaN)).toBe(true);
    expect(Number.isNaN(await crossEntropy(t, Tensor.fromData(labels, [3], 'i32')).item())).toBe(true);
  });

  it('bad input throws errors naming the op and shapes', () => {
    const x = Tensor.fromData(new Float32Array(12), [3, 4]);
    const labels = Tensor.fromData([0, 1, 2], [3], 'i32');
    expect(() => crossEntropy(x.view([3, 2, 2]), labels)).toThrow(/crossEntropy: logits \[3, 2, 2\] must be \[N, K\]/);
    expect(() => crossEntropy(x, Tensor.fromData([0, 1, 2], [3]))).toThrow(/crossEntropy: labels must be i32, got f32 \[3\]/);
    expect(() => crossEntropy(x, Tensor.fromData([0, 1], [2], 'i32'))).toThrow(/crossEntropy: labels \[2\] must be \[3\] for logits \[3, 4\]/);
    expect(() => crossEntropy(x, labels.view([3, 1]))).toThrow(/crossEntropy: labels \[3, 1\] must be \[3\] for logits \[3, 4\]/);
    expect(() => crossEntropy(Tensor.fromData(new Int32Array(12), [3, 4], 'i32'), labels)).toThrow(/crossEntropy: logits must be f32, got i32 \[3, 4\]/);
    expect(() => crossEntropy(x, labels, { labelSmoothing: 1.5 })).toThrow(/crossEntropy: labelSmoothing 1.5/);
    expect(() => countCorrect(x, Tensor.fromData([0, 1], [2], 'i32'))).toThrow(/countCorrect: labels \[2\] must be \[3\] for logits \[3, 4\]/);
    expect(() => softmax(Tensor.fromData([1, 2], [2], 'i32'))).toThrow(/softmax: needs f32 logits, got i32 \[2\]/);
  });

  it('leaves nothing behind without gradients', async () => {
    const x = Tensor.fromData(randomArray(30, rng(2)), [3, 10]);
    const labels = Tensor.fromData([1, 2, 3], [3], 'i32');
    await rt().sync();
    const before = rt().pool.liveBytes;
    crossEntropy(x, labels).release();
    softmax(x).release();
    expect(rt().pool.liveBytes).toBe(before);
  });
});

describe('countCorrect', () => {
  it('counts argmax hits and accumulates on the GPU', checkCountCorrect);
  it("the same with a GPU's tuning (a workgroup of 256)", () => withGpuTuning(checkCountCorrect));
});

function countArgmax(x: Float32Array, i: number, K: number): number {
  let at = 0;
  for (let k = 1; k < K; k++) if (x[i * K + k] > x[i * K + at]) at = k;
  return at;
}
