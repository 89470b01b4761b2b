import { describe, it, expect } from 'vitest';
import { useGpu, rng, freshSeed, randomArray, expectClose, finiteDifference } from './util.js';
import { Tensor } from '../src/tensor.js';
import { sum, mean } from '../src/ops/reduce.js';
import { backward } from '../src/autograd.js';
import { sumRef, sumBackwardRef, normAxes } from './reference/reduce.js';
import { chooseTuning, type Tuning } from '../src/gpu/tuning.js';

const rt = useGpu();

/** Runs fn with some tuning fields changed, so both the llvmpipe and the GPU paths are tested. */
async function withTuning(changes: () => Partial<Tuning>, fn: () => Promise<void>): Promise<void> {
  const tuning = rt().tuning;
  const before = { ...tuning };
  Object.assign(tuning, changes());
  try {
    await fn();
  } finally {
    Object.assign(tuning, before);
  }
}

/** The kernel shapes tuning.ts gives a hardware GPU, so those kernels are tested here too. */
const gpuTuning = (): Tuning => chooseTuning({ ...rt().info, isSoftware: false });

function keptShape(shape: number[], axes: number[] | undefined, keepDims: boolean): number[] {
  const ax = normAxes(shape, axes);
  const kept = shape.map((d, i) => (ax.includes(i) ? 1 : d));
  if (keepDims) return kept;
  const out = shape.filter((_, i) => !ax.includes(i));
  return out.length ? out : [1];
}

/** Reductions long enough to be split into chunks, summed again in a second pass. */
async function checkLongReductions(): Promise<void> {
  const next = rng(freshSeed('reduce long'));
  const cases: [number[], number[] | undefined][] = [
    [[70001], undefined], // one long row
    [[2, 40000], [1]],
    [[40000, 3], [0]], // a short inner extent: strided reads
    [[5000, 40], [0]], // inner >= 32: one thread per output in both strategies
    [[3, 20000, 2], [0, 1]],
  ];
  for (const [shape, axes] of cases) {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = randomArray(n, next, 0, 1);
    const t = Tensor.fromData(x, shape);
    const what = `${JSON.stringify(shape)} axes ${JSON.stringify(axes)}`;
    expectClose(await sum(t, axes).data(), sumRef(x, shape, axes), 1e-4, `sum ${what}`);
    expectClose(await mean(t, axes).data(), sumRef(x, shape, axes, true), 1e-4, `mean ${what}`);
    t.release();
  }
}

describe('sum and mean forward', () => {
  const cases: [number[], number[] | undefined][] = [
    [[3, 5, 7, 7], undefined],
    [[3, 5, 7, 7], [0]],
    [[3, 5, 7, 7], [1]],
    [[3, 5, 7, 7], [2, 3]],
    [[3, 5, 7, 7], [0, 2, 3]],
    [[3, 5, 7, 7], [1, 3]],
    [[3, 5, 7, 7], [-1]],
    [[3, 5, 7, 7], [3, 0]],
    [[3, 1, 7, 5], [0, 2]],
    [[3, 5, 33, 33], [0, 2, 3]],
    [[3, 5, 33, 33], [2, 3]],
    [[7], [0]],
    [[1], undefined],
  ];
  it('matches the CPU on awkward shapes and axes', async () => {
    const next = rng(freshSeed('reduce forward'));
    for (const [shape, axes] of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      // Biased positive so a sum of hundreds of terms does not cancel to float32 round-off.
      const x = randomArray(n, next, -0.5, 1);
      const t = Tensor.fromData(x, shape);
      for (const keepDims of [false, true]) {
        const s = sum(t, axes, keepDims);
        const m = mean(t, axes, keepDims);
        expect(s.shape).toEqual(keptShape(shape, axes, keepDims));
        expect(m.shape).toEqual(s.shape);
        const what = `${JSON.stringify(shape)} axes ${JSON.stringify(axes)} keepDims ${keepDims}`;
        expectClose(await s.data(), sumRef(x, shape, axes), 1e-4, `sum ${what}`);
        expectClose(await m.data(), sumRef(x, shape, axes, true), 1e-4, `mean ${what}`);
        s.release();
        m.release();
      }
      t.release();
    }
  });

  // Both strategies on this adapter: rows by single threads (llvmpipe's) and by workgroups (GPUs').
  it('long reductions are split into chunks and summed again', () => withTuning(() => ({}), checkLongReductions));
  it("long reductions with a GPU's tuning (workgroup per row, 256 threads)", () => withTuning(gpuTuning, checkLongReductions));

  it('axes of size 1 and an empty axis list', async () => {
    const x = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const t = Tensor.fromData(x, [2, 1, 3]);
    expectClose(await sum(t, [1]).data(), x, 1e-6, 'size-1 axis');
    expect(sum(t, [1]).shape).toEqual([2, 3]);
    expectClose(await mean(t, []).data(), x, 1e-6, 'no axes');
  });
});

describe('sum and mean backward', () => {
  it('the reference backward matches finite differences', () => {
    const next = rng(freshSeed('reduce fd'));
    const shape = [2, 3, 4];
    for (const axes of [[0, 2], [1], undefined]) {
      for (const isMean of [false, true]) {
        const x = Float64Array.from(randomArray(24, next));
        const outSize = sumRef(x, shape, axes).length;
        const g = Float64Array.from(randomArray(outSize, next));
        const f = (v: Float64Array) => sumRef(v, shape, axes, isMean).reduce((a, y, i) => a + y * g[i], 0);
        const fd = finiteDifference(f, x);
        expectClose(sumBackwardRef(g, shape, axes, isMean), fd, 1e-6, `fd axes ${JSON.stringify(axes)} mean ${isMean}`);
      }
    }
  });

  it('gradients broadcast back to the input', async () => {
    const next = rng(freshSeed('reduce backward'));
    const cases: [number[], number[] | undefined][] = [
      [[3, 5, 7, 7], [0, 2, 3]],
      [[3, 5, 7, 7], [1, 3]],
      [[3, 5, 33, 33], [2, 3]],
      [[3, 5, 7, 7], undefined],
      [[40000, 3], [0]],
    ];
    for (const [shape, axes] of cases) {
      for (const isMean of [false, true]) {
        for (const keepDims of [false, true]) {
          const n = shape.reduce((a, b) => a * b, 1);
          const t = Tensor.fromData(randomArray(n, next), shape);
          t.requiresGrad = true;
          const y = isMean ? mean(t, axes, keepDims) : sum(t, axes, keepDims);
          const g = randomArray(y.size, next);
          backward(y, Tensor.fromData(g, y.shape));
          const what = `${isMean ? 'mean' : 'sum'} ${JSON.stringify(shape)} axes ${JSON.stringify(axes)} keepDims ${keepDims}`;
          expect(t.grad!.shape).toEqual(shape);
          expectClose(await t.grad!.data(), sumBackwardRef(g, shape, axes, isMean), 1e-5, what);
          t.grad!.release();
          t.release();
          y.release();
        }
      }
    }
  });
});

describe('reduce errors', () => {
  it('bad axes and dtypes throw errors naming the op and shape', () => {
    const t = Tensor.fromData(new Float32Array(6), [2, 3]);
    expect(() => sum(t, [2])).toThrow(/sum: axis 2 is out of range for input \[2, 3\]/);
    expect(() => mean(t, [-3])).toThrow(/mean: axis -3 is out of range for input \[2, 3\]/);
    expect(() => sum(t, [1, -1])).toThrow(/sum: axis -1 given twice for input \[2, 3\]/);
    const labels = Tensor.fromData([1, 2], [2], 'i32');
    expect(() => sum(labels)).toThrow(/sum: needs an f32 tensor, got i32 \[2\]/);
  });

  it('leaves no buffers behind', async () => {
    const t = Tensor.fromData(randomArray(70000, rng(1)), [70000]);
    await rt().sync();
    const before = rt().pool.liveBytes;
    const s = sum(t);
    s.release();
    const m = mean(t.view([7, 10000]), [1]);
    m.release();
    await rt().sync();
    expect(rt().pool.liveBytes).toBe(before);
  });
});
