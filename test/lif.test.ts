import { describe, it, expect } from 'vitest';
import { useGpu, rng, freshSeed, randomArray, expectClose, finiteDifference } from './util.js';
import { Tensor } from '../src/tensor.js';
import { lif, lifForward, lifBackward, LIF_ALPHA, LIF_TAU, LIF_THRESHOLD } from '../src/ops/lif.js';
import { polarityGate } from '../src/ops/polarity.js';
import { mul } from '../src/ops/elementwise.js';
import { sum } from '../src/ops/reduce.js';
import { backward } from '../src/autograd.js';
import { lifRef, lifBackwardRef, surrogateRef, surrogatePrimitiveRef, polarityRef, type LifRefOpts } from './reference/lif.js';

useGpu();

const DEFAULTS: Omit<LifRefOpts, 'T'> = { tau: LIF_TAU, threshold: LIF_THRESHOLD, alpha: LIF_ALPHA };
const sizeOf = (s: number[]) => s.reduce((a, b) => a * b, 1);

describe('LIF neuron over T steps', () => {
  it('has the defaults of SPEC 10 / BrainCog: threshold 0.5, tau 2, alpha 2', () => {
    expect([LIF_THRESHOLD, LIF_TAU, LIF_ALPHA]).toEqual([0.5, 2, 2]);
  });

  const cases: { T: number; shape: number[]; tau?: number; threshold?: number; alpha?: number }[] = [
    { T: 1, shape: [3, 5, 7, 7] },
    { T: 4, shape: [4 * 3, 5, 7, 7] },
    { T: 3, shape: [3 * 2, 3, 33, 33] },
    { T: 7, shape: [7 * 1, 13] },
    { T: 5, shape: [5 * 3, 7, 3, 3], tau: 3, threshold: 0.3, alpha: 3 },
  ];
  for (const c of cases) {
    it(`forward, counts and backward match the CPU reference: T ${c.T}, input [${c.shape.join(', ')}]${c.tau ? `, tau ${c.tau}, threshold ${c.threshold}, alpha ${c.alpha}` : ''}`, async () => {
      const next = rng(freshSeed(`lif ${c.T} ${c.shape.join('x')}`));
      const o = { ...DEFAULTS, ...c };
      const n = sizeOf(c.shape);
      const xv = randomArray(n, next, -1, 2);
      const gv = randomArray(n, next);
      const x = Tensor.fromData(xv, c.shape);
      const { spikes, u, counts } = lifForward(x, { ...o, counts: true });
      const want = lifRef(xv, o);
      expectClose(await spikes.data(), want.spikes, 1e-6, 'spikes');
      expectClose(await u.data(), want.u, 1e-6, 'membranes');
      expect(counts!.shape).toEqual([c.shape[0] / c.T, ...c.shape.slice(1)]);
      expectClose(await counts!.data(), want.counts, 1e-6, 'counts');
      const spikeTotal = want.counts.reduce((a, b) => a + b, 0);
      expect(spikeTotal).toBeGreaterThan(0); // the inputs do make neurons fire
      expect(spikeTotal).toBeLessThan(n);
      const g = Tensor.fromData(gv, c.shape);
      const gx = lifBackward(g, u, o);
      expectClose(await gx.data(), lifBackwardRef(gv, want.u, o), 1e-4, 'input gradient');
      for (const t of [x, spikes, u, counts!, g, gx]) t.release();
    });
  }

  it('the reference BPTT equals float64 finite differences of the smooth network (surrogate primitive as the spike, reset held fixed)', () => {
    const next = rng(freshSeed('lif finite differences'));
    for (const o of [{ ...DEFAULTS, T: 6 }, { T: 4, tau: 3, threshold: 0.3, alpha: 3 }]) {
      const M = 9;
      const x = Float64Array.from(randomArray(o.T * M, next, -1, 2));
      const w = Float64Array.from(randomArray(o.T * M, next));
      const f = (v: Float64Array) => lifRef(v, o, false, (d) => surrogatePrimitiveRef(d, o.alpha)).spikes.reduce((s, y, k) => s + w[k] * y, 0);
      const fd = finiteDifference(f, x, 1e-7);
      const analytic = lifBackwardRef(w, lifRef(x, o, false).u, o);
      expectClose(analytic, fd, 1e-5, 'BPTT vs finite differences');
    }
  });

  it('the kernel surrogate is the closed form alpha - alpha^2 |u - threshold| inside |u - threshold| <= 1/alpha, 0 outside', async () => {
    // T = 1 from rest: u = x / tau, so dL/dx = sg(u - threshold) / tau exactly.
    for (const alpha of [LIF_ALPHA, 3.5]) {
      const d = Array.from({ length: 101 }, (_, i) => -1 + i * 0.02).filter((v) => Math.abs(Math.abs(v) - 1 / alpha) > 1e-3);
      const xv = d.map((v) => (v + LIF_THRESHOLD) * LIF_TAU);
      const x = Tensor.fromData(xv, [1, d.length]);
      const { u, spikes } = lifForward(x, { T: 1, alpha });
      const gx = lifBackward(Tensor.fromData(new Float32Array(d.length).fill(1), [1, d.length]), u, { T: 1, alpha });
      const got = (await gx.data()).map((v) => v * LIF_TAU);
      const closed = d.map((v) => (Math.abs(v) <= 1 / alpha ? alpha - alpha * alpha * Math.abs(v) : 0));
      expectClose(got, closed, 1e-5, `surrogate alpha ${alpha}`);
      expect(closed.filter((v) => v === 0).length).toBeGreaterThan(10); // both regions are probed
      expect(Array.from(await spikes.data())).toEqual(d.map((v) => (v > 0 ? 1 : 0)));
      expect(d.map((v) => surrogateRef(v, alpha))).toEqual(closed);
    }
  });

  it('the reset is detached: after a spike no gradient flows back through the reset membrane', async () => {
    // Neuron 0 spikes at t=0 (u 0.6); neuron 1 does not (u 0.3). Only s_1 carries a gradient.
    const x = Tensor.fromData([1.2, 0.6, 0.8, 0.9], [2, 2]);
    x.requiresGrad = true;
    const { spikes } = lif(x, { T: 2 });
    expect(Array.from(await spikes.data())).toEqual([1, 0, 0, 1]);
    backward(sum(mul(spikes, Tensor.fromData([0, 0, 1, 1], [2, 2]))));
    const g = await x.grad!.data();
    // Neuron 0: u_1 = 0 + 0.8/2 = 0.4, sg(-0.1) = 2 - 4*0.1 = 1.6, dL/dx_1 = 0.8; dL/dx_0 = 0
    // because m_0 = u_0 * (1 - s_0) with s_0 = 1 held fixed. Undetached it would be
    // -u_0 * sg(0.1) * 1.6 * (1 - 1/2) / 2 != 0.
    // Neuron 1: u_1 = 0.3 + (0.9 - 0.3)/2 = 0.6, sg(0.1) = 1.6, dL/dx_1 = 0.8, dL/dx_0 = 1.6 * 0.5 / 2 = 0.4.
    expectClose(g, [0, 0.4, 0.8, 0.8], 1e-6, 'gradient with the reset detached');
    expect(g[0]).toBe(0);
  });

  it('through autograd, the gradient equals lifBackward of the output gradient', async () => {
    const next = rng(freshSeed('lif autograd'));
    const shape = [3 * 2, 5, 3, 3];
    const xv = randomArray(sizeOf(shape), next, -1, 2);
    const wv = randomArray(sizeOf(shape), next);
    const x = Tensor.fromData(xv, shape);
    x.requiresGrad = true;
    const { spikes, counts } = lif(x, { T: 3 });
    expect(counts).toBeNull();
    backward(sum(mul(spikes, Tensor.fromData(wv, shape))));
    expectClose(await x.grad!.data(), lifBackwardRef(wv, lifRef(xv, { ...DEFAULTS, T: 3 }).u, { ...DEFAULTS, T: 3 }), 1e-4);
  });

  it('refuses a first dimension that T does not divide, and bad constants, naming them', () => {
    const x = Tensor.fromData(new Float32Array(10), [5, 2]);
    expect(() => lifForward(x, { T: 2 })).toThrow(/lif: input \[5, 2\] must have a first dimension T\*N divisible by T = 2/);
    expect(() => lifForward(x, { T: 0 })).toThrow(/T must be a positive integer/);
    expect(() => lifForward(x, { T: 1, tau: 0.5 })).toThrow(/tau must be >= 1/);
    expect(() => lifForward(x, { T: 1, alpha: 0 })).toThrow(/alpha must be > 0/);
    x.release();
  });
});

describe('polarity gate', () => {
  for (const polarity of ['exc', 'inh'] as const) {
    it(`${polarity}: forward and backward match the CPU reference on [3, 5, 7, 7]`, async () => {
      const next = rng(freshSeed(`polarity ${polarity}`));
      const shape = [3, 5, 7, 7];
      const xv = randomArray(sizeOf(shape), next);
      const gv = randomArray(sizeOf(shape), next);
      const x = Tensor.fromData(xv, shape);
      x.requiresGrad = true;
      const y = polarityGate(x, polarity);
      const sign = polarity === 'exc' ? 1 : -1;
      expectClose(await y.data(), polarityRef(xv, sign), 1e-7);
      backward(sum(mul(y, Tensor.fromData(gv, shape))));
      expectClose(await x.grad!.data(), Float64Array.from(gv, (g, i) => (sign * xv[i] > 0 ? g : 0)), 1e-7);
    });
  }
  it('refuses an unknown polarity', () => {
    expect(() => polarityGate(Tensor.fromData([1], [1]), 'both' as never)).toThrow(/polarity must be one of exc, inh, got both/);
  });
});
