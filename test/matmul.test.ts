import { describe, it, expect } from 'vitest';
import { useGpu, rng, freshSeed, randomArray, expectClose, finiteDifference, dispatchCount } from './util.js';
import { Tensor } from '../src/tensor.js';
import { backward, withExactGradients } from '../src/autograd.js';
import { chooseTuning, type Tuning } from '../src/gpu/tuning.js';
import {
  matmul, linear, linearBackwardInput, linearBackwardWeight, linearBackwardBias, columnSum,
} from '../src/ops/matmul.js';
import {
  matmulRef, matmulGradRef, linearRef, linearBackwardInputRef, linearBackwardWeightRef, columnSumRef,
} from './reference/matmul.js';

const rt = useGpu();

/** Runs fn with some tuning fields changed, so every tile shape and both kernel paths are tested. */
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

/** The tile shapes tuning.ts gives a hardware GPU (workgroup-memory tiles), run here on llvmpipe. */
const gpuTuning = () => {
  const t = chooseTuning({ ...rt().info, isSoftware: false });
  return { matmul: t.matmul, matmulSmall: t.matmulSmall, matmulLargeWork: t.matmulLargeWork, matmulTexture: t.matmulTexture };
};
/** Every problem takes the storage-buffer kernel with the large-problem tiles (on llvmpipe: 32x32 blocks per thread). */
const largeTiles = () => ({ matmulLargeWork: 0, matmulTexture: null });
/** Every problem takes the storage-buffer kernel (matmul.wgsl). */
const bufferPath = () => ({ matmulTexture: null });
/** Every problem, however small, goes through textures (matmul_texture.wgsl) with these tiles. */
const texturePath = (WG: number, TM: number, TN: number) => () => ({ matmulTexture: { WG, TM, TN, minWork: 0 } });

/** Dispatches of kernels whose label starts with `name` so far. */
const dispatched = (name: string) => dispatchCount(rt(), (k) => k.startsWith(name + '[') || k === name);

const combos: [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];
const label = (tA: boolean, tB: boolean) => `${tA ? 'A^T' : 'A'}${tB ? ' B^T' : ' B'}`;

/** op(A) op(B) for [M, K, N] against the CPU, for the given transpose flags. */
async function checkProduct(M: number, K: number, N: number, transA: boolean, transB: boolean, next: () => number): Promise<void> {
  const A = randomArray(M * K, next);
  const B = randomArray(K * N, next);
  const ta = Tensor.fromData(A, transA ? [K, M] : [M, K]);
  const tb = Tensor.fromData(B, transB ? [N, K] : [K, N]);
  const c = matmul(ta, tb, { transA, transB });
  expect(c.shape).toEqual([M, N]);
  expectClose(await c.data(), matmulRef(A, B, M, K, N, { transA, transB }), 1e-4, `${M}x${K}x${N} ${label(transA, transB)}`);
  for (const t of [ta, tb, c]) t.release();
}

describe('matmul forward', () => {
  // Odd sizes, sizes past a tile edge, a K tail, and multiples of 4 (vec4 loads) with edges.
  const sizes: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [33, 17, 65], [65, 129, 31], [36, 20, 44]];
  for (const [tA, tB] of combos) {
    it(`${label(tA, tB)} on awkward sizes, from storage buffers`, () =>
      withTuning(bufferPath, async () => {
        const next = rng(freshSeed(`matmul ${label(tA, tB)}`));
        for (const [M, K, N] of sizes) await checkProduct(M, K, N, tA, tB, next);
      }));
  }

  it('through textures (CPU rasterisers): awkward sizes, every layout, batches, shared operands, bias', async () => {
    const next = rng(freshSeed('matmul textures'));
    const before = dispatched('matmul_texture');
    // The default tiles, an odd row count with one column group, every column group (~10 s cold).
    for (const [WG, TM, TN] of [[8, 16, 16], [3, 5, 4], [2, 3, 32]]) {
      await withTuning(texturePath(WG, TM, TN), async () => {
        for (const [tA, tB] of combos) for (const [M, K, N] of sizes) await checkProduct(M, K, N, tA, tB, next);
        await checkBatched(3, 7, 9, 5, next);
        await checkLinear(33, 65, 17, next);
      });
    }
    expect(dispatched('matmul_texture')).toBeGreaterThanOrEqual(before + 3 * (4 * sizes.length + 3 * 4 + 4));
  });

  it('through textures: operands already in the texture layout are copied, not packed', async () => {
    const next = rng(freshSeed('matmul texture copies'));
    const packs = dispatched('matmul_pack');
    // K = 64 and N = 128: A [5, 64] and B [64, 128] rows are whole 256-byte runs of texels, so
    // untransposed operands (batched or shared) are copied; transposed ones are packed: 3 + 3 + 6
    // of the 4 layouts' 24 operands.
    await withTuning(texturePath(3, 5, 4), () => checkBatched(3, 5, 64, 128, next));
    expect(dispatched('matmul_pack') - packs).toBe(12);
  });

  it('through textures in batch chunks when a batch would exceed the texture size', async () => {
    const next = rng(freshSeed('matmul texture chunks'));
    const textures = rt().textures as { maxDimension: number };
    const saved = textures.maxDimension;
    const products = dispatched('matmul_texture');
    // B's 12 texture rows per batch (K = 9 padded to 12): chunks of 2 batches, then 1; with B
    // shared, A's 5 rows per batch fit all 3 batches.
    textures.maxDimension = 25;
    try {
      await withTuning(texturePath(3, 5, 4), () => checkBatched(3, 5, 9, 7, next));
    } finally {
      textures.maxDimension = saved;
    }
    // Per layout: batched (2 chunks), B shared (1), A shared (2).
    expect(dispatched('matmul_texture') - products).toBe(4 * 5);
  });

  // One layout only: on llvmpipe the 32x32 shader takes ~30 s to compile on a cold Mesa cache.
  // A^T with vec4 loads along M, vec4 loads of B, a K tail, and ragged 32-row/column edges.
  it("the large-problem tiles (32x32 per thread on llvmpipe) on ragged edges", () =>
    withTuning(largeTiles, async () => {
      const next = rng(freshSeed('matmul large tiles'));
      await checkProduct(72, 37, 76, true, false, next);
    }));

  it("a GPU's tuning (workgroup-memory tiles) gives the same results", () =>
    withTuning(gpuTuning, async () => {
      const next = rng(freshSeed('matmul gpu tuning'));
      for (const [tA, tB] of combos) await checkProduct(37, 21, 70, tA, tB, next);
      await checkLinear(9, 13, 6, next);
    }));

  it('batched: both operands batched, B shared, A shared', async () => {
    const next = rng(freshSeed('matmul batched'));
    await withTuning(bufferPath, () => checkBatched(3, 7, 9, 5, next));
  });

  it('empty dimensions give empty or zero results', async () => {
    const a = Tensor.fromData([], [0, 3]);
    const b = Tensor.fromData([1, 2, 3, 4, 5, 6], [3, 2]);
    expect(matmul(a, b).shape).toEqual([0, 2]);
    const z = matmul(Tensor.fromData([], [2, 0]), Tensor.fromData([], [0, 3]));
    expect(Array.from(await z.data())).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

/** Both operands batched, B shared by every batch, A shared by every batch: every layout. */
async function checkBatched(Z: number, M: number, K: number, N: number, next: () => number): Promise<void> {
    for (const [tA, tB] of combos) {
      const A = randomArray(Z * M * K, next);
      const B = randomArray(Z * K * N, next);
      const ta = Tensor.fromData(A, tA ? [Z, K, M] : [Z, M, K]);
      const tb = Tensor.fromData(B, tB ? [Z, N, K] : [Z, K, N]);
      const c = matmul(ta, tb, { transA: tA, transB: tB });
      expect(c.shape).toEqual([Z, M, N]);
      expectClose(await c.data(), matmulRef(A, B, M, K, N, { transA: tA, transB: tB, batch: Z }), 1e-4, `batched ${label(tA, tB)}`);
      // B shared by every batch.
      const tb2 = Tensor.fromData(B.subarray(0, K * N), tB ? [N, K] : [K, N]);
      const c2 = matmul(ta, tb2, { transA: tA, transB: tB });
      expectClose(await c2.data(), matmulRef(A, B, M, K, N, { transA: tA, transB: tB, batch: Z, sharedB: true }), 1e-4, `shared B ${label(tA, tB)}`);
      // A shared by every batch.
      const ta3 = Tensor.fromData(A.subarray(0, M * K), tA ? [K, M] : [M, K]);
      const c3 = matmul(ta3, tb, { transA: tA, transB: tB });
      expect(c3.shape).toEqual([Z, M, N]);
      expectClose(await c3.data(), matmulRef(A, B, M, K, N, { transA: tA, transB: tB, batch: Z, sharedA: true }), 1e-4, `shared A ${label(tA, tB)}`);
      for (const t of [ta, tb, c, tb2, c2, ta3, c3]) t.release();
    }
}

describe('matmul gradients', () => {
  it('dA and dB for every transpose combination, against the CPU and finite differences', async () => {
    const next = rng(freshSeed('matmul grad'));
    const [M, K, N] = [5, 6, 7];
    for (const [tA, tB] of combos) {
      const A = randomArray(M * K, next);
      const B = randomArray(K * N, next);
      const G = randomArray(M * N, next);
      const want = matmulGradRef(A, B, G, M, K, N, tA, tB);
      // The reference backward against finite differences of L = sum(op(A) op(B) * G).
      const loss = (a: ArrayLike<number>, b: ArrayLike<number>) =>
        matmulRef(a, b, M, K, N, { transA: tA, transB: tB }).reduce((s, c, i) => s + c * G[i], 0);
      const B64 = Float64Array.from(B);
      const A64 = Float64Array.from(A);
      expectClose(want.dA, finiteDifference((a) => loss(a, B64), Float64Array.from(A)), 1e-6, `reference dA ${label(tA, tB)}`);
      expectClose(want.dB, finiteDifference((b) => loss(A64, b), Float64Array.from(B)), 1e-6, `reference dB ${label(tA, tB)}`);

      const ta = Tensor.fromData(A, tA ? [K, M] : [M, K]);
      const tb = Tensor.fromData(B, tB ? [N, K] : [K, N]);
      ta.requiresGrad = tb.requiresGrad = true;
      const c = matmul(ta, tb, { transA: tA, transB: tB });
      backward(c, Tensor.fromData(G, [M, N]));
      expectClose(await ta.grad!.data(), want.dA, 1e-4, `dA ${label(tA, tB)}`);
      expectClose(await tb.grad!.data(), want.dB, 1e-4, `dB ${label(tA, tB)}`);
      for (const t of [ta, tb, c, ta.grad!, tb.grad!]) t.release();
    }
  });

  it('a shared operand gets the gradient summed over the batch', async () => {
    const next = rng(freshSeed('matmul batched grad'));
    const [Z, M, K, N] = [3, 4, 5, 6];
    for (const [tA, tB] of combos) {
      const A = randomArray(Z * M * K, next);
      const W = randomArray(K * N, next);
      const G = randomArray(Z * M * N, next);
      // x [Z, M, K] batched, W shared: dW = sum_z per-batch dW.
      const tx = Tensor.fromData(A, tA ? [Z, K, M] : [Z, M, K]);
      const tw = Tensor.fromData(W, tB ? [N, K] : [K, N]);
      tx.requiresGrad = tw.requiresGrad = true;
      const y = matmul(tx, tw, { transA: tA, transB: tB });
      backward(y, Tensor.fromData(G, [Z, M, N]));
      const dX = new Float64Array(Z * M * K);
      const dW = new Float64Array(K * N);
      for (let z = 0; z < Z; z++) {
        const g = matmulGradRef(A.subarray(z * M * K, (z + 1) * M * K), W, G.subarray(z * M * N, (z + 1) * M * N), M, K, N, tA, tB);
        dX.set(g.dA, z * M * K);
        g.dB.forEach((v, i) => (dW[i] += v));
      }
      expectClose(await tx.grad!.data(), dX, 1e-4, `batched dX ${label(tA, tB)}`);
      expectClose(await tw.grad!.data(), dW, 1e-4, `shared dW ${label(tA, tB)}`);

      // A shared, B batched.
      const ta = Tensor.fromData(A.subarray(0, M * K), tA ? [K, M] : [M, K]);
      const Bb = randomArray(Z * K * N, next);
      const tb = Tensor.fromData(Bb, tB ? [Z, N, K] : [Z, K, N]);
      ta.requiresGrad = true;
      const y2 = matmul(ta, tb, { transA: tA, transB: tB });
      backward(y2, Tensor.fromData(G, [Z, M, N]));
      const dA = new Float64Array(M * K);
      for (let z = 0; z < Z; z++) {
        const g = matmulGradRef(A.subarray(0, M * K), Bb.subarray(z * K * N, (z + 1) * K * N), G.subarray(z * M * N, (z + 1) * M * N), M, K, N, tA, tB);
        g.dA.forEach((v, i) => (dA[i] += v));
      }
      expectClose(await ta.grad!.data(), dA, 1e-4, `shared dA ${label(tA, tB)}`);
      for (const t of [tx, tw, y, ta, tb, y2, tx.grad!, tw.grad!, ta.grad!]) t.release();
    }
  });
});

/** linear forward (with bias) and the raw backward functions against the CPU. */
async function checkLinear(rows: number, inF: number, outF: number, next: () => number): Promise<void> {
  const x = randomArray(rows * inF, next);
  const W = randomArray(outF * inF, next);
  const b = randomArray(outF, next);
  const F = randomArray(outF * inF, next);
  const g = randomArray(rows * outF, next);
  const tx = Tensor.fromData(x, [rows, inF]), tW = Tensor.fromData(W, [outF, inF]), tb = Tensor.fromData(b, [outF]);
  const tF = Tensor.fromData(F, [outF, inF]), tg = Tensor.fromData(g, [rows, outF]);
  const what = `linear ${rows}x${inF}->${outF}`;
  const y = linear(tx, tW, tb);
  expect(y.shape).toEqual([rows, outF]);
  expectClose(await y.data(), linearRef(x, W, b, rows, inF, outF), 1e-4, `${what} forward`);
  const y0 = linear(tx, tW);
  expectClose(await y0.data(), linearRef(x, W, null, rows, inF, outF), 1e-4, `${what} forward without bias`);
  const dx = linearBackwardInput(tg, tF);
  expectClose(await dx.data(), linearBackwardInputRef(g, F, rows, inF, outF), 1e-4, `${what} dx (feedback)`);
  const dW = linearBackwardWeight(tg, tx);
  expectClose(await dW.data(), linearBackwardWeightRef(g, x, rows, inF, outF), 1e-4, `${what} dW`);
  const db = linearBackwardBias(tg);
  expectClose(await db.data(), columnSumRef(g, rows, outF), 1e-4, `${what} db`);
  for (const t of [tx, tW, tb, tF, tg, y, y0, dx, dW, db]) t.release();
}

describe('linear', () => {
  it('forward and the raw backward functions on awkward sizes', async () => {
    const next = rng(freshSeed('linear raw'));
    for (const [rows, inF, outF] of [[1, 1, 1], [9, 13, 6], [33, 65, 17], [64, 256, 10]] as const) await checkLinear(rows, inF, outF, next);
  });

  it('the reference backward matches finite differences; the GPU gradients match the reference', async () => {
    const next = rng(freshSeed('linear grad'));
    const [rows, inF, outF] = [7, 11, 5];
    const x = randomArray(rows * inF, next);
    const W = randomArray(outF * inF, next);
    const b = randomArray(outF, next);
    const G = randomArray(rows * outF, next);
    const L = (xv: ArrayLike<number>, wv: ArrayLike<number>, bv: ArrayLike<number>) =>
      linearRef(xv, wv, bv, rows, inF, outF).reduce((s, y, i) => s + y * G[i], 0);
    const x64 = Float64Array.from(x), W64 = Float64Array.from(W), b64 = Float64Array.from(b);
    const wantDx = linearBackwardInputRef(G, W, rows, inF, outF);
    const wantDW = linearBackwardWeightRef(G, x, rows, inF, outF);
    const wantDb = columnSumRef(G, rows, outF);
    expectClose(wantDx, finiteDifference((v) => L(v, W64, b64), Float64Array.from(x)), 1e-6, 'reference dx');
    expectClose(wantDW, finiteDifference((v) => L(x64, v, b64), Float64Array.from(W)), 1e-6, 'reference dW');
    expectClose(wantDb, finiteDifference((v) => L(x64, W64, v), Float64Array.from(b)), 1e-6, 'reference db');

    const tx = Tensor.fromData(x, [rows, inF]), tW = Tensor.fromData(W, [outF, inF]), tb = Tensor.fromData(b, [outF]);
    tx.requiresGrad = tW.requiresGrad = tb.requiresGrad = true;
    // feedback = weight (back-propagation).
    const y = linear(tx, tW, tb, tW);
    backward(y, Tensor.fromData(G, [rows, outF]));
    expectClose(await tx.grad!.data(), wantDx, 1e-4, 'dx');
    expectClose(await tW.grad!.data(), wantDW, 1e-4, 'dW');
    expectClose(await tb.grad!.data(), wantDb, 1e-4, 'db');
    for (const t of [tx, tW, tb, y, tx.grad!, tW.grad!, tb.grad!]) t.release();
  });

  it('a feedback matrix replaces W in dx only; exactGradients() ignores it', async () => {
    const next = rng(freshSeed('linear feedback'));
    const [rows, inF, outF] = [6, 9, 4];
    const x = randomArray(rows * inF, next);
    const W = randomArray(outF * inF, next);
    const F = randomArray(outF * inF, next);
    const G = randomArray(rows * outF, next);
    const tW = Tensor.fromData(W, [outF, inF]), tF = Tensor.fromData(F, [outF, inF]);
    tW.requiresGrad = true;
    const run = async (exact: boolean) => {
      const tx = Tensor.fromData(x, [rows, inF]);
      tx.requiresGrad = true;
      const step = () => backward(linear(tx, tW, null, tF), Tensor.fromData(G, [rows, outF]));
      if (exact) withExactGradients(step);
      else step();
      const dx = await tx.grad!.data();
      const dW = await tW.grad!.data();
      tW.grad!.release();
      tW.grad = null;
      return { dx, dW };
    };
    const fa = await run(false);
    expectClose(fa.dx, linearBackwardInputRef(G, F, rows, inF, outF), 1e-4, 'dx with feedback');
    expectClose(fa.dW, linearBackwardWeightRef(G, x, rows, inF, outF), 1e-4, 'dW (exact) with feedback');
    const ex = await run(true);
    expectClose(ex.dx, linearBackwardInputRef(G, W, rows, inF, outF), 1e-4, 'dx under exactGradients');
    expectClose(ex.dW, linearBackwardWeightRef(G, x, rows, inF, outF), 1e-4, 'dW under exactGradients');
  });

  it('leading dimensions of x are flattened into rows', async () => {
    const next = rng(freshSeed('linear 3-D'));
    const [Z, R, inF, outF] = [2, 3, 5, 4];
    const x = randomArray(Z * R * inF, next);
    const W = randomArray(outF * inF, next);
    const y = linear(Tensor.fromData(x, [Z, R, inF]), Tensor.fromData(W, [outF, inF]));
    expect(y.shape).toEqual([Z, R, outF]);
    expectClose(await y.data(), linearRef(x, W, null, Z * R, inF, outF), 1e-4, 'linear 3-D');
  });

  it('columnSum over many rows', async () => {
    const next = rng(freshSeed('columnSum'));
    const [rows, cols] = [1031, 7];
    const g = randomArray(rows * cols, next);
    expectClose(await columnSum(Tensor.fromData(g, [rows, cols])).data(), columnSumRef(g, rows, cols), 1e-5, 'columnSum');
  });
});

describe('errors name the op and the shapes', () => {
  const t = (shape: number[], dtype: 'f32' | 'i32' = 'f32') => Tensor.fromData(new Array(shape.reduce((a, b) => a * b, 1)).fill(0), shape, dtype);

  it('matmul', () => {
    expect(() => matmul(t([2, 3]), t([4, 5]))).toThrow(/matmul: inner dimensions differ: A \[2, 3\] and B \[4, 5\]/);
    expect(() => matmul(t([2, 3]), t([2, 5]), { transA: true, transB: true })).toThrow(/matmul: inner dimensions differ: A \[2, 3\] \(transposed\) and B \[2, 5\] \(transposed\)/);
    expect(() => matmul(t([2, 3, 4]), t([3, 4, 5]))).toThrow(/matmul: batch sizes differ: A \[2, 3, 4\] and B \[3, 4, 5\]/);
    expect(() => matmul(t([3]), t([3, 2]))).toThrow(/matmul: .*A \[3\]/);
    expect(() => matmul(t([2, 3], 'i32'), t([3, 2]))).toThrow(/matmul: A \[2, 3\] is i32; needs f32/);
  });

  it('linear', () => {
    expect(() => linear(t([3, 5]), t([4, 6]))).toThrow(/linear: x \[3, 5\] has 5 features, weight \[4, 6\] expects 6/);
    expect(() => linear(t([3, 6]), t([4, 6]), t([5]))).toThrow(/linear: bias \[5\] does not match weight \[4, 6\]/);
    expect(() => linear(t([3, 6]), t([4, 6]), null, t([6, 4]))).toThrow(/linear: feedback \[6, 4\] must have the weight's shape \[4, 6\]/);
    expect(() => linear(t([3, 6]), t([24]))).toThrow(/linear: weight \[24\] must be 2-D/);
    expect(() => linearBackwardInput(t([3, 5]), t([4, 6]))).toThrow(/linearBackwardInput: g \[3, 5\] .*F \[4, 6\]/);
    expect(() => linearBackwardWeight(t([3, 4]), t([2, 6]))).toThrow(/linearBackwardWeight: g \[3, 4\] and x \[2, 6\]/);
  });
});
