import { describe, it, expect } from 'vitest';
import { useGpu, rng, freshSeed, randomArray, expectClose, finiteDifference, dispatchCount } from './util.js';
import { Tensor } from '../src/tensor.js';
import { backward, withExactGradients } from '../src/autograd.js';
import { chooseTuning } from '../src/gpu/tuning.js';
import {
  conv2d, conv2dForward, conv2dBackwardInput, conv2dBackwardWeight, conv2dBackwardBias, convOutputShape,
  type Conv2dParams,
} from '../src/ops/conv.js';
import {
  convForwardRef, convBackwardInputRef, convBackwardWeightRef, convBackwardBiasRef, refOutputShape, type ConvRefParams,
} from './reference/conv.js';

const rt = useGpu();

interface Case {
  name: string;
  N: number; C: number; H: number; W: number; O: number; KH: number; KW: number;
  stride?: number | [number, number]; padding?: number | [number, number]; dilation?: number | [number, number]; groups?: number;
  bias?: boolean;
}

const both = (v: number | [number, number] | undefined, d: number): [number, number] => (v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v);

function refParams(c: Case): ConvRefParams {
  return { stride: both(c.stride, 1), padding: both(c.padding, 0), dilation: both(c.dilation, 1), groups: c.groups ?? 1 };
}

function params(c: Case): Conv2dParams {
  return { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups };
}

/** Forward, input gradient with a random B (not W), weight and bias gradients, each against the CPU. */
async function checkCase(c: Case): Promise<void> {
  const next = rng(freshSeed(`conv ${c.name}`));
  const groups = c.groups ?? 1;
  const xShape = [c.N, c.C, c.H, c.W];
  const wShape = [c.O, c.C / groups, c.KH, c.KW];
  const p = refParams(c);
  const yShape = refOutputShape(xShape, wShape, p);
  expect(convOutputShape(xShape, wShape, params(c))).toEqual(yShape);
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const x = randomArray(size(xShape), next);
  const w = randomArray(size(wShape), next);
  const B = randomArray(size(wShape), next);
  const g = randomArray(size(yShape), next);
  const bias = c.bias ? randomArray(c.O, next) : null;
  const tx = Tensor.fromData(x, xShape), tw = Tensor.fromData(w, wShape), tB = Tensor.fromData(B, wShape), tg = Tensor.fromData(g, yShape);
  const tb = bias ? Tensor.fromData(bias, [c.O]) : null;

  const y = conv2dForward(tx, tw, params(c), tb);
  expect(y.shape).toEqual(yShape);
  expectClose(await y.data(), convForwardRef(x, xShape, w, wShape, p, bias), 1e-4, `${c.name} forward`);
  const dx = conv2dBackwardInput(tg, tB, xShape, params(c));
  expectClose(await dx.data(), convBackwardInputRef(g, B, xShape, wShape, p), 1e-4, `${c.name} input gradient (B)`);
  const dw = conv2dBackwardWeight(tx, tg, wShape, params(c));
  expectClose(await dw.data(), convBackwardWeightRef(x, g, xShape, wShape, p), 1e-4, `${c.name} weight gradient`);
  const db = conv2dBackwardBias(tg);
  expectClose(await db.data(), convBackwardBiasRef(g, yShape), 1e-4, `${c.name} bias gradient`);
  for (const t of [tx, tw, tB, tg, y, dx, dw, db, tb]) t?.release();
}

describe('conv2d kernels against the CPU reference', () => {
  const dense: Case[] = [
    { name: 'dense 3x3 5->7 pad 1, 7x7', N: 3, C: 5, H: 7, W: 7, O: 7, KH: 3, KW: 3, padding: 1, bias: true },
    { name: 'dense 1x1 5->7, 33x33 (a matrix product per image)', N: 3, C: 5, H: 33, W: 33, O: 7, KH: 1, KW: 1 },
    { name: 'dense 1x1 16->12 with bias, 8x8', N: 3, C: 16, H: 8, W: 8, O: 12, KH: 1, KW: 1, bias: true },
    { name: 'dense 1x1 8->8 stride 2, 7x7', N: 3, C: 8, H: 7, W: 7, O: 8, KH: 1, KW: 1, stride: 2 },
    { name: 'dense 5x5 4->6 stride 2 pad 2, 33x31', N: 3, C: 4, H: 33, W: 31, O: 6, KH: 5, KW: 5, stride: 2, padding: 2, bias: true },
    { name: 'dense 3x3 dilation 2 pad 2, 3->5, 7x7', N: 3, C: 3, H: 7, W: 7, O: 5, KH: 3, KW: 3, dilation: 2, padding: 2 },
    { name: 'dense 3x3 pad 4 (output larger than input), 2->3, 7x7', N: 3, C: 2, H: 7, W: 7, O: 3, KH: 3, KW: 3, padding: 4 },
    { name: 'dense 3x5 stride [2, 1] pad [0, 2], 5->3, 9x7', N: 2, C: 5, H: 9, W: 7, O: 3, KH: 3, KW: 5, stride: [2, 1], padding: [0, 2] },
    { name: 'grouped 6 channels groups 3 -> 9, 3x3 stride 2 pad 1, 7x7', N: 3, C: 6, H: 7, W: 7, O: 9, KH: 3, KW: 3, stride: 2, padding: 1, groups: 3, bias: true },
  ];
  const depthwise: Case[] = [
    { name: 'depthwise 3x3 C=5 pad 1, 33x33', N: 3, C: 5, H: 33, W: 33, O: 5, KH: 3, KW: 3, padding: 1, groups: 5, bias: true },
    { name: 'depthwise 5x5 dilation 2 pad 4 C=7, 7x7', N: 3, C: 7, H: 7, W: 7, O: 7, KH: 5, KW: 5, padding: 4, dilation: 2, groups: 7 },
    { name: 'depthwise 3x3 stride 2 pad 1 C=5, 33x33', N: 3, C: 5, H: 33, W: 33, O: 5, KH: 3, KW: 3, stride: 2, padding: 1, groups: 5 },
    { name: 'depthwise 3x3 stride [2, 1] dilation 2 pad [2, 1] C=4, 9x8', N: 3, C: 4, H: 9, W: 8, O: 4, KH: 3, KW: 3, stride: [2, 1], padding: [2, 1], dilation: 2, groups: 4 },
    { name: 'depthwise 5x5 pad 2 C=3, 7x9', N: 3, C: 3, H: 7, W: 9, O: 3, KH: 5, KW: 5, padding: 2, groups: 3 },
    { name: 'depthwise multiplier 2 (groups 3, 3->6) 3x3 pad 1, 7x7', N: 3, C: 3, H: 7, W: 7, O: 6, KH: 3, KW: 3, padding: 1, groups: 3 },
  ];
  for (const c of dense) it(c.name, () => checkCase(c));
  for (const c of depthwise) it(c.name, () => checkCase(c));

  it('grids folded into y when an adapter allows few workgroups per dimension', async () => {
    // Pretend the limit is 4 so the x*y folding (and each kernel's tail guard) runs on small shapes:
    // e.g. 3*33*33 output pixels are 7 workgroups of the forward GEMM, folded 4 x 2.
    const limits = rt().info.limits;
    const saved = limits.maxComputeWorkgroupsPerDimension;
    limits.maxComputeWorkgroupsPerDimension = 4;
    try {
      await checkCase({ name: 'folded dense 3x3 3->5 pad 1, 33x33', N: 3, C: 3, H: 33, W: 33, O: 5, KH: 3, KW: 3, padding: 1, bias: true });
      await checkCase({ name: 'folded depthwise 3x3 C=5 pad 1, 33x33', N: 3, C: 5, H: 33, W: 33, O: 5, KH: 3, KW: 3, padding: 1, groups: 5 });
      await checkCase({ name: 'folded depthwise 3x3 C=5 stride 2 pad 1, 33x33', N: 3, C: 5, H: 33, W: 33, O: 5, KH: 3, KW: 3, stride: 2, padding: 1, groups: 5 });
    } finally {
      limits.maxComputeWorkgroupsPerDimension = saved;
    }
  });

  it("a GPU's tile shapes (the other tuning) give the same results", async () => {
    const conv = rt().tuning.conv;
    const saved = structuredClone(conv);
    Object.assign(conv, chooseTuning({ ...rt().info, isSoftware: !rt().info.isSoftware }).conv);
    try {
      await checkCase({ name: 'other tiles: grouped 6 -> 9 groups 3, 3x3 stride 2 pad 1, 9x7', N: 3, C: 6, H: 9, W: 7, O: 9, KH: 3, KW: 3, stride: 2, padding: 1, groups: 3, bias: true });
      await checkCase({ name: 'other tiles: depthwise 5x5 dilation 2 pad 4 C=5, 11x9', N: 3, C: 5, H: 11, W: 9, O: 5, KH: 5, KW: 5, padding: 4, dilation: 2, groups: 5 });
      await checkCase({ name: 'other tiles: depthwise 3x3 stride 2 pad 1 C=5, 11x9', N: 3, C: 5, H: 11, W: 9, O: 5, KH: 3, KW: 3, stride: 2, padding: 1, groups: 5 });
    } finally {
      Object.assign(conv, saved);
    }
  });

  it('dense convs through the texture matmul (CPU rasterisers): forward, input and weight gradients; strides, dilation, padding, 5x5, batch chunks', async () => {
    const tuning = rt().tuning;
    const textures = rt().textures as { maxDimension: number };
    const saved = { matmulTexture: tuning.matmulTexture, maxDimension: textures.maxDimension };
    // Small blocks (5 rows, an odd count, x 8 columns) compile fast; matmul.test.ts covers the tile shapes.
    tuning.matmulTexture = { WG: 8, TM: 5, TN: 8, minWork: 0 };
    const dispatches = (mode: string) => dispatchCount(rt(), (k) => k.startsWith('matmul_texture[') && k.includes(mode));
    const before = { im2col: dispatches('IM2COL=1'), patches: dispatches('PATCHES_A=1') };
    try {
      // R = C*KH*KW is never a multiple of 4 here (the K padding), and OW is a multiple of 4.
      await checkCase({ name: 'textures: 3x3 5->7 pad 1, 13x12', N: 3, C: 5, H: 13, W: 12, O: 7, KH: 3, KW: 3, padding: 1 });
      await checkCase({ name: 'textures: 3x3 5->7 stride 2 pad 1, 13x15', N: 3, C: 5, H: 13, W: 15, O: 7, KH: 3, KW: 3, stride: 2, padding: 1 });
      await checkCase({ name: 'textures: 3x3 3->17 dilation 2 pad [1, 2], 9x12', N: 2, C: 3, H: 9, W: 12, O: 17, KH: 3, KW: 3, dilation: 2, padding: [1, 2] });
      await checkCase({ name: 'textures: 5x5 3->5 stride [1, 2] pad 2, 7x16', N: 2, C: 3, H: 7, W: 16, O: 5, KH: 5, KW: 5, stride: [1, 2], padding: 2 });
      // Textures of at most 312 rows: the batch runs in chunks (forward: 4 images of 5 x 15
      // padded rows; input gradient: 2 of 7 x 15; weight gradient: 2 of 156 pixels).
      textures.maxDimension = 312;
      await checkCase({ name: 'textures in batch chunks: 3x3 5->7 pad 1, batch 5, 13x12', N: 5, C: 5, H: 13, W: 12, O: 7, KH: 3, KW: 3, padding: 1 });
    } finally {
      Object.assign(tuning, { matmulTexture: saved.matmulTexture });
      textures.maxDimension = saved.maxDimension;
    }
    // Forwards 4 + 2 chunks; input gradients 3 (the second case's output width is 15, so it
    // takes the GEMM kernel) + 3 chunks. Weight gradients 4 + 3 chunks.
    expect(dispatches('IM2COL=1')).toBe(before.im2col + 4 + 2 + 3 + 3);
    expect(dispatches('PATCHES_A=1')).toBe(before.patches + 4 + 3);
  });

  it('1x1 conv weight gradients as per-image texture products, summed (CPU rasterisers)', async () => {
    const tuning = rt().tuning;
    const textures = rt().textures as { maxDimension: number };
    const saved = tuning.matmulTexture;
    const savedDimension = textures.maxDimension;
    tuning.matmulTexture = { WG: 8, TM: 5, TN: 8, minWork: 0 };
    const gemm = () => dispatchCount(rt(), (k) => k.startsWith('conv_weight_grad['));
    const before = gemm();
    try {
      // 8x8: g's rows of 64 values are copied into their texture; 7x9: packed.
      await checkCase({ name: 'textures: 1x1 8->6, 8x8', N: 3, C: 8, H: 8, W: 8, O: 6, KH: 1, KW: 1, bias: true });
      await checkCase({ name: 'textures: 1x1 5->7, 7x9', N: 2, C: 5, H: 7, W: 9, O: 7, KH: 1, KW: 1 });
      // Textures of 130 rows hold 2 images' 64 rows: the products run in chunks.
      textures.maxDimension = 130;
      await checkCase({ name: 'textures in chunks: 1x1 8->6, 8x8', N: 3, C: 8, H: 8, W: 8, O: 6, KH: 1, KW: 1 });
    } finally {
      tuning.matmulTexture = saved;
      textures.maxDimension = savedDimension;
    }
    expect(gemm()).toBe(before);
  });

  it('depthwise convs reading texture copies of their inputs (CPU rasterisers): forward, input and weight gradients; padding not a multiple of 4, negative, stride 2, dilation, bias', async () => {
    const conv = rt().tuning.conv;
    const textures = rt().textures as { maxDimension: number };
    const saved = { depthwiseTexture: conv.depthwiseTexture, depthwiseWeightGradTexture: conv.depthwiseWeightGradTexture, maxDimension: textures.maxDimension };
    conv.depthwiseTexture = { WG: 64, TH: 2, TW: 16 };
    conv.depthwiseWeightGradTexture = { WG: 64, TW: 8, threads: 512, minChunk: 4 };
    const dispatches = () => dispatchCount(rt(), (k) => k.startsWith('conv_depthwise_texture'));
    const weightGrads = () => dispatchCount(rt(), (k) => k.startsWith('conv_depthwise_weight_grad_texture'));
    const before = dispatches();
    const beforeWeightGrads = weightGrads();
    try {
      // 5460 floats: one full texture row of 1024 texels and 341 more; width padding 2 (input
      // gradient: 6) starts the segment 2 columns into a texel.
      await checkCase({ name: 'texture: depthwise 5x5 dilation 2 pad [3, 2] C=5, 13x28, bias', N: 3, C: 5, H: 13, W: 28, O: 5, KH: 5, KW: 5, dilation: 2, padding: [3, 2], groups: 5, bias: true });
      // Padding 3 (1 column into a texel) with a 3x3 kernel: the input gradient's padding is -1.
      await checkCase({ name: 'texture: depthwise 3x3 pad 3 C=3, 7x12 (input gradient pad -1)', N: 2, C: 3, H: 7, W: 12, O: 3, KH: 3, KW: 3, padding: 3, groups: 3 });
      // Stride 2: the forward reads a texture; the input gradient (zero insertion) and the weight
      // gradient (output width 10) do not.
      await checkCase({ name: 'texture: depthwise 3x3 stride 2 pad 1 C=3, 11x20', N: 2, C: 3, H: 11, W: 20, O: 3, KH: 3, KW: 3, stride: 2, padding: 1, groups: 3 });
      // Exactly one texture row (4096 floats); a map narrower than a tile (less than a row).
      await checkCase({ name: 'texture: depthwise 3x3 pad 1 C=4, 16x32', N: 2, C: 4, H: 16, W: 32, O: 4, KH: 3, KW: 3, padding: 1, groups: 4 });
      await checkCase({ name: 'texture: depthwise 3x3 pad 1 C=6, 5x4', N: 3, C: 6, H: 5, W: 4, O: 6, KH: 3, KW: 3, padding: 1, groups: 6 });
      expect(dispatches()).toBe(before + 2 + 2 + 1 + 2 + 2);
      expect(weightGrads()).toBe(beforeWeightGrads + 4);
      // A texture that would exceed the adapter's size: the buffer kernel.
      textures.maxDimension = 1;
      await checkCase({ name: 'texture too large: depthwise 3x3 pad 1 C=5, 13x28', N: 3, C: 5, H: 13, W: 28, O: 5, KH: 3, KW: 3, padding: 1, groups: 5 });
      expect(dispatches()).toBe(before + 9);
      expect(weightGrads()).toBe(beforeWeightGrads + 4);
    } finally {
      conv.depthwiseTexture = saved.depthwiseTexture;
      conv.depthwiseWeightGradTexture = saved.depthwiseWeightGradTexture;
      textures.maxDimension = saved.maxDimension;
    }
  });

  it('a batch large enough for several weight-gradient splits (dense and depthwise)', async () => {
    await checkCase({ name: 'dense 3x3 8->8 pad 1, batch 9, 16x16', N: 9, C: 8, H: 16, W: 16, O: 8, KH: 3, KW: 3, padding: 1 });
    await checkCase({ name: 'depthwise 3x3 C=8 pad 1, batch 9, 16x16', N: 9, C: 8, H: 16, W: 16, O: 8, KH: 3, KW: 3, padding: 1, groups: 8 });
  });
});

describe('conv2d reference gradients by central finite differences (float64)', () => {
  const tiny: Case[] = [
    { name: 'tiny 3x3 stride 2 pad 1', N: 2, C: 2, H: 5, W: 4, O: 3, KH: 3, KW: 3, stride: 2, padding: 1 },
    { name: 'tiny grouped dilated', N: 1, C: 4, H: 5, W: 5, O: 2, KH: 2, KW: 3, dilation: [2, 1], padding: [1, 0], groups: 2 },
  ];
  for (const c of tiny) {
    it(c.name, () => {
      const next = rng(freshSeed(`conv fd ${c.name}`));
      const groups = c.groups ?? 1;
      const p = refParams(c);
      const xShape = [c.N, c.C, c.H, c.W];
      const wShape = [c.O, c.C / groups, c.KH, c.KW];
      const yShape = refOutputShape(xShape, wShape, p);
      const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
      const x = Float64Array.from(randomArray(size(xShape), next));
      const w = Float64Array.from(randomArray(size(wShape), next));
      const b = Float64Array.from(randomArray(c.O, next));
      const r = Float64Array.from(randomArray(size(yShape), next));
      // loss = sum(conv(x, w) + b) * r): its gradients are the reference backward passes with g = r.
      const loss = (xx: Float64Array, ww: Float64Array, bb: Float64Array) =>
        convForwardRef(xx, xShape, ww, wShape, p, bb).reduce((s, v, i) => s + v * r[i], 0);
      const close = (got: Float64Array, want: Float64Array, what: string) => {
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `${what}[${i}]`).toBeLessThan(1e-6);
      };
      close(convBackwardInputRef(r, w, xShape, wShape, p), finiteDifference((v) => loss(v, w, b), x), 'dx');
      close(convBackwardWeightRef(x, r, xShape, wShape, p), finiteDifference((v) => loss(x, v, b), w), 'dw');
      close(convBackwardBiasRef(r, yShape), finiteDifference((v) => loss(x, w, v), b), 'db');
    });
  }
});

describe('conv2d autograd', () => {
  const c: Case = { name: 'autograd', N: 3, C: 6, H: 7, W: 7, O: 4, KH: 3, KW: 3, padding: 1, stride: 2, groups: 2 };
  const setup = (seedName: string) => {
    const next = rng(freshSeed(seedName));
    const p = refParams(c);
    const xShape = [c.N, c.C, c.H, c.W];
    const wShape = [c.O, c.C / 2, c.KH, c.KW];
    const yShape = refOutputShape(xShape, wShape, p);
    const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
    const data = {
      x: randomArray(size(xShape), next), w: randomArray(size(wShape), next), B: randomArray(size(wShape), next),
      b: randomArray(c.O, next), g: randomArray(size(yShape), next),
    };
    const t = {
      x: Tensor.fromData(data.x, xShape), w: Tensor.fromData(data.w, wShape), B: Tensor.fromData(data.B, wShape),
      b: Tensor.fromData(data.b, [c.O]), g: Tensor.fromData(data.g, yShape),
    };
    t.x.requiresGrad = t.w.requiresGrad = t.b.requiresGrad = true;
    return { p, xShape, wShape, yShape, data, t };
  };

  it('back-propagation: dx with W, exact dW and db', async () => {
    const { p, xShape, wShape, yShape, data, t } = setup('conv autograd bp');
    const y = conv2d(t.x, t.w, { ...params(c), bias: t.b });
    expectClose(await y.data(), convForwardRef(data.x, xShape, data.w, wShape, p, data.b), 1e-4, 'forward');
    backward(y, t.g);
    expectClose(await t.x.grad!.data(), convBackwardInputRef(data.g, data.w, xShape, wShape, p), 1e-4, 'dx');
    expectClose(await t.w.grad!.data(), convBackwardWeightRef(data.x, data.g, xShape, wShape, p), 1e-4, 'dw');
    expectClose(await t.b.grad!.data(), convBackwardBiasRef(data.g, yShape), 1e-4, 'db');
  });

  it('a feedback matrix replaces W in dx only, and exactGradients() ignores it', async () => {
    const { p, xShape, wShape, data, t } = setup('conv autograd feedback');
    const y = conv2d(t.x, t.w, { ...params(c), bias: t.b, feedback: t.B });
    backward(y, t.g);
    expectClose(await t.x.grad!.data(), convBackwardInputRef(data.g, data.B, xShape, wShape, p), 1e-4, 'dx with B');
    expectClose(await t.w.grad!.data(), convBackwardWeightRef(data.x, data.g, xShape, wShape, p), 1e-4, 'dw exact');
    t.x.grad!.release();
    t.x.grad = null;
    withExactGradients(() => backward(conv2d(t.x, t.w, { ...params(c), feedback: t.B }), t.g));
    expectClose(await t.x.grad!.data(), convBackwardInputRef(data.g, data.w, xShape, wShape, p), 1e-4, 'dx exact');
    t.x.grad!.release();
    t.x.grad = null;
    // Recorded outside, run inside: still W.
    const y2 = conv2d(t.x, t.w, { ...params(c), feedback: t.B });
    withExactGradients(() => backward(y2, t.g));
    expectClose(await t.x.grad!.data(), convBackwardInputRef(data.g, data.w, xShape, wShape, p), 1e-4, 'dx exact at backward');
  });

  it('no leak: after forward and backward only the gradients stay allocated', async () => {
    const { t } = setup('conv autograd leak');
    const before = rt().pool.liveBytes;
    const y = conv2d(t.x, t.w, { ...params(c), bias: t.b });
    backward(y, t.g);
    y.release();
    const grads = [t.x.grad!, t.w.grad!, t.b.grad!];
    const gradBytes = grads.reduce((s, g) => s + g.buffer.bytes, 0);
    expect(rt().pool.liveBytes - before).toBe(gradBytes);
    await rt().sync();
  });
});

describe('conv2d validation', () => {
  const x = () => Tensor.fromData(new Float32Array(3 * 5 * 7 * 7), [3, 5, 7, 7]);
  it('bad shapes and parameters throw errors naming the op and the shapes', () => {
    const w = Tensor.fromData(new Float32Array(8 * 4 * 9), [8, 4, 3, 3]);
    expect(() => conv2d(x(), w)).toThrow(/conv2d: input \[3, 5, 7, 7\] has 5 channels, weight \[8, 4, 3, 3\] expects 4/);
    const w5 = Tensor.fromData(new Float32Array(8 * 5 * 9), [8, 5, 3, 3]);
    expect(() => conv2d(x(), w5, { groups: 2 })).toThrow(/conv2d: input \[3, 5, 7, 7\] has 5 channels, not divisible by groups 2/);
    const w6 = Tensor.fromData(new Float32Array(7 * 1 * 9), [7, 1, 3, 3]);
    expect(() => conv2d(x(), w6, { groups: 5 })).toThrow(/conv2d: weight \[7, 1, 3, 3\] has 7 output channels, not divisible by groups 5/);
    const big = Tensor.fromData(new Float32Array(8 * 5 * 81), [8, 5, 9, 9]);
    expect(() => conv2d(x(), big)).toThrow(/conv2d: output size -1x-1 is not positive for input \[3, 5, 7, 7\] and weight \[8, 5, 9, 9\]/);
    const x3 = Tensor.fromData(new Float32Array(5 * 49), [5, 7, 7]);
    expect(() => conv2d(x3, w5)).toThrow(/conv2d: input must be 4-D \[N, C, H, W\], got \[5, 7, 7\]/);
    const xi = Tensor.fromData(new Int32Array(3 * 5 * 49), [3, 5, 7, 7], 'i32');
    expect(() => conv2d(xi, w5)).toThrow(/conv2d: input must be an f32 tensor, got i32 \[3, 5, 7, 7\]/);
    expect(() => conv2d(x(), w5, { stride: 0 })).toThrow(/conv2d: stride must be a positive integer/);
    expect(() => conv2d(x(), w5, { padding: -1 })).toThrow(/conv2d: padding must be a non-negative integer/);
    const b = Tensor.fromData(new Float32Array(7), [7]);
    expect(() => conv2d(x(), w5, { bias: b })).toThrow(/conv2d: bias \[7\] does not match weight \[8, 5, 3, 3\]/);
    const fb = Tensor.fromData(new Float32Array(8 * 5 * 4), [8, 5, 2, 2]);
    expect(() => conv2d(x(), w5, { feedback: fb })).toThrow(/conv2d: feedback \[8, 5, 2, 2\] must have the weight's shape \[8, 5, 3, 3\]/);
    const g = Tensor.fromData(new Float32Array(3 * 8 * 30), [3, 8, 5, 6]);
    expect(() => conv2dBackwardInput(g, w5, [3, 5, 7, 7])).toThrow(/conv2dBackwardInput: gradient \[3, 8, 5, 6\] does not match the conv's output \[3, 8, 5, 5\]/);
    expect(() => conv2dBackwardWeight(x(), g, [8, 5, 3, 3])).toThrow(/conv2dBackwardWeight: gradient \[3, 8, 5, 6\] does not match the conv's output \[3, 8, 5, 5\]/);
  });
});
