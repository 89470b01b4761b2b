import { describe, it, expect } from 'vitest';
import { useGpu, rng, freshSeed, randomArray, expectClose } from './util.js';
import { Tensor, keep, scope } from '../src/tensor.js';
import { SGD, type SGDOptions } from '../src/optim/sgd.js';
import { Adam, type AdamOptions } from '../src/optim/adam.js';
import { clipGradNorm, globalNorm } from '../src/optim/clip.js';
import { SGDRef, AdamRef, clipGradNormRef, globalNormRef } from './reference/optim.js';

const rt = useGpu();

const SHAPES = [[7, 3, 3, 3], [1031], [5], [3, 33], [4, 5]];
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Random params on the GPU and their float64 copies (from the same float32 values). */
function makeParams(next: () => number) {
  const data = SHAPES.map((s) => randomArray(size(s), next));
  const params = data.map((d, i) => {
    const t = Tensor.fromData(d, SHAPES[i]);
    t.requiresGrad = true;
    return t;
  });
  return { params, ref: data.map((d) => Float64Array.from(d)) };
}

/** Sets fresh random gradients (some params none, per `skip`); returns them for the reference. */
function setGrads(params: Tensor[], next: () => number, skip: number[] = []): (Float32Array | null)[] {
  return params.map((p, i) => {
    p.grad?.release();
    if (skip.includes(i)) {
      p.grad = null;
      return null;
    }
    const g = randomArray(p.size, next, -2, 2);
    p.grad = keep(Tensor.fromData(g, p.shape));
    return g;
  });
}

async function expectParams(params: Tensor[], ref: Float64Array[], tol: number, what: string) {
  for (let i = 0; i < params.length; i++) expectClose(await params[i].data(), ref[i], tol, `${what} param ${i}`);
}

describe('SGD', () => {
  const variants: [string, SGDOptions][] = [
    ['plain', { lr: 0.1 }],
    ['momentum + dampening', { lr: 0.05, momentum: 0.9, dampening: 0.1 }],
    ['nesterov', { lr: 0.05, momentum: 0.9, nesterov: true }],
    ['weight decay + momentum', { lr: 0.1, momentum: 0.5, weightDecay: 0.01 }],
    ['weight decay, no momentum', { lr: 0.1, weightDecay: 0.05 }],
  ];
  for (const [name, opts] of variants) {
    it(`${name}: six steps match the CPU reference (skipped params, lr override)`, async () => {
      const next = rng(freshSeed(`sgd ${name}`));
      const { params, ref } = makeParams(next);
      const opt = new SGD(params, opts);
      const cpu = new SGDRef(ref, opts);
      for (let step = 0; step < 6; step++) {
        // Param 2 has no gradient on steps 0-1 (its momentum starts late), param 3 on step 3.
        const skip = step < 2 ? [2] : step === 3 ? [3] : [];
        const grads = setGrads(params, next, skip);
        const lr = step === 4 ? 0.02 : undefined;
        opt.step(lr);
        cpu.step(grads, lr);
      }
      await expectParams(params, ref, 1e-5, name);
      const state = opt.stateDict();
      expect(state.step).toBe(6);
      for (let i = 0; i < params.length; i++) {
        const want = cpu.momentumBuffer(i);
        if (!want) expect(state.momentumBuffers[i]).toBeNull();
        else expectClose(await state.momentumBuffers[i]!.data(), want, 1e-5, `momentum ${i}`);
      }
      opt.zeroGrad();
      opt.dispose();
    });
  }

  it('zeroGrad releases the gradients; stateDict round-trips into a new optimizer', async () => {
    const next = rng(freshSeed('sgd state'));
    const { params } = makeParams(next);
    const opts = { lr: 0.1, momentum: 0.9 };
    const a = new SGD(params, opts);
    setGrads(params, next);
    a.step();
    const before = rt().pool.liveBytes;
    a.zeroGrad();
    expect(params.every((p) => p.grad === null)).toBe(true);
    expect(rt().pool.liveBytes).toBeLessThan(before);
    // A second copy of the params, restored from a's state, follows a exactly.
    const copies = await Promise.all(params.map(async (p) => {
      const c = Tensor.fromData(await p.data(), p.shape);
      c.requiresGrad = true;
      return c;
    }));
    const b = new SGD(copies, opts);
    b.loadStateDict(a.stateDict());
    const grads = setGrads(params, next);
    copies.forEach((c, i) => (c.grad = keep(Tensor.fromData(grads[i]!, c.shape))));
    a.step();
    b.step();
    for (let i = 0; i < params.length; i++) expect(Array.from(await copies[i].data())).toEqual(Array.from(await params[i].data()));
    expect(() => b.loadStateDict({ kind: 'sgd', step: 0, momentumBuffers: [null] })).toThrow(/SGD.loadStateDict: 1 momentum buffers for 5 params/);
  });

  it('optimizer state survives the scope it was created in', async () => {
    const p = Tensor.fromData([1, 2, 3], [3]);
    p.requiresGrad = true;
    const opt = new SGD([p], { lr: 1, momentum: 0.5 });
    scope(() => {
      p.grad = keep(Tensor.fromData([1, 1, 1], [3]));
      opt.step();
    });
    expect(opt.stateDict().momentumBuffers[0]!.released).toBe(false);
    p.grad!.write([1, 1, 1]);
    opt.step();
    // buf = 1, then 0.5 * 1 + 1 = 1.5: p = [1,2,3] - 1 - 1.5
    expect(Array.from(await p.data())).toEqual([-1.5, -0.5, 0.5]);
  });

  it('bad options throw naming the optimizer', () => {
    const p = Tensor.fromData([1], [1]);
    expect(() => new SGD([p], { lr: -1 })).toThrow(/SGD: lr must be >= 0/);
    expect(() => new SGD([p], { lr: 0.1, nesterov: true })).toThrow(/SGD: Nesterov/);
    expect(() => new SGD([p, p], { lr: 0.1 })).toThrow(/SGD: param 1 \[1\] appears twice/);
  });
});

describe('Adam', () => {
  const variants: [string, AdamOptions][] = [
    ['defaults', { lr: 1e-2 }],
    ['betas, eps, weight decay', { lr: 3e-3, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 }],
    ['AdamW (decoupled weight decay)', { lr: 3e-2, weightDecay: 0.5, decoupled: true }],
  ];
  for (const [name, opts] of variants) {
    it(`${name}: six steps match the CPU reference`, async () => {
      const next = rng(freshSeed(`adam ${name}`));
      const { params, ref } = makeParams(next);
      const opt = new Adam(params, opts);
      const cpu = new AdamRef(ref, opts);
      for (let step = 0; step < 6; step++) {
        const skip = step < 2 ? [2] : step === 3 ? [3] : [];
        const grads = setGrads(params, next, skip);
        const lr = step === 5 ? 1e-3 : undefined;
        opt.step(lr);
        cpu.step(grads, lr);
      }
      await expectParams(params, ref, 1e-5, name);
      const state = opt.stateDict();
      expect(state.steps).toEqual([6, 6, 4, 5, 6]);
      for (let i = 0; i < params.length; i++) {
        const { m, v } = cpu.moments(i);
        expectClose(await state.expAvg[i]!.data(), m, 1e-5, `m ${i}`);
        expectClose(await state.expAvgSq[i]!.data(), v, 1e-5, `v ${i}`);
      }
      opt.dispose();
    });
  }

  it('AdamW differs from Adam with the same decay, and their states do not load into each other', async () => {
    const next = rng(freshSeed('adamw vs adam'));
    const a = makeParams(next);
    const copies = await Promise.all(a.params.map(async (p) => Tensor.fromData(await p.data(), p.shape)));
    const adam = new Adam(a.params, { lr: 1e-2, weightDecay: 0.5 });
    const adamw = new Adam(copies, { lr: 1e-2, weightDecay: 0.5, decoupled: true });
    const grads = setGrads(a.params, next);
    copies.forEach((c, i) => (c.grad = grads[i] ? keep(Tensor.fromData(grads[i]!, c.shape)) : null));
    adam.step();
    adamw.step();
    const x = await a.params[0].data(), y = await copies[0].data();
    expect(Math.max(...Array.from(x, (v, j) => Math.abs(v - y[j])))).toBeGreaterThan(1e-4);
    expect(adamw.stateDict().kind).toBe('adamw');
    expect(() => adamw.loadStateDict(adam.stateDict())).toThrow(/'adam' optimizer, this one is 'adamw'/);
    adam.dispose();
    adamw.dispose();
  });

  it('stateDict round-trips: a restored optimizer continues identically', async () => {
    const next = rng(freshSeed('adam state'));
    const { params } = makeParams(next);
    const a = new Adam(params, { lr: 1e-2 });
    for (let s = 0; s < 3; s++) {
      setGrads(params, next, s === 0 ? [1] : []);
      a.step();
    }
    const copies = await Promise.all(params.map(async (p) => Tensor.fromData(await p.data(), p.shape)));
    const b = new Adam(copies, { lr: 1e-2 });
    b.loadStateDict(a.stateDict());
    expect(b.stateDict().steps).toEqual([3, 2, 3, 3, 3]);
    const grads = setGrads(params, next);
    copies.forEach((c, i) => (c.grad = keep(Tensor.fromData(grads[i]!, c.shape))));
    a.step();
    b.step();
    for (let i = 0; i < params.length; i++) expect(Array.from(await copies[i].data())).toEqual(Array.from(await params[i].data()));
  });
});

describe('gradient clipping', () => {
  it('globalNorm of tensors of odd sizes (one long) matches the reference', async () => {
    const next = rng(freshSeed('globalNorm'));
    const data = [randomArray(100_003, next), randomArray(7, next), randomArray(1, next), randomArray(100_004, next), randomArray(12, next)];
    const norm = globalNorm(data.map((d) => Tensor.fromData(d, [d.length])));
    expect(norm.shape).toEqual([1]);
    expectClose([await norm.item()], [globalNormRef(data)], 1e-5, 'globalNorm');
    expect(await globalNorm([]).item()).toBe(0);
  });

  it('scales large gradients to the max norm and leaves small ones unchanged', async () => {
    const next = rng(freshSeed('clip'));
    const { params } = makeParams(next);
    const grads = setGrads(params, next, [2]).filter((g): g is Float32Array => g !== null);
    const { clipped, norm } = clipGradNormRef(grads, 1.5);
    expect(norm).toBeGreaterThan(1.5);
    const got = clipGradNorm(params, 1.5);
    expectClose([await got.item()], [norm], 1e-5, 'norm');
    const withGrad = params.filter((p) => p.grad);
    for (let i = 0; i < withGrad.length; i++) expectClose(await withGrad[i].grad!.data(), clipped[i], 1e-5, `clipped ${i}`);
    expectClose([await globalNorm(withGrad.map((p) => p.grad!)).item()], [1.5 * norm / (norm + 1e-6)], 1e-5, 'norm after');
    // Already below the max: bit-for-bit unchanged.
    const before = await Promise.all(withGrad.map(async (p) => Array.from(await p.grad!.data())));
    const again = clipGradNorm(params, 10);
    expectClose([await again.item()], [1.5], 1e-5, 'norm of clipped');
    for (let i = 0; i < withGrad.length; i++) expect(Array.from(await withGrad[i].grad!.data())).toEqual(before[i]);
    expect(() => clipGradNorm(params, -1)).toThrow(/clipGradNorm: maxNorm must be >= 0/);
  });
});
