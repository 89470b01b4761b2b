import { describe, it, expect } from 'vitest';
import { useGpu, rng, freshSeed, randomArray, expectClose, finiteDifference } from './util.js';
import { Tensor, scope } from '../src/tensor.js';
import { backward, withExactGradients } from '../src/autograd.js';
import { PredictiveCodingConv, ETA_INIT } from '../src/nn/predictive.js';
import { normalizeFilters, pcStep } from '../src/ops/predictive.js';
import { Generator } from '../src/ops/random.js';
import { mul } from '../src/ops/elementwise.js';
import { sum } from '../src/ops/reduce.js';
import { pcForwardRef, normalizeFiltersRef, type PcRefOptions } from './reference/predictive.js';
import { convOut } from './reference/hebbian.js';
import { makeOp } from '../src/models/operations.js';
import { globalAvgPool } from '../src/ops/pool.js';
import { tapOutput, clearOutputError } from '../src/rules/dfa.js';
import { conv2dTransposeRef } from './reference/hebbian.js';

const rt = useGpu();

const sizeOf = (s: number[]) => s.reduce((a, b) => a * b, 1);
const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0));

function layerWith(w: Float32Array | Float64Array, eta: ArrayLike<number>, cin: number, cout: number, o: PcRefOptions, rule = 'bp') {
  const layer = new PredictiveCodingConv(cin, cout, 3, {
    stride: o.stride, padding: o.padding, iterations: o.iterations, normalize: o.normalize, rule, gen: new Generator(5),
  });
  layer.weight.write(w);
  layer.eta.write(eta);
  return layer;
}

describe('PredictiveCodingConv', () => {
  it('forward matches the CPU reference (stride 1 and 2, with and without filter normalisation)', async () => {
    const next = rng(freshSeed('pc forward'));
    const xs = [3, 5, 7, 7];
    const cout = 6;
    const ws = [cout, 5, 3, 3];
    for (const [stride, normalize, iterations] of [[1, true, 3], [2, true, 3], [1, false, 2], [2, true, 0]] as const) {
      const o: PcRefOptions = { stride, padding: 1, iterations, normalize };
      const x = randomArray(sizeOf(xs), next);
      const w = randomArray(sizeOf(ws), next, -0.15, 0.15);
      const eta = randomArray(cout, next, 0.1, 0.3);
      const layer = layerWith(w, eta, 5, cout, o);
      const { out, errors } = layer.trace(Tensor.fromData(x, xs));
      const ref = pcForwardRef(x, xs, w, ws, eta, o);
      expect(out.shape).toEqual([3, cout, convOut(7, 3, o), convOut(7, 3, o)]);
      expectClose(await out.data(), ref.out, 1e-4, `out ${JSON.stringify(o)}`);
      const errs = await Promise.all(errors.map(async (e) => norm(await e.data())));
      expectClose(errs, ref.errors, 1e-4, `errors ${JSON.stringify(o)}`);
      layer.dispose();
    }
  });

  it('the inference iterations reduce the prediction error |x - x^| (default init, random input)', async () => {
    const next = rng(freshSeed('pc descent'));
    for (const [C, stride] of [[8, 1], [8, 2], [5, 1]]) {
      const layer = new PredictiveCodingConv(C, C, 3, { stride, padding: 1, iterations: 4, gen: new Generator(Math.floor(next() * 1e6)) });
      const xs = [2, C, 12, 12];
      const { errors } = layer.trace(Tensor.fromData(randomArray(sizeOf(xs), next), xs));
      const errs = await Promise.all(errors.map(async (e) => norm(await e.data())));
      for (let t = 1; t < errs.length; t++) expect(errs[t], `C ${C} stride ${stride}: ${errs.join(', ')}`).toBeLessThan(errs[t - 1]);
      layer.dispose();
    }
  });

  it('the reference gradient (finite differences, float64) matches the GPU gradient with rule bp', async () => {
    const next = rng(freshSeed('pc gradient'));
    const xs = [2, 3, 5, 5];
    const ws = [4, 3, 3, 3];
    for (const stride of [1, 2]) {
      const o: PcRefOptions = { stride, padding: 1, iterations: 2, normalize: true };
      const x = Float64Array.from(randomArray(sizeOf(xs), next));
      const w = Float64Array.from(randomArray(sizeOf(ws), next, -0.3, 0.3));
      const eta = Float64Array.from(randomArray(4, next, 0.1, 0.3));
      const outLen = pcForwardRef(x, xs, w, ws, eta, o).out.length;
      const g = Float64Array.from(randomArray(outLen, next));
      const loss = (xv: Float64Array, wv: Float64Array, ev: Float64Array) =>
        pcForwardRef(xv, xs, wv, ws, ev, o).out.reduce((a, v, i) => a + v * g[i], 0);
      const fdW = finiteDifference((v) => loss(x, v, eta), w, 1e-6);
      const fdEta = finiteDifference((v) => loss(x, w, v), eta, 1e-6);
      const fdX = finiteDifference((v) => loss(v, w, eta), x, 1e-6);

      const layer = layerWith(Float32Array.from(w), Float32Array.from(eta), 3, 4, o);
      const xt = Tensor.fromData(Float32Array.from(x), xs);
      xt.requiresGrad = true;
      scope(() => backward(sum(mul(layer.forward(xt), Tensor.fromData(Float32Array.from(g), [xs[0], 4, convOut(5, 3, o), convOut(5, 3, o)])))));
      expectClose(await layer.weight.grad!.data(), fdW, 1e-4, `dW stride ${stride}`);
      expectClose(await layer.eta.grad!.data(), fdEta, 1e-4, `deta stride ${stride}`);
      expectClose(await xt.grad!.data(), fdX, 1e-4, `dx stride ${stride}`);
      layer.dispose();
    }
  });

  it('filter normalisation: unit rows, and its backward against finite differences', async () => {
    const next = rng(freshSeed('pc normalize'));
    const ws = [5, 3, 3, 3];
    const w = Float64Array.from(randomArray(sizeOf(ws), next));
    const g = Float64Array.from(randomArray(w.length, next));
    const wt = Tensor.fromData(Float32Array.from(w), ws);
    wt.requiresGrad = true;
    const v = normalizeFilters(wt);
    expectClose(await v.data(), normalizeFiltersRef(w, ws), 1e-5, 'V');
    backward(sum(mul(v, Tensor.fromData(Float32Array.from(g), ws))));
    const fd = finiteDifference((a) => normalizeFiltersRef(a, ws).reduce((s, q, i) => s + q * g[i], 0), w);
    expectClose(await wt.grad!.data(), fd, 1e-4, 'dW');
  });

  it('pcStep backward against finite differences', async () => {
    const next = rng(freshSeed('pc step'));
    const shape = [2, 3, 4, 5];
    const n = sizeOf(shape);
    const r = Float64Array.from(randomArray(n, next));
    const u = Float64Array.from(randomArray(n, next));
    const eta = Float64Array.from(randomArray(3, next, 0.1, 0.5));
    const g = Float64Array.from(randomArray(n, next));
    const f = (rv: Float64Array, uv: Float64Array, ev: Float64Array) =>
      rv.reduce((s, a, i) => s + Math.max(a + ev[Math.floor(i / 20) % 3] * uv[i], 0) * g[i], 0);
    const [rt_, ut, et] = [r, u, eta].map((a, i) => {
      const t = Tensor.fromData(Float32Array.from(a), i === 2 ? [3] : shape);
      t.requiresGrad = true;
      return t;
    });
    backward(sum(mul(pcStep(rt_, ut, et), Tensor.fromData(Float32Array.from(g), shape))));
    expectClose(await rt_.grad!.data(), finiteDifference((v) => f(v, u, eta), r, 1e-7), 1e-5, 'dr');
    expectClose(await ut.grad!.data(), finiteDifference((v) => f(r, v, eta), u, 1e-7), 1e-5, 'du');
    expectClose(await et.grad!.data(), finiteDifference((v) => f(r, u, v), eta, 1e-7), 1e-5, 'deta');
  });

  it('stride 2 halves the map (odd sizes round up), keeping the channels', () => {
    for (const [h, w] of [[7, 7], [8, 9], [32, 32]]) {
      const layer = new PredictiveCodingConv(4, 4, 3, { stride: 2, padding: 1, gen: new Generator(2) });
      const y = layer.forward(Tensor.fromData(new Float32Array(2 * 4 * h * w).fill(0.5), [2, 4, h, w]));
      expect(y.shape).toEqual([2, 4, Math.ceil(h / 2), Math.ceil(w / 2)]);
      expect(layer.outputShape([2, 4, h, w])).toEqual(y.shape);
      layer.dispose();
    }
    const layer = new PredictiveCodingConv(4, 4, 3, { padding: 1, gen: new Generator(2) });
    expect(layer.forward(Tensor.empty([1, 4, 6, 5])).shape).toEqual([1, 4, 6, 5]);
    layer.dispose();
  });

  it('a learning rule changes the feedback path only: under exact gradients fa equals bp', async () => {
    const next = rng(freshSeed('pc rule'));
    const xs = [2, 3, 6, 6];
    const o: PcRefOptions = { stride: 1, padding: 1, iterations: 2, normalize: true };
    const w = randomArray(4 * 27, next, -0.3, 0.3);
    const eta = new Float32Array(4).fill(ETA_INIT);
    const x = randomArray(sizeOf(xs), next);
    const g = randomArray(2 * 4 * 36, next);
    const grads = async (rule: string, exact: boolean) => {
      const layer = layerWith(w, eta, 3, 4, o, rule);
      const xt = Tensor.fromData(x, xs);
      xt.requiresGrad = true;
      withExactGradients(() => scope(() => backward(sum(mul(layer.forward(xt), Tensor.fromData(g, [2, 4, 6, 6]))))), exact);
      const out = { dw: await layer.weight.grad!.data(), dx: await xt.grad!.data() };
      layer.dispose();
      return out;
    };
    const bp = await grads('bp', false);
    const faExact = await grads('fa', true);
    const fa = await grads('fa', false);
    expectClose(faExact.dw, bp.dw, 1e-5, 'dW fa exact');
    expectClose(faExact.dx, bp.dx, 1e-5, 'dx fa exact');
    expect(relDiff(fa.dx, bp.dx)).toBeGreaterThan(1e-2);
  });

  it('works as the search-space op pc_conv_3x3 (PC conv, BN) under every rule with a feedback matrix, stride 1 and 2', async () => {
    const next = rng(freshSeed('pc op'));
    for (const rule of ['bp', 'fa', 'usf', 'brsf', 'frsf']) {
      for (const stride of [1, 2]) {
        const op = makeOp('pc_conv_3x3', { C: 6, stride, affine: false, layer: { rule, gen: new Generator(4) } });
        const x = Tensor.fromData(randomArray(2 * 6 * 49, next), [2, 6, 7, 7]);
        x.requiresGrad = true;
        const y = op.forward(x);
        expect(y.shape).toEqual([2, 6, stride === 1 ? 7 : 4, stride === 1 ? 7 : 4]);
        scope(() => backward(sum(mul(y, Tensor.fromData(randomArray(y.size, next), y.shape)))));
        const grads = [x.grad!, ...op.parameters().map((p) => p.grad!)];
        expect(op.parameters().length).toBe(2); // W and eta
        for (const g of grads) {
          const d = await g.data();
          expect(d.every(Number.isFinite) && d.some((v) => v !== 0), `${rule} stride ${stride}`).toBe(true);
        }
        op.dispose();
      }
    }
  });

  it('DFA: the input receives B^T e broadcast over the output positions; W still gets a gradient', async () => {
    const next = rng(freshSeed('pc dfa'));
    const K = 4;
    const layer = new PredictiveCodingConv(3, K, 3, { stride: 2, padding: 1, rule: 'dfa', numClasses: K, gen: new Generator(9) });
    const xs = [2, 3, 7, 7];
    const x = Tensor.fromData(randomArray(sizeOf(xs), next), xs);
    x.requiresGrad = true;
    const e = randomArray(2 * K, next);
    scope(() => {
      const logits = tapOutput(globalAvgPool(layer.forward(x)));
      backward(sum(mul(logits, Tensor.fromData(e, [2, K]))));
      clearOutputError();
    });
    const B = await layer.conv.rule.matrix!.data();
    const eb = new Float64Array(2 * K * 16);
    for (let i = 0; i < eb.length; i++) eb[i] = e[Math.floor(i / 16)];
    expectClose(await x.grad!.data(), conv2dTransposeRef(eb, [K, 3, 3, 3], B, xs, { stride: 2, padding: 1 }), 1e-4, 'dfa dx');
    const dw = await layer.weight.grad!.data();
    expect(dw.every(Number.isFinite) && dw.some((v) => v !== 0)).toBe(true);
    layer.dispose();
  });

  it('rejects an input of the wrong channels, naming the layer and shapes', () => {
    const layer = new PredictiveCodingConv(5, 5, 3, { padding: 1, gen: new Generator(1) });
    expect(() => layer.forward(Tensor.empty([2, 3, 7, 7]))).toThrow(/PredictiveCodingConv: input \[2, 3, 7, 7\]/);
    layer.dispose();
  });
});

function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / s;
}

void rt;
