import { describe, it, expect } from 'vitest';
import { useGpu, rng, freshSeed, randomArray, expectClose, finiteDifference } from './util.js';
import { Tensor, scope } from '../src/tensor.js';
import { backward, noGrad } from '../src/autograd.js';
import { weightedSum, weightedSumBackward, dotProducts } from '../src/ops/mixed.js';
import { concat, slice } from '../src/ops/concat.js';
import { dropPath } from '../src/ops/droppath.js';
import { Generator } from '../src/ops/random.js';
import { weightedSumRef, weightedSumBackwardRef, concatRef, sliceRef, sliceBackwardRef, dropPathRef } from './reference/mixed.js';
import { philoxWords, wordToUnit } from './reference/philox.js';

const rt = useGpu();
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

describe('weightedSum (MixedOp)', () => {
  it('the reference backward matches finite differences in float64', () => {
    const next = rng(freshSeed('weightedSum fd'));
    const N = 3, n = 5;
    const R = Float64Array.from(randomArray(n, next));
    const packed = Float64Array.from(randomArray(N * n + N, next));
    const unpack = (v: Float64Array) => ({
      xs: Array.from({ length: N }, (_, k) => v.subarray(k * n, (k + 1) * n)),
      w: v.subarray(N * n),
    });
    const f = (v: Float64Array) => {
      const { xs, w } = unpack(v);
      return weightedSumRef(xs, w).reduce((s, y, i) => s + y * R[i], 0);
    };
    const { xs, w } = unpack(packed);
    const { dxs, dw } = weightedSumBackwardRef(R, xs, w);
    const analytic = Float64Array.from([...dxs.flatMap((d) => Array.from(d)), ...dw]);
    expectClose(analytic, finiteDifference(f, packed), 1e-7, 'weightedSum reference');
  });

  for (const [N, shape] of [[22, [3, 5, 7, 7]], [8, [2, 3, 33, 33]], [9, [1031]], [1, [3, 5]], [10, [2, 3, 6, 6]], [17, [4]]] as [number, number[]][]) {
    it(`${N} inputs of ${JSON.stringify(shape)}: forward and gradients match the reference`, async () => {
      const next = rng(freshSeed(`weightedSum ${N}`));
      const n = size(shape);
      const xsData = Array.from({ length: N }, () => randomArray(n, next));
      const wData = randomArray(N, next, 0, 1);
      const R = randomArray(n, next);
      const xs = xsData.map((d) => Tensor.fromData(d, shape));
      const w = Tensor.fromData(wData, [N]);
      xs.forEach((x) => (x.requiresGrad = true));
      w.requiresGrad = true;
      const out = weightedSum(xs, w);
      expectClose(await out.data(), weightedSumRef(xsData, wData), 1e-5, 'forward');
      backward(out, Tensor.fromData(R, shape));
      const want = weightedSumBackwardRef(R, xsData, wData);
      for (let k = 0; k < N; k++) expectClose(await xs[k].grad!.data(), want.dxs[k], 1e-6, `dx${k}`);
      // dweights[k] = sum_i R_i x_k,i may cancel to far below its terms (N = 1 has no other
      // entry to set the scale), so its float32 error is judged against sum_i |R_i x_k,i|.
      const dw = await w.grad!.data();
      const termScale = Math.max(...xsData.map((x) => x.reduce((s, v, i) => s + Math.abs(v * R[i]), 0)));
      const dwError = Math.max(...want.dw.map((v, k) => Math.abs(dw[k] - v)));
      expect(dwError / termScale, 'dweights').toBeLessThan(1e-5);
    });
  }

  // Batch groups: G candidates scored side by side, group g (a slice of the batch) mixed by row g.
  for (const [N, G, shape] of [[9, 3, [6, 5, 7, 7]], [22, 4, [8, 3, 5, 5]], [7, 5, [5, 2, 2, 2]], [3, 2, [2, 3]]] as [number, number, number[]][]) {
    it(`${N} inputs of ${JSON.stringify(shape)} in ${G} batch groups: each group mixed by its own weights`, async () => {
      const next = rng(freshSeed(`weightedSum groups ${N}x${G}`));
      const n = size(shape), per = n / G;
      const xsData = Array.from({ length: N }, () => randomArray(n, next));
      const wData = randomArray(G * N, next, 0, 1);
      const out = noGrad(() => weightedSum(xsData.map((d) => Tensor.fromData(d, shape)), Tensor.fromData(wData, [G, N])));
      const got = (await out.data()) as Float32Array;
      for (let g = 0; g < G; g++) {
        const want = weightedSumRef(xsData.map((d) => d.subarray(g * per, (g + 1) * per)), wData.subarray(g * N, (g + 1) * N));
        expectClose(got.subarray(g * per, (g + 1) * per), want, 1e-5, `group ${g}`);
      }
    });
  }

  it('only the gradients asked for are computed; dotProducts of a long vector', async () => {
    const next = rng(freshSeed('weightedSum partial'));
    const n = 100_003;
    const a = randomArray(n, next), b = randomArray(n, next), c = randomArray(n, next);
    const ta = Tensor.fromData(a, [n]), tb = Tensor.fromData(b, [n]), tc = Tensor.fromData(c, [n]);
    const dots = await dotProducts(ta, [tb, tc, ta]).data();
    const dot = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i], 0);
    expectClose(dots, [dot(a, b), dot(a, c), dot(a, a)], 1e-5, 'dotProducts');
    const w = Tensor.fromData([0.25, 0.75], [2]);
    const { dxs, dweights } = weightedSumBackward(ta, [tb, tc], w, { inputs: [false, true], weights: false });
    expect(dxs[0]).toBeNull();
    expect(dweights).toBeNull();
    expectClose(await dxs[1]!.data(), Array.from(a, (v) => 0.75 * v), 1e-6, 'dx1');
    // The vec4 path (length a multiple of 4) with every other input's gradient wanted.
    const m = 4 * 37;
    const g = randomArray(m, next);
    const xs = Array.from({ length: 11 }, () => Tensor.fromData(randomArray(m, next), [m]));
    const wd = randomArray(11, next);
    const want = xs.map((_, k) => k % 2 === 1);
    const r = weightedSumBackward(Tensor.fromData(g, [m]), xs, Tensor.fromData(wd, [11]), { inputs: want });
    for (let k = 0; k < 11; k++) {
      if (!want[k]) expect(r.dxs[k]).toBeNull();
      else expectClose(await r.dxs[k]!.data(), Array.from(g, (v) => wd[k] * v), 1e-6, `dx${k}`);
    }
  });

  it('bad shapes throw errors naming the op and the shapes', () => {
    const a = Tensor.empty([3, 5, 7, 7]), b = Tensor.empty([3, 5, 7, 6]);
    expect(() => weightedSum([a, b], Tensor.empty([2]))).toThrow(/weightedSum: input 1 has shape \[3, 5, 7, 6\] but input 0 has \[3, 5, 7, 7\]/);
    expect(() => weightedSum([a, a], Tensor.empty([3]))).toThrow(/weightedSum: weights \[3\] must be \[2\]/);
    expect(() => weightedSum([], Tensor.empty([0]))).toThrow(/weightedSum: needs at least one input/);
    expect(() => noGrad(() => weightedSum([a, a], Tensor.empty([2, 2])))).toThrow(/weightedSum: inputs \[3, 5, 7, 7\] do not split into 2 batch groups/);
    const w = Tensor.empty([3, 2]);
    w.requiresGrad = true;
    expect(() => weightedSum([a, a], w)).toThrow(/weightedSum: weights in batch groups \[3, 2\] are forward only/);
  });
});

describe('concat and slice', () => {
  it('the references are each other\'s gradient (finite differences in float64)', () => {
    const next = rng(freshSeed('concat fd'));
    const shapes = [[2, 2, 3], [2, 1, 3]];
    const R = Float64Array.from(randomArray(18, next));
    const x = Float64Array.from(randomArray(18, next));
    const f = (v: Float64Array) => concatRef([v.subarray(0, 12), v.subarray(12)], shapes, 1).data.reduce((s, y, i) => s + y * R[i], 0);
    const analytic = Float64Array.from([...sliceRef(R, [2, 3, 3], 1, 0, 2), ...sliceRef(R, [2, 3, 3], 1, 2, 3)]);
    expectClose(analytic, finiteDifference(f, x), 1e-7, 'concat reference');
    const G = Float64Array.from(randomArray(6, next));
    const fs = (v: Float64Array) => sliceRef(v, [2, 3, 3], 1, 1, 2).reduce((s, y, i) => s + y * G[i], 0);
    expectClose(sliceBackwardRef(G, [2, 3, 3], 1, 1, 2), finiteDifference(fs, x), 1e-7, 'slice reference');
  });

  const cases: [number[][], number][] = [
    [[[3, 5, 7, 7], [3, 2, 7, 7], [3, 1, 7, 7]], 1],
    [[[1, 4, 33], [2, 4, 33]], 0],
    [[[3, 5, 7], [3, 5, 1], [3, 5, 2], [3, 5, 7]], -1],
    [[[5, 3]], 1],
  ];
  for (const [shapes, axis] of cases) {
    it(`concat of ${JSON.stringify(shapes)} on axis ${axis}, with gradients`, async () => {
      const next = rng(freshSeed('concat'));
      const a = axis < 0 ? axis + shapes[0].length : axis;
      const data = shapes.map((s) => randomArray(size(s), next));
      const xs = data.map((d, k) => Tensor.fromData(d, shapes[k]));
      xs.forEach((x, k) => (x.requiresGrad = k !== 1));
      const out = concat(xs, axis);
      const want = concatRef(data, shapes, a);
      expect(out.shape).toEqual(want.shape);
      expect(Array.from(await out.data())).toEqual(Array.from(want.data, Math.fround));
      const R = randomArray(out.size, next);
      backward(out, Tensor.fromData(R, out.shape));
      let offset = 0;
      for (let k = 0; k < xs.length; k++) {
        const d = shapes[k][a];
        if (k === 1) expect(xs[k].grad).toBeNull();
        else expect(Array.from(await xs[k].grad!.data())).toEqual(Array.from(sliceRef(R, want.shape, a, offset, offset + d), Math.fround));
        offset += d;
      }
    });
  }

  it('slice at awkward places, with its gradient; an empty slice', async () => {
    const next = rng(freshSeed('slice'));
    for (const [shape, axis, start, end] of [[[3, 7, 5, 5], 1, 2, 5], [[7, 3], 0, 6, 7], [[3, 33, 33], 2, 1, 32], [[4, 9], 1, 3, 3]] as [number[], number, number, number][]) {
      const d = randomArray(size(shape), next);
      const x = Tensor.fromData(d, shape);
      x.requiresGrad = true;
      const y = slice(x, axis, start, end);
      expect(Array.from(await y.data())).toEqual(Array.from(sliceRef(d, shape, axis, start, end), Math.fround));
      const G = randomArray(y.size, next);
      const y2 = slice(x, axis, start, end);
      backward(y2, Tensor.fromData(G, y.shape));
      expect(Array.from(await x.grad!.data())).toEqual(Array.from(sliceBackwardRef(G, shape, axis, start, end), Math.fround));
    }
  });

  it('bad shapes and ranges throw errors naming the op and shapes', () => {
    const a = Tensor.empty([3, 5, 7, 7]), b = Tensor.empty([3, 2, 6, 7]);
    expect(() => concat([a, b], 1)).toThrow(/concat: input 1 has shape \[3, 2, 6, 7\] but input 0 has \[3, 5, 7, 7\]; all dimensions but axis 1 must match/);
    expect(() => concat([a], 4)).toThrow(/concat: axis 4 is out of range for \[3, 5, 7, 7\]/);
    expect(() => slice(a, 1, 3, 6)).toThrow(/slice: range \[3, 6\) is not within 0\.\.5 on axis 1 of \[3, 5, 7, 7\]/);
  });
});

describe('dropPath', () => {
  it('keeps whole samples with probability 1 - p, scaled by 1 / keep; same mask in backward', async () => {
    const seed = freshSeed('dropPath');
    const next = rng(seed);
    for (const shape of [[5, 3, 7, 7], [64, 3, 5]]) {
      const gen = new Generator(seed);
      gen.setState({ seed, counter: 8 });
      const p = 0.4;
      const d = randomArray(size(shape), next);
      const x = Tensor.fromData(d, shape);
      x.requiresGrad = true;
      const y = dropPath(x, p, gen);
      expect(gen.state().counter).toBe(8 + Math.ceil(shape[0] / 4) * 4);
      const words = philoxWords(seed, 8, shape[0]);
      const mask = Array.from(words, (w) => (wordToUnit(w) < Math.fround(1 - p) ? Math.fround(1 / (1 - p)) : 0));
      expectClose(await y.data(), dropPathRef(d, mask), 1e-6, 'forward');
      const R = randomArray(size(shape), next);
      backward(y, Tensor.fromData(R, shape));
      expectClose(await x.grad!.data(), dropPathRef(R, mask), 1e-6, 'backward');
      // The reference backward by finite differences (the op is linear in x for a fixed mask).
      const small = Float64Array.from(d.subarray(0, 2 * (size(shape) / shape[0])));
      const m2 = mask.slice(0, 2);
      const f = (v: Float64Array) => dropPathRef(v, m2).reduce((s, yv, i) => s + yv * R[i], 0);
      expectClose(dropPathRef(R.subarray(0, small.length), m2), finiteDifference(f, small), 1e-7, 'reference');
    }
  });

  it('over many samples the kept fraction is near 1 - p; p = 0 returns x; bad p throws', async () => {
    const gen = new Generator(freshSeed('dropPath rate'));
    const x = Tensor.fromData(new Float32Array(4000).fill(1), [4000, 1]);
    const y = await dropPath(x, 0.3, gen).data();
    const kept = y.filter((v) => v !== 0);
    expect(Math.abs(kept.length / 4000 - 0.7)).toBeLessThan(0.04);
    expect(kept.every((v) => Math.abs(v - 1 / 0.7) < 1e-6)).toBe(true);
    expect(dropPath(x, 0, gen)).toBe(x);
    expect(() => dropPath(x, 1, gen)).toThrow(/dropPath: dropProb must be in \[0, 1\), got 1 for \[4000, 1\]/);
  });

  it('releases its mask when no gradient is needed (scopes bound memory)', () => {
    const x = Tensor.fromData(new Float32Array(12).fill(1), [3, 4]);
    const gen = new Generator(3);
    const before = rt().pool.liveBytes;
    scope(() => {
      dropPath(x, 0.5, gen);
    });
    expect(rt().pool.liveBytes).toBe(before);
  });
});
