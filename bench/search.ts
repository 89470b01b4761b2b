// Search speed: one DARTS MixedOp (the 8 DARTS ops, batch 32, C=16, 32x32) forward+backward
// in bionas and in tfjs-backend-webgpu; search iterations (alpha step + weight step) of the
// tiny and default supernets; BioNAS-EG candidates scored per second.

import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import type { BenchCase, Runnable } from './harness.js';
import { scope, keep } from '../src/tensor.js';
import { backward } from '../src/autograd.js';
import { Generator, randomNormal } from '../src/ops/random.js';
import { mul } from '../src/ops/elementwise.js';
import { sum } from '../src/ops/reduce.js';
import { parameter } from '../src/nn/module.js';
import { SPACE_PRESETS } from '../src/search/space.js';
import { MixedOp, edgeWeights, DartsSupernet } from '../src/search/supernet.js';
import { searchStep, makeOptimizers, newStats, releaseStats, DARTS_SEARCH, type DartsConfig } from '../src/search/darts.js';
import { scoreCandidates } from '../src/search/strategies/eg_score.js';
import { syntheticDataset } from '../src/data/synthetic.js';
import { BatchLoader, type Batch } from '../src/data/loader.js';

const [N, C, H] = [32, 16, 32];
// Multiply-adds per image of the 8 DARTS ops at stride 1 (sep convs run twice), x2 flops,
// x3 for forward + backward (input and weight gradients).
const HW = H * H;
const MACS = 2 * (9 * C * HW + C * C * HW) + 2 * (25 * C * HW + C * C * HW) + (9 * C * HW + C * C * HW) + (25 * C * HW + C * C * HW);
const MIXED_FLOPS = 3 * 2 * MACS * N;

function bionasMixedOp(): Runnable {
  const gen = new Generator(3);
  const op = new MixedOp(SPACE_PRESETS.darts, C, 1, gen, 10);
  const alpha = parameter(randomNormal([1, 8], gen, 0, 1e-3));
  const x = keep(randomNormal([N, C, H, H], gen));
  x.requiresGrad = true;
  const g = keep(randomNormal([N, C, H, H], gen));
  return {
    run: () => scope(() => {
      backward(sum(mul(op.mix(x, edgeWeights(alpha)[0]), g)));
      for (const p of [...op.parameters(), alpha, x]) {
        p.grad?.release();
        p.grad = null;
      }
    }),
    dispose: () => {
      op.dispose();
      for (const t of [alpha, x, g]) t.release();
    },
  };
}

/**
 * The same MixedOp in tfjs (NHWC). tfjs-backend-webgpu has no gradient for avgPool, moments or
 * dilated depthwise convs, so: BN from two means; the 3x3 average pool (padding not counted) as
 * a depthwise conv with ones divided by the valid-pixel count; a dilated k x k depthwise conv as
 * an undilated (2k-1) x (2k-1) one whose filter has zeros between the taps (more work for tfjs).
 */
function tfjsMixedOp(tf: any): Runnable {
  const x = tf.randomNormal([N, H, H, C]);
  const g = tf.randomNormal([N, H, H, C]);
  const alpha = tf.randomNormal([8], 0, 1e-3);
  const dw = (k: number) => tf.randomNormal([k, k, C, 1], 0, 0.1);
  const dilated = (k: number) => {
    const span = 2 * k - 1;
    const mask = new Float32Array(span * span * C);
    for (let i = 0; i < span; i += 2) for (let j = 0; j < span; j += 2) for (let c = 0; c < C; c++) mask[(i * span + j) * C + c] = 1;
    return tf.mul(tf.randomNormal([span, span, C, 1], 0, 0.1), tf.tensor4d(mask, [span, span, C, 1]));
  };
  const pw = () => tf.randomNormal([1, 1, C, C], 0, 0.1);
  const weights = [dw(3), pw(), dw(3), pw(), dw(5), pw(), dw(5), pw(), dilated(3), pw(), dilated(5), pw()];
  const ones = tf.ones([3, 3, C, 1]);
  const count = tf.depthwiseConv2d(tf.ones([1, H, H, C]), ones, 1, 'same');
  const bn = (y: any) => {
    const m = tf.mean(y, [0, 1, 2], true);
    const d = tf.sub(y, m);
    return tf.div(d, tf.sqrt(tf.add(tf.mean(tf.mul(d, d), [0, 1, 2], true), 1e-5)));
  };
  const sep = (y: any, d: any, p: any) => bn(tf.conv2d(tf.depthwiseConv2d(tf.relu(y), d, 1, 'same'), p, 1, 'same'));
  const f = (xi: any, a: any, ...w: any[]) => {
    const s = tf.softmax(a);
    const outs = [
      bn(tf.maxPool(xi, 3, 1, 'same')),
      bn(tf.div(tf.depthwiseConv2d(xi, ones, 1, 'same'), count)),
      xi,
      sep(sep(xi, w[0], w[1]), w[2], w[3]),
      sep(sep(xi, w[4], w[5]), w[6], w[7]),
      sep(xi, w[8], w[9]),
      sep(xi, w[10], w[11]),
    ];
    // Pair 0 is 'none': its output is zero.
    const mixed = outs.reduce((acc: any, o: any, i: number) => tf.add(acc, tf.mul(o, tf.slice(s, [i + 1], [1]))), tf.zerosLike(xi));
    return tf.sum(tf.mul(mixed, g));
  };
  const grads = tf.grads(f);
  return {
    run: () => {
      const out = grads([x, alpha, ...weights]);
      const last = out[1];
      out.forEach((t: any) => t !== last && t.dispose());
      return last;
    },
    dispose: () => [x, g, alpha, ones, count, ...weights].forEach((t: any) => t.dispose()),
  };
}

function searchIteration(preset: { C: number; layers: number; steps: number; batch: number; size: number }, second = false): Runnable {
  const gen = new Generator(5);
  const model = new DartsSupernet(SPACE_PRESETS.bionas, { C: preset.C, layers: preset.layers, steps: preset.steps, numClasses: 10, gen });
  const config: DartsConfig = { ...DARTS_SEARCH, batchSize: preset.batch, seed: 0, secondOrder: second };
  const { wOpt, aOpt } = makeOptimizers(model, config);
  const stats = newStats();
  const data = syntheticDataset({ count: 2 * preset.batch, size: preset.size, seed: 1 });
  const [train, valid] = [...new BatchLoader(data, { batchSize: preset.batch }).epoch(0)];
  const batches = [train, valid].map((b) => ({ ...b, x: keep(b.x), y: keep(b.y) }));
  return {
    run: () => searchStep(model, batches[0], batches[1], config, config.lr, wOpt, aOpt, stats),
    dispose: () => {
      releaseStats(stats);
      wOpt.dispose();
      aOpt.dispose();
      model.dispose();
      for (const b of batches) {
        b.x.release();
        b.y.release();
      }
    },
  };
}

/** A generation of the CLI's tiny EG preset: `population` candidates on one held-out batch. */
function egScoring(population: number, perPass: number): Runnable {
  const gen = new Generator(6);
  const model = new DartsSupernet(SPACE_PRESETS.bionas, { C: TINY.C, layers: TINY.layers, steps: TINY.steps, numClasses: 10, gen });
  const data = syntheticDataset({ count: TINY.batch, size: TINY.size, seed: 2 });
  const b = new BatchLoader(data, { batchSize: TINY.batch }).epoch(0).next().value as Batch;
  const n = model.alphas.reduce((a, t) => a + t.size, 0);
  const xs = Array.from({ length: population }, (_, i) => Float64Array.from({ length: n }, (_, j) => Math.sin(i * 7 + j) * 1e-2));
  return {
    run: () => scoreCandidates(model, xs, b, perPass),
    dispose: () => {
      model.dispose();
      b.x.release();
      b.y.release();
    },
  };
}

// The CLI's tiny preset (3 cells of 2 nodes, 16x16) and DARTS' search supernet.
const TINY = { C: 4, layers: 3, steps: 2, batch: 16, size: 16 };
const DEFAULT = { C: 16, layers: 8, steps: 4, batch: 64, size: 32 };

export const cases: BenchCase[] = [
  {
    name: `DARTS MixedOp (8 ops) fwd+bwd batch ${N} C=${C} ${H}x${H}`,
    family: 'search', flops: MIXED_FLOPS, bytes: 0, items: N, profile: true,
    bionas: bionasMixedOp, tfjs: tfjsMixedOp,
  },
  {
    name: `search iteration, bionas space, tiny supernet (C=${TINY.C}, ${TINY.layers} cells of ${TINY.steps} nodes, batch ${TINY.batch}, ${TINY.size}x${TINY.size})`,
    family: 'search', flops: 0, bytes: 0, items: 2 * TINY.batch, profile: true,
    bionas: () => searchIteration(TINY),
  },
  {
    name: `search iteration, bionas space, DARTS supernet (C=${DEFAULT.C}, ${DEFAULT.layers} cells, batch ${DEFAULT.batch})`,
    family: 'search-default', flops: 0, bytes: 0, items: 2 * DEFAULT.batch, profile: true,
    bionas: () => searchIteration(DEFAULT),
  },
  ...[1, 8].map((perPass): BenchCase => ({
    name: `EG candidates scored, tiny supernet (bionas space, batch ${TINY.batch}, ${TINY.size}x${TINY.size}), population 8, ${perPass} per pass`,
    family: 'search', flops: 0, bytes: 0, items: 8,
    bionas: () => egScoring(8, perPass),
  })),
];
