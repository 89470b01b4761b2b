// Runs in headless Chromium against the browser bundle users load (dist/bionas.browser.mjs):
// kernels against the CPU references on seeded inputs, a training run and a tiny DARTS search.
// test/browser.test.ts bundles this file, serves it and reads the report it POSTs back.

import type * as Bionas from '../../src/index.js';
import { rng, randomArray, relError } from '../reference/inputs.js';
import { matmulRef } from '../reference/matmul.js';
import { convForwardRef, convBackwardInputRef, convBackwardWeightRef, refOutputShape, type ConvRefParams } from '../reference/conv.js';
import { maxPoolRef } from '../reference/pool.js';
import { batchNormRef } from '../reference/batchnorm.js';
import { crossEntropyRef } from '../reference/loss.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  ms: number;
}

export interface PageReport {
  adapter: unknown;
  checks: CheckResult[];
  /** The search's alpha heat map, to look at. */
  svg?: string;
  error?: string;
}

const query = new URLSearchParams(location.search);
const seed = Number(query.get('seed') ?? 1);
const level = (query.get('level') ?? undefined) as 'core' | 'compatibility' | undefined;
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

async function main(): Promise<PageReport> {
  const b: typeof Bionas = await import(/* served by the test */ '/dist/bionas.browser.mjs' as string);
  const rt = await b.initGpu({ featureLevel: level });
  rt.poison = true; // every fresh buffer starts as NaN, so an unwritten output fails its check
  const report: PageReport = { adapter: rt.info, checks: [] };
  const check = async (name: string, f: () => Promise<string>) => {
    const t0 = performance.now();
    try {
      report.checks.push({ name, ok: true, detail: await f(), ms: performance.now() - t0 });
    } catch (e) {
      report.checks.push({ name, ok: false, detail: String((e as Error)?.stack ?? e), ms: performance.now() - t0 });
    }
  };
  const within = (got: ArrayLike<number>, want: ArrayLike<number>, what: string) => {
    const err = relError(got, want);
    if (!(err < 1e-4)) throw new Error(`${what}: relative error ${err}`);
    return `${what} ${err.toExponential(1)}`;
  };
  const next = rng(seed);
  // Adapters that report being software (SwiftShader does; Chromium hides llvmpipe's identity
  // behind ANGLE, which then gets a GPU's tuning) must take the texture paths: each of `kernels`
  // (a part of a kernel's label) must be dispatched.
  const dispatches = (part: string) => [...rt.recorder.counts].filter(([k]) => k.includes(part)).reduce((n, [, v]) => n + v, 0);
  const throughTextures = async (kernels: string[], f: () => Promise<string>) => {
    const before = kernels.map(dispatches);
    const detail = await f();
    const used = kernels.map((m, i) => dispatches(m) - before[i]);
    if (rt.info.isSoftware && used.some((n) => n === 0)) throw new Error(`a software adapter did not take the texture path (${kernels.join(', ')}: ${used.join(', ')})`);
    return `${detail}; texture dispatches ${used.join(', ')}`;
  };

  await check('matmul 37x29 by (45x29)^T against the CPU', async () => {
    const A = randomArray(37 * 29, next), B = randomArray(45 * 29, next);
    const y = b.matmul(b.Tensor.fromData(A, [37, 29]), b.Tensor.fromData(B, [45, 29]), { transB: true });
    return within(await y.data(), matmulRef(A, B, 37, 29, 45, { transB: true }), 'C');
  });

  // 97*65*89 multiply-adds: past tuning.matmulTexture.minWork (2^19), so software adapters pack
  // both operands into textures (A transposed, to cover the pack's transpose too).
  await check('matmul (65x97)^T by 65x89 against the CPU (through textures on adapters that report being software)', async () => {
    const A = randomArray(65 * 97, next), B = randomArray(65 * 89, next);
    return throughTextures(['matmul_texture['], async () => {
      const y = b.matmul(b.Tensor.fromData(A, [65, 97]), b.Tensor.fromData(B, [65, 89]), { transA: true });
      return within(await y.data(), matmulRef(A, B, 97, 65, 89, { transA: true }), 'C');
    });
  });

  // Forward, input gradient through a feedback matrix B, and weight gradient, against the CPU.
  const checkConv = async (xShape: number[], wShape: number[], stride: number, padding: number) => {
    const p: ConvRefParams = { stride: [stride, stride], padding: [padding, padding], dilation: [1, 1], groups: 1 };
    const x = randomArray(size(xShape), next), w = randomArray(size(wShape), next), B = randomArray(size(wShape), next);
    const yShape = refOutputShape(xShape, wShape, p);
    const g = randomArray(size(yShape), next);
    const tx = b.Tensor.fromData(x, xShape), tw = b.Tensor.fromData(w, wShape);
    tx.requiresGrad = tw.requiresGrad = true;
    const y = b.conv2d(tx, tw, { stride, padding, feedback: b.Tensor.fromData(B, wShape) });
    const forward = within(await y.data(), convForwardRef(x, xShape, w, wShape, p), 'y');
    b.backward(y, b.Tensor.fromData(g, yShape));
    return [
      forward,
      within(await tx.grad!.data(), convBackwardInputRef(g, B, xShape, wShape, p), 'dx (through B)'),
      within(await tw.grad!.data(), convBackwardWeightRef(x, g, xShape, wShape, p), 'dW'),
    ].join(', ');
  };
  await check('conv2d 3x3 stride 2 with a feedback matrix: forward, input and weight gradients against the CPU',
    () => checkConv([3, 5, 13, 11], [7, 5, 3, 3], 2, 1));
  // Output width 16, 884736 multiply-adds: software adapters take the texture path (IM2COL, PATCHES_A).
  await check('conv2d 3x3 pad 1 on 16x16 maps, the same three (through textures on adapters that report being software)',
    () => throughTextures(['IM2COL=1', 'PATCHES_A=1'], () => checkConv([4, 8, 16, 16], [12, 8, 3, 3], 1, 1)));

  // Widths 12: software adapters read the input (forward), g (input gradient) and both (weight
  // gradient) from texture copies.
  await check('depthwise dilated conv 3x3 (groups = 6, dilation 2): forward, input and weight gradients against the CPU (through textures on adapters that report being software)', async () => {
    const xShape = [2, 6, 9, 12], wShape = [6, 1, 3, 3];
    const p: ConvRefParams = { stride: [1, 1], padding: [2, 2], dilation: [2, 2], groups: 6 };
    const x = randomArray(size(xShape), next), w = randomArray(size(wShape), next), g = randomArray(size(xShape), next);
    return throughTextures(['conv_depthwise_texture[', 'conv_depthwise_weight_grad_texture['], async () => {
      const tx = b.Tensor.fromData(x, xShape), tw = b.Tensor.fromData(w, wShape);
      tx.requiresGrad = tw.requiresGrad = true;
      const y = b.conv2d(tx, tw, { padding: 2, dilation: 2, groups: 6 });
      const forward = within(await y.data(), convForwardRef(x, xShape, w, wShape, p), 'y');
      b.backward(y, b.Tensor.fromData(g, xShape));
      return [
        forward,
        within(await tx.grad!.data(), convBackwardInputRef(g, w, xShape, wShape, p), 'dx'),
        within(await tw.grad!.data(), convBackwardWeightRef(x, g, xShape, wShape, p), 'dW'),
      ].join(', ');
    });
  });

  await check('max pool 3x3 stride 2 and batch norm (training) against the CPU', async () => {
    const shape = [2, 3, 9, 7];
    const x = randomArray(size(shape), next);
    const pooled = b.maxPool2d(b.Tensor.fromData(x, shape), { kernel: 3, stride: 2, padding: 1 });
    const pool = within(await pooled.data(), maxPoolRef(x, shape, { k: 3, s: 2, p: 1 }).out, 'max pool');
    const weight = randomArray(3, next), bias = randomArray(3, next);
    const y = b.batchNorm2d(b.Tensor.fromData(x, shape), {
      weight: b.Tensor.fromData(weight, [3]), bias: b.Tensor.fromData(bias, [3]),
      runningMean: b.Tensor.fromData(new Float32Array(3), [3]), runningVar: b.Tensor.fromData(new Float32Array(3).fill(1), [3]), training: true,
    });
    const want = batchNormRef(x, shape, { weight, bias, runningMean: [0, 0, 0], runningVar: [1, 1, 1], training: true, momentum: 0.1, eps: 1e-5 });
    return `${pool}, ${within(await y.data(), want.out, 'batch norm')}`;
  });

  await check('cross-entropy with label smoothing against the CPU', async () => {
    const logits = randomArray(5 * 7, next, -3, 3), labels = Int32Array.from({ length: 5 }, () => Math.floor(next() * 7));
    const loss = b.crossEntropy(b.Tensor.fromData(logits, [5, 7]), b.Tensor.fromData(labels, [5], 'i32'), { labelSmoothing: 0.1 });
    return within([await loss.item()], [crossEntropyRef(logits, labels, 5, 7, 0.1)], 'loss');
  });

  await check('bad input throws an error naming the op and the shapes', async () => {
    try {
      b.add(b.Tensor.fromData([1, 2, 3], [3]), b.Tensor.fromData([1, 2], [2]));
    } catch (e) {
      if (/add: shapes differ: \[3\] and \[2\]/.test(String(e))) return String(e);
      throw e;
    }
    throw new Error('add of [3] and [2] did not throw');
  });

  await check('a small CNN trains under feedback alignment (train(), 8 epochs)', async () => {
    const gen = new b.Generator(seed);
    const layer = { rule: 'fa' as const, gen, numClasses: 4 };
    const model = new b.Sequential(
      new b.Conv2d(3, 8, 3, { ...layer, padding: 1 }), new b.BatchNorm2d(8), new b.ReLU(), new b.MaxPool2d({ kernel: 2, stride: 2, padding: 0 }),
      new b.Conv2d(8, 16, 3, { ...layer, padding: 1 }), new b.BatchNorm2d(16), new b.ReLU(), new b.GlobalAvgPool(), new b.Linear(16, 4, layer),
    );
    const data = b.syntheticDataset({ count: 128, classes: 4, size: 12, seed, noise: 20 });
    const loader = new b.BatchLoader(data, { batchSize: 32, shuffle: true, seed, dropLast: true });
    const lines: string[] = [];
    const r = await b.train(model, { train: loader }, { ...b.DEFAULT_TRAIN, epochs: 8, batchSize: 32, lr: 0.05, weightDecay: 0, seed, logEvery: 4 },
      { gen, log: (s) => lines.push(s) });
    const first = r.history[0].trainLoss, last = r.final!.trainLoss;
    model.dispose();
    if (!(last < 0.75 * first)) throw new Error(`train loss ${first} -> ${last}\n${lines.join('\n')}`);
    return `train loss ${first.toFixed(3)} -> ${last.toFixed(3)}, ${Math.round(r.final!.imagesPerSec)} img/s`;
  });

  await check('a tiny DARTS search over (op, rule) pairs runs and derives a genotype', async () => {
    const gen = new b.Generator(seed);
    const space = b.parseSpace([{ op: 'none' }, { op: 'max_pool_3x3' }, { op: 'skip_connect', rule: 'usf' }, { op: 'sep_conv_3x3', rule: 'frsf' }, { op: 'dil_conv_3x3', rule: 'fa' }], 'page space');
    const model = new b.DartsSupernet(space, { C: 2, layers: 3, steps: 2, numClasses: 3, gen });
    const halves = b.splitDataset(b.syntheticDataset({ count: 64, classes: 3, size: 8, seed }), 32, seed);
    const loader = (half: number) => new b.BatchLoader(halves[half], { batchSize: 8, shuffle: true, seed: seed + half, dropLast: true });
    const before = await Promise.all(model.alphas.map((a) => a.data()));
    const r = await b.runDartsSearch(model, { train: loader(0), valid: loader(1) }, { ...b.DARTS_SEARCH, epochs: 2, batchSize: 8, logEvery: 2, seed, secondOrder: false },
      { gen, log: () => {} });
    const after = await Promise.all(model.alphas.map((a) => a.data()));
    if (!(relError(after[0], before[0]) > 1e-3)) throw new Error('the normal cell\'s alphas did not move');
    const genotype = b.parseGenotype(r.derived.genotype as Bionas.Genotype, 'derived');
    const normal = r.alphas.map((s) => s.weights.normal);
    report.svg = b.alphaHeatmapSvg('softmax(alpha), normal cell', normal.map((w) => w.flat()), normal[0].length, space.pairs.map((q) => `${q.op}/${q.rule}`));
    model.dispose();
    return `${r.history.length} epochs, ${Math.round(r.history[1].imagesPerSec)} img/s; normal cell ${genotype.normal.map((e) => `${e.op}/${e.rule}`).join(' ')}`;
  });

  b.shutdownGpu();
  return report;
}

main()
  .catch((e): PageReport => ({ adapter: null, checks: [], error: String((e as Error)?.stack ?? e) }))
  .then((r) => fetch('/report', { method: 'POST', body: JSON.stringify(r) }));
