import { describe, it, expect } from 'vitest';
import { useGpu, rng, freshSeed, randomArray, expectClose } from './util.js';
import { Tensor } from '../src/tensor.js';
import { backward } from '../src/autograd.js';
import { Sequential } from '../src/nn/module.js';
import { BatchNorm2d } from '../src/nn/batchnorm.js';
import { HebbianConv, HEBBIAN_RATE } from '../src/nn/hebbian.js';
import { hebbianCorrelation, type HebbianGeometry } from '../src/ops/hebbian.js';
import { Generator } from '../src/ops/random.js';
import { mul } from '../src/ops/elementwise.js';
import { sum } from '../src/ops/reduce.js';
import { SGD } from '../src/optim/sgd.js';
import { makeOp } from '../src/models/operations.js';
import { conv2dRef, conv2dTransposeRef, hebbianCorrelationRef, hebbianStepRef, convOut, type ConvRefParams } from './reference/hebbian.js';

const rt = useGpu();

const sizeOf = (s: number[]) => s.reduce((a, b) => a * b, 1);
const geometry = (p: ConvRefParams): HebbianGeometry => ({
  stride: [p.stride, p.stride], padding: [p.padding, p.padding], dilation: [p.dilation ?? 1, p.dilation ?? 1],
});

describe('hebbianCorrelation', () => {
  it('matches the CPU reference (stride 1 and 2, dilation 2, zero rows, several chunks)', async () => {
    const next = rng(freshSeed('hebbian correlation'));
    const cases: { x: number[]; w: number[]; p: ConvRefParams }[] = [
      { x: [3, 5, 7, 7], w: [5, 5, 3, 3], p: { stride: 1, padding: 1 } },
      { x: [3, 5, 7, 7], w: [5, 5, 3, 3], p: { stride: 2, padding: 1 } },
      { x: [3, 5, 7, 7], w: [7, 5, 3, 3], p: { stride: 1, padding: 2, dilation: 2 } },
      { x: [2, 3, 8, 9], w: [4, 3, 1, 1], p: { stride: 2, padding: 0 } },
      // N*OH*OW = 3267 positions: more than one chunk of positions per thread.
      { x: [3, 5, 33, 33], w: [5, 5, 3, 3], p: { stride: 1, padding: 1 } },
    ];
    for (const c of cases) {
      const x = randomArray(sizeOf(c.x), next);
      x.fill(0, 0, sizeOf(c.x.slice(1))); // sample 0 all zero: zero patches and zero outputs
      const h = randomArray(sizeOf(c.w), next, -0.3, 0.3);
      const y = conv2dRef(x, c.x, h, c.w, c.p);
      const yShape = [c.x[0], c.w[0], convOut(c.x[2], c.w[2], c.p), convOut(c.x[3], c.w[3], c.p)];
      const U = hebbianCorrelation(Tensor.fromData(x, c.x), Tensor.fromData(Float32Array.from(y), yShape), c.w, geometry(c.p));
      expectClose(await U.data(), hebbianCorrelationRef(x, c.x, y, c.w, c.p), 1e-4, `U ${JSON.stringify(c)}`);
    }
  });
});

describe('HebbianConv', () => {
  it('a training forward returns conv(x, H) and updates H as the CPU reference (stride 1 and 2)', async () => {
    const next = rng(freshSeed('hebbian step'));
    for (const stride of [1, 2]) {
      const layer = new HebbianConv(5, 5, 3, { stride, padding: 1, gen: new Generator(Math.floor(next() * 1e6)) });
      const xs = [3, 5, 7, 7];
      const x = randomArray(sizeOf(xs), next);
      const h0 = await layer.filters.data();
      const y = layer.forward(Tensor.fromData(x, xs));
      const p = { stride, padding: 1 };
      const ref = hebbianStepRef(x, xs, h0, [5, 5, 3, 3], p, HEBBIAN_RATE);
      expect(y.shape).toEqual([3, 5, convOut(7, 3, p), convOut(7, 3, p)]);
      expectClose(await y.data(), ref.y, 1e-4, `y stride ${stride}`);
      const h1 = await layer.filters.data();
      expectClose(h1, ref.H, 1e-5, `H stride ${stride}`);
      // The change itself, not only H (the update is small next to H).
      const delta = h1.map((v, i) => v - h0[i]);
      expectClose(delta, ref.U.map((u) => HEBBIAN_RATE * u), 1e-3, `H - H0 stride ${stride}`);
      expect(Math.max(...delta.map(Math.abs))).toBeGreaterThan(0);
      layer.dispose();
    }
  });

  it('keeps the filters in [-1, 1] (clamp), as the reference', async () => {
    const next = rng(freshSeed('hebbian clamp'));
    const layer = new HebbianConv(5, 5, 3, { stride: 2, padding: 1, rate: 0.5, gen: new Generator(7) });
    const xs = [3, 5, 7, 7];
    let h: Float64Array = Float64Array.from(await layer.filters.data());
    for (let step = 0; step < 3; step++) {
      const x = randomArray(sizeOf(xs), next, -1, 2);
      layer.forward(Tensor.fromData(x, xs)).release();
      h = hebbianStepRef(x, xs, h, [5, 5, 3, 3], { stride: 2, padding: 1 }, 0.5).H;
    }
    const got = await layer.filters.data();
    expectClose(got, h, 1e-4, 'clamped H');
    expect(Math.max(...got.map(Math.abs))).toBeLessThanOrEqual(1);
    expect(got.filter((v) => Math.abs(v) === 1).length).toBeGreaterThan(0); // the clamp was exercised
    layer.dispose();
  });

  it('an eval forward leaves H unchanged', async () => {
    const next = rng(freshSeed('hebbian eval'));
    const layer = new HebbianConv(5, 5, 3, { padding: 1, gen: new Generator(3) }).eval();
    const h0 = await layer.filters.data();
    const xs = [3, 5, 7, 7];
    const x = randomArray(sizeOf(xs), next);
    const y = layer.forward(Tensor.fromData(x, xs));
    expectClose(await y.data(), conv2dRef(x, xs, h0, [5, 5, 3, 3], { stride: 1, padding: 1 }), 1e-4, 'eval y');
    expect(Array.from(await layer.filters.data())).toEqual(Array.from(h0));
    layer.dispose();
  });

  it('H is a buffer: no gradient, not a parameter, untouched by the optimizer; the input gradient is conv^T with H', async () => {
    const next = rng(freshSeed('hebbian gradient'));
    const hebb = new HebbianConv(5, 5, 3, { stride: 2, padding: 1, gen: new Generator(11) });
    const model = new Sequential(hebb, new BatchNorm2d(5));
    expect(model.parameters()).not.toContain(hebb.filters);
    expect(model.namedTensors().map(([n]) => n)).toContain('layers.0.filters');
    const xs = [3, 5, 7, 7];
    const x = Tensor.fromData(randomArray(sizeOf(xs), next), xs);
    x.requiresGrad = true;
    const h0 = await hebb.filters.data();
    const conv = hebb.forward(x);
    const y = model.layers[1].forward(conv);
    const hAfterForward = await hebb.filters.data();
    expect(Array.from(hAfterForward)).not.toEqual(Array.from(h0));
    // Gradient of sum(y * g) with respect to the conv output, then through H0 to x.
    const g = randomArray(y.size, next);
    const gConv = Tensor.fromData(randomArray(conv.size, next), conv.shape);
    backward(sum(mul(y, Tensor.fromData(g, y.shape))));
    expect(hebb.filters.grad).toBeNull();
    expect(hebb.filters.requiresGrad).toBe(false);
    const opt = new SGD(model.parameters(), { lr: 0.5 });
    opt.step();
    expect(Array.from(await hebb.filters.data())).toEqual(Array.from(hAfterForward));
    // The input gradient: BN's gradient at the conv output, then conv^T with the filters before the update.
    x.grad!.release();
    x.grad = null;
    const conv2 = hebb.forward(x); // another update; its backward must use the filters before it
    const h1 = Float64Array.from(hAfterForward);
    backward(conv2, gConv);
    const gData = await gConv.data();
    expectClose(await x.grad!.data(), conv2dTransposeRef(gData, [5, 5, 3, 3], h1, xs, { stride: 2, padding: 1 }), 1e-4, 'dx');
    model.dispose();
  });

  it('works as the search-space op hebbian_conv_3x3 (ReLU, Hebbian conv, BN), stride 1 and 2', async () => {
    const next = rng(freshSeed('hebbian op'));
    for (const stride of [1, 2]) {
      const op = makeOp('hebbian_conv_3x3', { C: 6, stride, affine: true, layer: { gen: new Generator(4) } });
      const x = Tensor.fromData(randomArray(2 * 6 * 49, next), [2, 6, 7, 7]);
      x.requiresGrad = true;
      const y = op.forward(x);
      expect(y.shape).toEqual([2, 6, stride === 1 ? 7 : 4, stride === 1 ? 7 : 4]);
      backward(sum(mul(y, Tensor.fromData(randomArray(y.size, next), y.shape))));
      const dx = await x.grad!.data();
      expect(dx.every(Number.isFinite) && dx.some((v) => v !== 0)).toBe(true);
      expect(op.parameters().every((p) => p.grad)).toBe(true); // the BN's scale and shift
      op.dispose();
    }
  });

  it('rejects an input of the wrong channels, naming the layer and shapes', () => {
    const layer = new HebbianConv(5, 4, 3, { padding: 1, gen: new Generator(1) });
    expect(() => layer.forward(Tensor.empty([2, 3, 7, 7]))).toThrow(/HebbianConv: input \[2, 3, 7, 7\] must be \[N, 5, H, W\]/);
    layer.dispose();
  });
});

void rt;
