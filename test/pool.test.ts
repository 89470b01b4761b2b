import { describe, it, expect } from 'vitest';
import { useGpu, rng, freshSeed, randomArray, expectClose, finiteDifference } from './util.js';
import { Tensor } from '../src/tensor.js';
import { maxPool2d, avgPool2d, globalAvgPool, maxPool2dForward, maxPool2dBackward } from '../src/ops/pool.js';
import { backward } from '../src/autograd.js';
import {
  maxPoolRef, maxPoolBackwardRef, avgPoolRef, avgPoolBackwardRef, globalAvgPoolRef, globalAvgPoolBackwardRef, outSize,
  type PoolRefOpts,
} from './reference/pool.js';
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

/** Distinct values in [-1, 1) (a shuffled ramp): no ties, so the max is unambiguous. */
function distinct(n: number, next: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (2 * i) / n - 1;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

const SHAPES = [[3, 5, 7, 7], [3, 5, 33, 33], [2, 3, 8, 9]];
const CONFIGS: PoolRefOpts[] = [
  { k: 3, s: 1, p: 1 },
  { k: 3, s: 2, p: 1 },
  { k: 2, s: 2, p: 0 },
  { k: 3, s: 2, p: 0 },
  { k: 5, s: 2, p: 2 },
  { k: 1, s: 1, p: 0 },
];
const sizeOf = (s: number[]) => s.reduce((a, b) => a * b, 1);
const desc = (shape: number[], o: PoolRefOpts) => `${JSON.stringify(shape)} k${o.k} s${o.s} p${o.p}${o.countIncludePad ? ' countPad' : ''}`;

/** Max pooling forward and backward against the CPU at every shape and config. */
async function checkMaxPool(): Promise<void> {
  const next = rng(freshSeed('maxpool'));
  for (const shape of SHAPES) {
    for (const o of CONFIGS) {
      const x = distinct(sizeOf(shape), next);
      const t = Tensor.fromData(x, shape);
      t.requiresGrad = true;
      const y = maxPool2d(t, { kernel: o.k, stride: o.s, padding: o.p });
      const [N, C, H, W] = shape;
      expect(y.shape).toEqual([N, C, outSize(H, o), outSize(W, o)]);
      expectClose(await y.data(), maxPoolRef(x, shape, o).out, 1e-6, `forward ${desc(shape, o)}`);
      const g = randomArray(y.size, next);
      backward(y, Tensor.fromData(g, y.shape));
      expectClose(await t.grad!.data(), maxPoolBackwardRef(g, x, shape, o), 1e-5, `backward ${desc(shape, o)}`);
      t.grad!.release();
      t.release();
      y.release();
    }
  }
}

/** Average pooling forward and backward against the CPU, counting padding or not. */
async function checkAvgPool(): Promise<void> {
  const next = rng(freshSeed('avgpool'));
  for (const shape of SHAPES) {
    for (const base of CONFIGS) {
      for (const countIncludePad of [false, true]) {
        if (countIncludePad && base.p === 0) continue;
        const o = { ...base, countIncludePad };
        const x = randomArray(sizeOf(shape), next);
        const t = Tensor.fromData(x, shape);
        t.requiresGrad = true;
        const y = avgPool2d(t, { kernel: o.k, stride: o.s, padding: o.p, countIncludePad });
        expectClose(await y.data(), avgPoolRef(x, shape, o), 1e-5, `forward ${desc(shape, o)}`);
        const g = randomArray(y.size, next);
        backward(y, Tensor.fromData(g, y.shape));
        expectClose(await t.grad!.data(), avgPoolBackwardRef(g, shape, o), 1e-5, `backward ${desc(shape, o)}`);
        t.grad!.release();
        t.release();
        y.release();
      }
    }
  }
}

describe('maxPool2d', () => {
  it('forward and backward match the CPU (stride 1 and 2, odd sizes)', () => withTuning(() => ({}), checkMaxPool));
  it("the same with a GPU's tuning (a pixel per thread)", () => withTuning(gpuTuning, checkMaxPool));
  it('the same with 3 pixels per thread (runs cross rows and planes)', () => withTuning(() => ({ pixelsPerThread: 3 }), checkMaxPool));

  it('the forward without argmax (separable at 3x3 stride 1) matches the CPU, with 1 to 8 pixels per thread', async () => {
    const next = rng(freshSeed('maxpool no argmax'));
    for (const per of [1, 3, 4, 8]) {
      await withTuning(() => ({ pixelsPerThread: per }), async () => {
        for (const shape of [...SHAPES, [2, 3, 1, 1], [1, 2, 2, 9], [2, 1, 9, 2]]) {
          for (const o of [{ k: 3, s: 1, p: 1 }, { k: 3, s: 1, p: 0 }, { k: 3, s: 2, p: 1 }]) {
            if (shape[2] + 2 * o.p < 3 || shape[3] + 2 * o.p < 3) continue;
            const x = randomArray(sizeOf(shape), next, -2, -1); // all negative: padding must not win
            const { out, argmax } = maxPool2dForward(Tensor.fromData(x, shape), { kernel: o.k, stride: o.s, padding: o.p }, false);
            expect(argmax).toBeNull();
            expectClose(await out.data(), maxPoolRef(x, shape, o).out, 1e-6, `no argmax, ${per} per thread, ${desc(shape, o)}`);
            out.release();
          }
        }
      });
    }
  });

  it('padding never wins, even over negative inputs, and ties go to the first maximum', async () => {
    const next = rng(freshSeed('maxpool ties'));
    const shape = [3, 5, 7, 7];
    const n = sizeOf(shape);
    // All negative: a zero-padded max would return 0 at the borders.
    const neg = randomArray(n, next, -2, -1);
    const { out } = maxPool2dForward(Tensor.fromData(neg, shape), { kernel: 3, stride: 1, padding: 1 }, false);
    expectClose(await out.data(), maxPoolRef(neg, shape, { k: 3, s: 1, p: 1 }).out, 1e-6, 'negative');
    // Three levels only: many ties in every window.
    const tied = Float32Array.from({ length: n }, () => Math.floor(next() * 3));
    for (const o of [{ k: 3, s: 1, p: 1 }, { k: 3, s: 2, p: 1 }]) {
      const r = maxPool2dForward(Tensor.fromData(tied, shape), { kernel: o.k, stride: o.s, padding: o.p });
      expect(Array.from(await r.argmax!.data())).toEqual(Array.from(maxPoolRef(tied, shape, o).argmax));
      const g = randomArray(r.out.size, next);
      const dx = maxPool2dBackward(Tensor.fromData(g, r.out.shape), r.argmax!, r.geo);
      expectClose(await dx.data(), maxPoolBackwardRef(g, tied, shape, o), 1e-6, `ties ${desc(shape, o)}`);
    }
  });

  it('the reference backward matches finite differences', () => {
    const next = rng(freshSeed('maxpool fd'));
    const shape = [1, 2, 5, 5];
    for (const o of [{ k: 3, s: 1, p: 1 }, { k: 3, s: 2, p: 1 }]) {
      const x = Float64Array.from(distinct(sizeOf(shape), next));
      const g = Float64Array.from(randomArray(maxPoolRef(x, shape, o).out.length, next));
      // Distinct values 0.04 apart: a step of 1e-5 never changes a window's winner.
      const f = (v: Float64Array) => maxPoolRef(v, shape, o).out.reduce((a, y, i) => a + y * g[i], 0);
      expectClose(maxPoolBackwardRef(g, x, shape, o), finiteDifference(f, x), 1e-6, `fd ${desc(shape, o)}`);
    }
  });
});

describe('avgPool2d', () => {
  it('forward and backward match the CPU, with and without counting padding', () => withTuning(() => ({}), checkAvgPool));
  it("the same with a GPU's tuning (a pixel per thread)", () => withTuning(gpuTuning, checkAvgPool));
  it('the same with 3 pixels per thread (runs cross rows and planes)', () => withTuning(() => ({ pixelsPerThread: 3 }), checkAvgPool));

  it('the reference backward matches finite differences', () => {
    const next = rng(freshSeed('avgpool fd'));
    const shape = [1, 2, 5, 6];
    for (const o of [{ k: 3, s: 1, p: 1 }, { k: 3, s: 2, p: 1, countIncludePad: true }]) {
      const x = Float64Array.from(randomArray(sizeOf(shape), next));
      const g = Float64Array.from(randomArray(avgPoolRef(x, shape, o).length, next));
      const f = (v: Float64Array) => avgPoolRef(v, shape, o).reduce((a, y, i) => a + y * g[i], 0);
      expectClose(avgPoolBackwardRef(g, shape, o), finiteDifference(f, x), 1e-6, `fd ${desc(shape, o)}`);
    }
  });
});

describe('globalAvgPool', () => {
  it('forward and backward match the CPU', async () => {
    const next = rng(freshSeed('global avg pool'));
    for (const shape of [[3, 5, 7, 7], [3, 5, 33, 33], [2, 3, 1, 1]]) {
      const x = randomArray(sizeOf(shape), next);
      const t = Tensor.fromData(x, shape);
      t.requiresGrad = true;
      const y = globalAvgPool(t);
      expect(y.shape).toEqual([shape[0], shape[1]]);
      expectClose(await y.data(), globalAvgPoolRef(x, shape), 1e-5, `forward ${JSON.stringify(shape)}`);
      const g = randomArray(y.size, next);
      backward(y, Tensor.fromData(g, y.shape));
      expectClose(await t.grad!.data(), globalAvgPoolBackwardRef(g, shape), 1e-5, `backward ${JSON.stringify(shape)}`);
    }
  });

  it('the reference backward matches finite differences', () => {
    const next = rng(freshSeed('global avg pool fd'));
    const shape = [2, 3, 3, 4];
    const x = Float64Array.from(randomArray(sizeOf(shape), next));
    const g = Float64Array.from(randomArray(6, next));
    const f = (v: Float64Array) => globalAvgPoolRef(v, shape).reduce((a, y, i) => a + y * g[i], 0);
    expectClose(globalAvgPoolBackwardRef(g, shape), finiteDifference(f, x), 1e-6, 'fd');
  });
});

describe('pool errors', () => {
  it('bad input throws errors naming the op and shapes', () => {
    const x3 = Tensor.fromData(new Float32Array(12), [3, 2, 2]);
    expect(() => maxPool2d(x3)).toThrow(/maxPool2d: input \[3, 2, 2\] must be \[N, C, H, W\]/);
    expect(() => avgPool2d(x3)).toThrow(/avgPool2d: input \[3, 2, 2\] must be \[N, C, H, W\]/);
    expect(() => globalAvgPool(x3)).toThrow(/globalAvgPool: input \[3, 2, 2\] must be \[N, C, H, W\]/);
    const xi = Tensor.fromData(new Int32Array(16), [1, 1, 4, 4], 'i32');
    expect(() => maxPool2d(xi)).toThrow(/maxPool2d: needs an f32 input, got i32 \[1, 1, 4, 4\]/);
    const x = Tensor.fromData(new Float32Array(16), [1, 1, 4, 4]);
    expect(() => maxPool2d(x, { kernel: 3, padding: 2 })).toThrow(/maxPool2d: kernel \[3, 3\].*padding must be at most half the kernel/);
    expect(() => avgPool2d(x, { kernel: 7, padding: 0 })).toThrow(/avgPool2d: input \[1, 1, 4, 4\] is smaller than the window/);
    expect(() => maxPool2d(x, { stride: 0 })).toThrow(/maxPool2d: .*stride must be positive integers/);
  });

  it('no gradient needed: no argmax kept, nothing leaks', async () => {
    const x = Tensor.fromData(randomArray(3 * 5 * 7 * 7, rng(3)), [3, 5, 7, 7]);
    await rt().sync();
    const before = rt().pool.liveBytes;
    const y = maxPool2d(x, { stride: 2 });
    y.release();
    const z = globalAvgPool(x);
    z.release();
    expect(rt().pool.liveBytes).toBe(before);
  });
});
