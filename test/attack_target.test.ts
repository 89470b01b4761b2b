import { describe, it, expect } from 'vitest';
import { useGpu, rng, freshSeed, randomArray, expectClose } from './util.js';
import { Tensor, scope } from '../src/tensor.js';
import { backward } from '../src/autograd.js';
import { Generator } from '../src/ops/random.js';
import { sum } from '../src/ops/reduce.js';
import { crossEntropy } from '../src/ops/loss.js';
import { channelAffine } from '../src/ops/channel_affine.js';
import { Linear } from '../src/nn/layers.js';
import { Sequential } from '../src/nn/module.js';
import { Flatten } from '../src/nn/basic.js';
import { attackTarget, inputGradient, targetLogits } from '../src/attack/target.js';
import type { RuleName } from '../src/rules/rule.js';

useGpu();

describe('channel affine (normalisation inside the model)', () => {
  it('maps x[n, c] to x * a[c] + b[c] and sends g * a[c] back, on an odd shape', async () => {
    const r = rng(freshSeed('channel affine'));
    const shape = [3, 3, 5, 7];
    const x = randomArray(3 * 3 * 5 * 7, r), g = randomArray(x.length, r);
    const a = [0.7, -1.3, 2.1], b = [0.1, 0.2, -0.4];
    const xt = Tensor.fromData(x, shape);
    xt.requiresGrad = true;
    const out = channelAffine(xt, a, b);
    const want = x.map((v, i) => v * a[Math.floor(i / 35) % 3] + b[Math.floor(i / 35) % 3]);
    expectClose(await out.data(), want, 1e-6, 'forward');
    backward(out, Tensor.fromData(g, shape));
    expectClose(await xt.grad!.data(), g.map((v, i) => v * a[Math.floor(i / 35) % 3]), 1e-6, 'backward');
  });

  it('refuses more than 4 channels and a wrong number of scales', () => {
    expect(() => channelAffine(Tensor.empty([1, 5, 2, 2]), [1, 1, 1, 1, 1], [0, 0, 0, 0, 0])).toThrow(/at most 4 channels/);
    expect(() => channelAffine(Tensor.empty([1, 3, 2, 2]), [1, 1], [0, 0])).toThrow(/3 channels but 2 scales/);
  });
});

// A linear softmax model on normalised images: dCE/dx = (1/std) * F^T (softmax(z) - onehot) / N,
// F = W for the exact gradient and for BP, F = B for FA's rule gradient.
function linearModel(rule: RuleName, seed: number) {
  const fc = new Linear(3 * 2 * 2, 4, { rule, gen: new Generator(seed), numClasses: 4 });
  return { fc, model: new Sequential(new Flatten(), fc) };
}

async function closedForm(fc: Linear, F: Tensor, x: Float32Array, y: number[], mean: number[], std: number[]): Promise<Float64Array> {
  const [W, bias, Fd] = [await fc.weight.data(), await fc.bias!.data(), await F.data()];
  const N = y.length, D = 12, K = 4;
  const grad = new Float64Array(N * D);
  for (let n = 0; n < N; n++) {
    const xn = Array.from({ length: D }, (_, d) => (x[n * D + d] - mean[Math.floor(d / 4)]) / std[Math.floor(d / 4)]);
    const z = Array.from({ length: K }, (_, k) => bias[k] + xn.reduce((s, v, d) => s + v * W[k * D + d], 0));
    const m = Math.max(...z), e = z.map((v) => Math.exp(v - m)), s = e.reduce((p, q) => p + q, 0);
    const p = e.map((v, k) => v / s - (k === y[n] ? 1 : 0));
    for (let d = 0; d < D; d++) grad[n * D + d] = p.reduce((acc, pk, k) => acc + pk * Fd[k * D + d], 0) / N / std[Math.floor(d / 4)];
  }
  return grad;
}

describe('attack target: input gradients from the rule or exact', () => {
  const mean = [0.4914, 0.4822, 0.4465], std = [0.247, 0.2435, 0.2616];

  it('gives the closed-form gradient of a linear softmax model; under FA the rule sends B, exact sends W', async () => {
    const seed = freshSeed('attack target gradient');
    const r = rng(seed);
    const x = Float32Array.from(randomArray(5 * 12, r), (v) => (v + 1) / 2);
    const y = [0, 3, 1, 2, 3];
    for (const rule of ['bp', 'fa'] as RuleName[]) {
      const { fc, model } = linearModel(rule, seed);
      const target = attackTarget(model, { mean, std, numClasses: 4, name: `linear (${rule})` });
      const xt = Tensor.fromData(x, [5, 3, 2, 2]);
      const yt = Tensor.fromData(y, [5], 'i32');
      for (const source of ['rule', 'exact'] as const) {
        const { grad, logits } = inputGradient(target, xt, (z) => crossEntropy(z, yt), source);
        const F = source === 'rule' && rule === 'fa' ? fc.rule.matrix! : fc.weight;
        expectClose(await grad.data(), await closedForm(fc, F, x, y, mean, std), 1e-4, `${rule}/${source}`);
        expect(logits.shape).toEqual([5, 4]);
        grad.release();
        logits.release();
      }
      expect(fc.weight.grad).toBeNull();
      expect(fc.weight.requiresGrad).toBe(true);
      model.dispose();
    }
  });

  it('leaves the model untouched and refuses images of the wrong channel count', async () => {
    const seed = freshSeed('attack target side effects');
    const { fc, model } = linearModel('fa', seed);
    const target = attackTarget(model, { mean, std, numClasses: 4, name: 'linear' });
    const before = await fc.weight.data();
    const x = Tensor.fromData(Float32Array.from(randomArray(2 * 12, rng(seed)), (v) => (v + 1) / 2), [2, 3, 2, 2]);
    scope(() => targetLogits(target, x).release());
    const { grad, logits } = inputGradient(target, x, (z) => sum(z), 'rule');
    grad.release();
    logits.release();
    expect(Array.from(await fc.weight.data())).toEqual(Array.from(before));
    expect(() => targetLogits(target, Tensor.empty([2, 1, 2, 2]))).toThrow(/images must be \[N, 3, H, W\]/);
    model.dispose();
  });
});
