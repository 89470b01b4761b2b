import { describe, it, expect } from 'vitest';
import { useGpu, rng, freshSeed, randomArray, expectClose, finiteDifference, dispatchCount } from './util.js';
import { Tensor } from '../src/tensor.js';
import { batchNorm2d, batchNorm2dForward, batchNorm2dBackward, withBatchGroups } from '../src/ops/batchnorm.js';
import { backward, noGrad } from '../src/autograd.js';
import { batchNormRef, batchNormBackwardRef, type BnRefOpts } from './reference/batchnorm.js';
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
const sizeOf = (s: number[]) => s.reduce((a, b) => a * b, 1);

interface Case {
  shape: number[];
  affine: boolean;
  training: boolean;
}

/** Inputs with a per-channel offset and scale, so the mean is far from 0 and the variance from 1. */
function inputs(shape: number[], next: () => number): Float32Array {
  const [N, C, H, W] = shape;
  const x = new Float32Array(sizeOf(shape));
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const offset = 3 * Math.sin(c + 1), spread = 0.5 + c / C;
      for (let q = 0; q < H * W; q++) x[(n * C + c) * H * W + q] = offset + spread * (2 * next() - 1);
    }
  }
  return x;
}

async function runCase(cs: Case, next: () => number): Promise<void> {
  const { shape, affine, training } = cs;
  const C = shape[1];
  const what = `${JSON.stringify(shape)} affine ${affine} training ${training}`;
  const x = inputs(shape, next);
  const w = affine ? randomArray(C, next, 0.5, 1.5) : null;
  const b = affine ? randomArray(C, next) : null;
  const rm = randomArray(C, next, -0.5, 0.5), rv = randomArray(C, next, 0.5, 2);
  const ref: BnRefOpts = { weight: w, bias: b, runningMean: rm, runningVar: rv, training, momentum: 0.1, eps: 1e-5 };
  const tx = Tensor.fromData(x, shape);
  tx.requiresGrad = true;
  const tw = w ? Tensor.fromData(w, [C]) : null;
  const tb = b ? Tensor.fromData(b, [C]) : null;
  if (tw) tw.requiresGrad = true;
  if (tb) tb.requiresGrad = true;
  const trm = Tensor.fromData(rm, [C]), trv = Tensor.fromData(rv, [C]);
  const y = batchNorm2d(tx, { weight: tw, bias: tb, runningMean: trm, runningVar: trv, training, momentum: 0.1, eps: 1e-5 });
  const want = batchNormRef(x, shape, ref);
  expectClose(await y.data(), want.out, 1e-4, `forward ${what}`);
  expectClose(await trm.data(), want.runningMean, 1e-5, `running mean ${what}`);
  expectClose(await trv.data(), want.runningVar, 1e-5, `running var ${what}`);
  const g = randomArray(y.size, next);
  backward(y, Tensor.fromData(g, shape));
  const grads = batchNormBackwardRef(g, x, shape, ref);
  expectClose(await tx.grad!.data(), grads.dx, 1e-4, `dx ${what}`);
  if (tw) expectClose(await tw.grad!.data(), grads.dweight, 1e-4, `dweight ${what}`);
  if (tb) expectClose(await tb.grad!.data(), grads.dbias, 1e-4, `dbias ${what}`);
  for (const t of [tx.grad!, tx, tw?.grad, tw, tb?.grad, tb, trm, trv, y]) t?.release();
}

describe('batchNorm2d', () => {
  it('training: forward, running statistics and backward match the CPU', async () => {
    const next = rng(freshSeed('batchnorm training'));
    for (const shape of [[3, 5, 7, 7], [3, 5, 33, 33], [4, 3, 1, 2], [64, 3, 17, 17]]) {
      for (const affine of [true, false]) await runCase({ shape, affine, training: true }, next);
    }
  });

  it("training and evaluation with a GPU's tuning (workgroup sums, a pixel per thread)", () =>
    withTuning(gpuTuning, async () => {
      const next = rng(freshSeed('batchnorm training gpu tuning'));
      // [64, 3, 17, 17]: 18496 values per channel, several chunks.
      for (const shape of [[3, 5, 7, 7], [4, 3, 1, 2], [64, 3, 17, 17]]) await runCase({ shape, affine: true, training: true }, next);
      await runCase({ shape: [3, 5, 7, 7], affine: false, training: false }, next);
      // Without affine parameters the backward starts from the output (partial sums mode 2).
      for (const shape of [[3, 5, 7, 7], [64, 3, 17, 17]]) await runCase({ shape, affine: false, training: true }, next);
    }));

  it('training and evaluation reading texture copies (CPU rasterisers; H*W % 4 == 0): 1, 2 or 4 texels per thread, partial sums in one or several runs per plane', async () => {
    const count = (name: string) => dispatchCount(rt(), (k) => k.startsWith(`${name}[`));
    const kernels = ['batchnorm_apply', 'batchnorm_apply_texture', 'batchnorm_partial_thread', 'batchnorm_partial_texture'];
    const cases = async (seed: string) => {
      const next = rng(freshSeed(seed));
      // Rows of 4 texels (4 per thread), 9 and 3 (1 per thread), 20 (4), 18 (2); [8, 3, 16, 16]
      // spans two texture rows of 1024 texels.
      for (const shape of [[3, 5, 4, 4], [2, 3, 6, 6], [3, 5, 2, 6], [5, 3, 8, 10], [3, 2, 6, 12], [8, 3, 16, 16]]) {
        for (const affine of [true, false]) await runCase({ shape, affine, training: true }, next);
      }
      await runCase({ shape: [3, 5, 4, 4], affine: true, training: false }, next);
      await runGroupedCase([6, 5, 4, 4], 3, next);
    };
    // The same cases from buffers, then from textures: each buffer dispatch has its texture twin.
    // Runs of 8 values: planes of 36 values are 5 runs (the last of 4).
    for (const reduceThreadChunk of [1024, 8]) {
      const used = async (texturedElementwise: Tuning['texturedElementwise'], seed: string) => {
        const before = kernels.map(count);
        await withTuning(() => ({ texturedElementwise, reduceByThreads: true, reduceThreadChunk }), () => cases(seed));
        return kernels.map((k, i) => count(k) - before[i]);
      };
      const [apply, , partial] = await used(null, `batchnorm buffers ${reduceThreadChunk}`);
      expect(apply).toBeGreaterThan(0);
      expect(partial).toBeGreaterThan(0);
      expect(await used({ minSize: 0 }, `batchnorm textures ${reduceThreadChunk}`)).toEqual([0, apply, 0, partial]);
    }
  });

  it('evaluation: running statistics normalise, the backward is a per-channel scale', async () => {
    const next = rng(freshSeed('batchnorm eval'));
    for (const shape of [[3, 5, 7, 7], [3, 5, 33, 33], [1, 3, 1, 1]]) {
      for (const affine of [true, false]) await runCase({ shape, affine, training: false }, next);
    }
  });

  it('the reference backward matches finite differences (training and evaluation)', () => {
    const next = rng(freshSeed('batchnorm fd'));
    const shape = [2, 3, 2, 3];
    const C = 3;
    for (const training of [true, false]) {
      const x = Float64Array.from(inputs(shape, next));
      const w = Float64Array.from(randomArray(C, next, 0.5, 1.5));
      const b = Float64Array.from(randomArray(C, next));
      const g = Float64Array.from(randomArray(x.length, next));
      const base = { runningMean: [0.1, -0.2, 0.3], runningVar: [0.5, 1.5, 2], training, momentum: 0.1, eps: 1e-5 };
      const at = (xv: ArrayLike<number>, wv: ArrayLike<number>, bv: ArrayLike<number>) =>
        batchNormRef(xv, shape, { ...base, weight: wv, bias: bv }).out.reduce((a, y, i) => a + y * g[i], 0);
      const ref = batchNormBackwardRef(g, x, shape, { ...base, weight: w, bias: b });
      expectClose(ref.dx, finiteDifference((v) => at(v, w, b), x), 1e-5, `fd dx training ${training}`);
      expectClose(ref.dweight, finiteDifference((v) => at(x, v, b), w), 1e-5, `fd dweight training ${training}`);
      expectClose(ref.dbias, finiteDifference((v) => at(x, w, v), b), 1e-5, `fd dbias training ${training}`);
    }
  });

  it('raw backward returns only the gradients asked for', async () => {
    const next = rng(freshSeed('batchnorm raw'));
    const shape = [3, 5, 7, 7];
    const x = inputs(shape, next);
    const tx = Tensor.fromData(x, shape);
    const trm = Tensor.fromData(new Float32Array(5), [5]), trv = Tensor.fromData(new Float32Array(5).fill(1), [5]);
    const { saved } = batchNorm2dForward(tx, { runningMean: trm, runningVar: trv, training: true });
    const g = randomArray(x.length, next);
    const r = batchNorm2dBackward(Tensor.fromData(g, shape), tx, saved, null, { x: true, weight: false, bias: true });
    expect(r.dweight).toBeNull();
    const ref = batchNormBackwardRef(g, x, shape, { weight: null, bias: null, runningMean: [0, 0, 0, 0, 0], runningVar: [1, 1, 1, 1, 1], training: true, momentum: 0.1, eps: 1e-5 });
    expectClose(await r.dx!.data(), ref.dx, 1e-4, 'dx');
    expectClose(await r.dbias!.data(), ref.dbias, 1e-4, 'dbias');
  });
});

/** G batch groups: each slice of N / G images against the CPU reference run on that slice alone. */
async function runGroupedCase(shape: number[], G: number, next: () => number): Promise<void> {
  const [N, C, H, W] = shape;
  const what = `${JSON.stringify(shape)} in ${G} groups`;
  const x = inputs(shape, next);
  const w = randomArray(C, next, 0.5, 1.5), b = randomArray(C, next);
  const rm = randomArray(C, next, -0.5, 0.5), rv = randomArray(C, next, 0.5, 2);
  const trm = Tensor.fromData(rm, [C]), trv = Tensor.fromData(rv, [C]);
  const y = noGrad(() => withBatchGroups(G, () => batchNorm2d(Tensor.fromData(x, shape), {
    weight: Tensor.fromData(w, [C]), bias: Tensor.fromData(b, [C]), runningMean: trm, runningVar: trv, training: true,
  })));
  const got = (await y.data()) as Float32Array;
  const slice = (N / G) * C * H * W;
  for (let g = 0; g < G; g++) {
    const part = x.slice(g * slice, (g + 1) * slice);
    const want = batchNormRef(part, [N / G, C, H, W], { weight: w, bias: b, runningMean: rm, runningVar: rv, training: true, momentum: 0.1, eps: 1e-5 });
    expectClose(got.slice(g * slice, (g + 1) * slice), want.out, 1e-4, `group ${g} of ${what}`);
  }
  // A group's statistics are not the batch's: the running statistics stay as they were.
  expect(Array.from(await trm.data())).toEqual(Array.from(rm));
  expect(Array.from(await trv.data())).toEqual(Array.from(rv));
  y.release();
}

describe('batchNorm2d in batch groups (candidates scored side by side)', () => {
  it('normalises each group by its own statistics, with both tunings', async () => {
    const next = rng(freshSeed('batchnorm groups'));
    const cases: [number[], number][] = [[[6, 5, 7, 7], 3], [[10, 3, 5, 3], 5], [[4, 7, 1, 2], 2], [[6, 3, 17, 17], 2]];
    for (const [shape, G] of cases) await runGroupedCase(shape, G, next);
    await withTuning(gpuTuning, async () => {
      for (const [shape, G] of cases) await runGroupedCase(shape, G, next);
    });
  });

  it('rejects a batch that does not split, and gradients', () => {
    const rm = Tensor.fromData(new Float32Array(3), [3]), rv = Tensor.fromData(new Float32Array(3).fill(1), [3]);
    const x = Tensor.fromData(new Float32Array(5 * 3 * 4), [5, 3, 2, 2]);
    expect(() => noGrad(() => withBatchGroups(2, () => batchNorm2d(x, { runningMean: rm, runningVar: rv, training: true }))))
      .toThrow(/batchNorm2d: input \[5, 3, 2, 2\] does not split into 2 batch groups/);
    const xg = Tensor.fromData(new Float32Array(4 * 3 * 4), [4, 3, 2, 2]);
    xg.requiresGrad = true;
    expect(() => withBatchGroups(2, () => batchNorm2d(xg, { runningMean: rm, runningVar: rv, training: true })))
      .toThrow(/batchNorm2d: batch groups \(2\) are forward only/);
  });
});

describe('batchNorm2d errors and memory', () => {
  it('bad input throws errors naming the op and shapes', () => {
    const rm = Tensor.fromData(new Float32Array(3), [3]), rv = Tensor.fromData(new Float32Array(3).fill(1), [3]);
    const x3 = Tensor.fromData(new Float32Array(12), [2, 3, 2]);
    expect(() => batchNorm2d(x3, { runningMean: rm, runningVar: rv, training: true })).toThrow(/batchNorm2d: input \[2, 3, 2\] must be \[N, C, H, W\]/);
    const x = Tensor.fromData(new Float32Array(24), [2, 3, 2, 2]);
    const w4 = Tensor.fromData(new Float32Array(4), [4]);
    expect(() => batchNorm2d(x, { weight: w4, runningMean: rm, runningVar: rv, training: true })).toThrow(/batchNorm2d: weight \[4\] \(f32\) must be f32 \[3\] for input \[2, 3, 2, 2\]/);
    const rmi = Tensor.fromData(new Int32Array(3), [3], 'i32');
    expect(() => batchNorm2d(x, { runningMean: rmi, runningVar: rv, training: false })).toThrow(/batchNorm2d: runningMean \[3\] \(i32\) must be f32 \[3\]/);
    const xi = Tensor.fromData(new Int32Array(24), [2, 3, 2, 2], 'i32');
    expect(() => batchNorm2d(xi, { runningMean: rm, runningVar: rv, training: true })).toThrow(/batchNorm2d: needs an f32 input, got i32 \[2, 3, 2, 2\]/);
    const x1 = Tensor.fromData(new Float32Array(3), [1, 3, 1, 1]);
    expect(() => batchNorm2d(x1, { runningMean: rm, runningVar: rv, training: true })).toThrow(/batchNorm2d: training needs more than one value per channel, got input \[1, 3, 1, 1\]/);
  });

  it('without gradients nothing is kept', async () => {
    const shape = [3, 5, 7, 7];
    const x = Tensor.fromData(inputs(shape, rng(5)), shape);
    const rm = Tensor.fromData(new Float32Array(5), [5]), rv = Tensor.fromData(new Float32Array(5).fill(1), [5]);
    await rt().sync();
    const before = rt().pool.liveBytes;
    for (const training of [true, false]) batchNorm2d(x, { runningMean: rm, runningVar: rv, training }).release();
    expect(rt().pool.liveBytes).toBe(before);
  });
});
