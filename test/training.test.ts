import { describe, it, expect } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useGpu, freshSeed, fixedSeed } from './util.js';
import { Tensor, scope } from '../src/tensor.js';
import { backward } from '../src/autograd.js';
import { Generator } from '../src/ops/random.js';
import { crossEntropy } from '../src/ops/loss.js';
import { SGD } from '../src/optim/sgd.js';
import { Sequential, type Module } from '../src/nn/module.js';
import { Conv2d, Linear } from '../src/nn/layers.js';
import { BatchNorm2d } from '../src/nn/batchnorm.js';
import { ReLU, GlobalAvgPool, MaxPool2d } from '../src/nn/basic.js';
import { tapOutput, clearOutputError } from '../src/rules/dfa.js';
import type { RuleName } from '../src/rules/rule.js';
import { alignmentReport } from '../src/analysis/alignment.js';
import { gradientVariance } from '../src/analysis/gradient_variance.js';
import { syntheticDataset } from '../src/data/synthetic.js';
import { BatchLoader } from '../src/data/loader.js';
import { saveTensors, readState, loadInto } from '../src/run/state.js';
import { train, DEFAULT_TRAIN, type TrainConfig } from '../src/train/trainer.js';

const rt = useGpu();

class SmallCnn extends Sequential {
  override forward(x: Tensor): Tensor {
    return tapOutput(super.forward(x));
  }
}

function smallCnn(rule: RuleName, gen: Generator, classes = 4): Module {
  const layer = { rule, gen, numClasses: classes, init: 'xavier' as const };
  return new SmallCnn(
    new Conv2d(3, 8, 3, { ...layer, padding: 1 }), new BatchNorm2d(8), new ReLU(), new MaxPool2d({ kernel: 2, stride: 2, padding: 0 }),
    new Conv2d(8, 16, 3, { ...layer, padding: 1 }), new BatchNorm2d(16), new ReLU(),
    new GlobalAvgPool(), new Linear(16, classes, layer),
  );
}

/** Trains for `steps` and returns the mean loss of the first and last 5 steps. */
async function trainSteps(model: Module, steps: number, seed: number, lr: number): Promise<{ first: number; last: number }> {
  const data = syntheticDataset({ count: 64 * 4, classes: 4, size: 12, seed, noise: 20 });
  const loader = new BatchLoader(data, { batchSize: 32, shuffle: true, seed });
  const opt = new SGD(model.parameters(), { lr, momentum: 0.9 });
  const losses: Tensor[] = [];
  let step = 0;
  for (let epoch = 0; step < steps; epoch++) {
    for (const b of loader.epoch(epoch)) {
      if (step++ >= steps) { b.x.release(); b.y.release(); break; }
      losses.push(scope(() => {
        const loss = crossEntropy(model.forward(b.x), b.y);
        backward(loss);
        clearOutputError();
        opt.step();
        opt.zeroGrad();
        return loss;
      }));
      b.x.release();
      b.y.release();
    }
  }
  const values = await Promise.all(losses.map((l) => l.item()));
  losses.forEach((l) => l.release());
  opt.dispose();
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  return { first: mean(values.slice(0, 5)), last: mean(values.slice(-5)) };
}

describe('learning happens under every rule', () => {
  for (const rule of ['bp', 'fa', 'dfa', 'usf', 'brsf', 'frsf'] as RuleName[]) {
    it(`${rule}: a small CNN lowers its training loss on a synthetic task`, async () => {
      const seed = fixedSeed(`learning ${rule}`, 1);
      const model = smallCnn(rule, new Generator(seed));
      const { first, last } = await trainSteps(model, 60, seed, rule === 'dfa' ? 0.01 : 0.05);
      console.log(`${rule}: loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
      expect(last).toBeLessThan(first * 0.8);
      model.dispose();
    });
  }

  it('under FA the classifier\'s W turns towards its fixed B, well below 90 degrees, and stays there', async () => {
    const seed = fixedSeed('fa alignment', 1);
    const model = smallCnn('fa', new Generator(seed));
    // The classifier aligns first (Lillicrap et al. 2016); the convs below it follow slowly.
    const angle = async () => (await alignmentReport(model)).find((r) => r.layer.endsWith('layers.8'))!.weightAngle;
    const a0 = await angle();
    await trainSteps(model, 60, seed, 0.05);
    const a1 = await angle();
    await trainSteps(model, 60, seed, 0.05); // the same task, trained further
    const a2 = await angle();
    console.log(`FA angle of the classifier: ${a0.toFixed(1)} -> ${a1.toFixed(1)} -> ${a2.toFixed(1)} degrees`);
    // Over 8 seeds: a0 74-111, a1 47-60, a2 0.6-2.3 below a1. With W^T in place of B (BP) W
    // would wander independently of B and stay near 90 degrees.
    expect(a1).toBeLessThan(Math.min(a0, 90) - 10);
    expect(a2).toBeLessThan(a1 + 2);
    model.dispose();
  });
});

describe('alignment report', () => {
  it('gives conv layers a rule-vs-exact gradient angle too (FA: finite, between 0 and 180; BP: none)', async () => {
    const gen = new Generator(freshSeed('conv gradient angle'));
    const model = new Sequential(
      new Conv2d(3, 6, 3, { padding: 1, stride: 2, rule: 'fa', gen }), new ReLU(), new Conv2d(6, 4, 3, { dilation: 2, gen }),
      new GlobalAvgPool(), new Linear(4, 3, { rule: 'fa', gen }),
    );
    const report = await alignmentReport(model);
    expect(report.map((r) => r.layer)).toEqual(['layers.0', 'layers.2', 'layers.4']);
    for (const r of [report[0], report[2]]) {
      expect(r.rule).toBe('fa');
      expect(Number.isFinite(r.gradientAngle), `${r.layer} gradient angle`).toBe(true);
      expect(r.gradientAngle).toBeGreaterThan(0);
      expect(r.gradientAngle).toBeLessThan(180);
    }
    expect(report[1].gradientAngle).toBeNaN();
    // The conv's angle with its real input shape is about the same as with the probe map.
    const real = await alignmentReport(model, 1, new Map([[model.layers[0], [4, 3, 16, 16]]]));
    expect(Math.abs(real[0].gradientAngle - report[0].gradientAngle)).toBeLessThan(10);
    model.dispose();
  });
});

describe('memory', () => {
  it('500 training steps of a small CNN do not grow the pool\'s live bytes', async () => {
    const seed = freshSeed('memory');
    const model = smallCnn('usf', new Generator(seed));
    const warm = await trainSteps(model, 20, seed, 0.01);
    expect(Number.isFinite(warm.last)).toBe(true);
    await rt().sync();
    const before = rt().pool.liveBytes;
    const buffersBefore = rt().pool.liveBuffers;
    await trainSteps(model, 500, seed, 0.01);
    await rt().sync();
    expect(rt().pool.liveBytes).toBe(before);
    expect(rt().pool.liveBuffers).toBe(buffersBefore);
    model.dispose();
  }, 300_000);
});

describe('state files', () => {
  it('save and load round-trip every parameter, buffer and feedback matrix', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bionas-state-'));
    const a = smallCnn('frsf', new Generator(1));
    const b = smallCnn('frsf', new Generator(2));
    const names = a.namedTensors().map(([n]) => n);
    expect(names).toContain('layers.0.weight');
    expect(names).toContain('layers.1.runningMean');
    expect(names).toContain('layers.0.rule.M0');
    await saveTensors(join(dir, 'a.bin'), a.namedTensors(), { note: 'x' });
    const saved = await readState(join(dir, 'a.bin'));
    expect(saved.meta.note).toBe('x');
    loadInto(b.namedTensors(), saved, 'a.bin');
    for (const [[n, ta], [, tb]] of a.namedTensors().map((e, i) => [e, b.namedTensors()[i]] as const)) {
      expect(await tb.data(), n).toEqual(await ta.data());
    }
    a.dispose();
    b.dispose();
  });
});

describe('trainer checkpoints', () => {
  it('a run stopped mid-epoch, or by an AbortSignal, and resumed ends with the same weights as an uninterrupted run', async () => {
    const seed = freshSeed('resume');
    const data = syntheticDataset({ count: 96, classes: 4, size: 10, seed });
    const config: TrainConfig = { ...DEFAULT_TRAIN, epochs: 2, batchSize: 16, lr: 0.05, logEvery: 2, seed, gradClip: 5 };
    const loaders = () => ({ train: new BatchLoader(data, { batchSize: 16, shuffle: true, seed, dropLast: true, augment: { cropPadding: 1, flip: true } }) });
    const quiet = () => {};

    // The model's generator (brSF redraws its M from it every step) is the one checkpointed.
    const fullGen = new Generator(seed);
    const full = smallCnn('brsf', fullGen);
    await train(full, loaders(), config, { gen: fullGen, log: quiet });

    const dir = mkdtempSync(join(tmpdir(), 'bionas-resume-'));
    const firstGen = new Generator(seed);
    const first = smallCnn('brsf', firstGen);
    const r1 = await train(first, loaders(), config, { gen: firstGen, runDir: dir, stopAfterSteps: 8, log: quiet });
    expect(r1.stopped).toBe(true);
    first.dispose();
    // A fresh process would rebuild the model from scratch: a different init must not matter.
    const resumedGen = new Generator(seed + 99);
    const resumed = smallCnn('brsf', resumedGen);
    const r2 = await train(resumed, loaders(), config, { gen: resumedGen, runDir: dir, resume: true, log: quiet });
    expect(r2.stopped).toBe(false);
    for (const [[n, a], [, b]] of full.namedTensors().map((e, i) => [e, resumed.namedTensors()[i]] as const)) {
      expect(await b.data(), n).toEqual(await a.data());
    }
    resumed.dispose();

    // An AbortSignal (a page's stop button) stops a run the same way: here at the end of epoch 1.
    const abortDir = mkdtempSync(join(tmpdir(), 'bionas-abort-'));
    const stop = new AbortController();
    const abortedGen = new Generator(seed);
    const aborted = smallCnn('brsf', abortedGen);
    const r3 = await train(aborted, loaders(), config, { gen: abortedGen, runDir: abortDir, signal: stop.signal, log: (line) => line.startsWith('epoch 1/') && stop.abort() });
    expect(r3.stopped).toBe(true);
    expect(r3.history).toHaveLength(1);
    aborted.dispose();
    const againGen = new Generator(seed + 7);
    const again = smallCnn('brsf', againGen);
    expect((await train(again, loaders(), config, { gen: againGen, runDir: abortDir, resume: true, log: quiet })).stopped).toBe(false);
    for (const [[n, a], [, b]] of full.namedTensors().map((e, i) => [e, again.namedTensors()[i]] as const)) {
      expect(await b.data(), n).toEqual(await a.data());
    }
    full.dispose();
    again.dispose();
  }, 300_000);
});

describe('gradient-variance probe', () => {
  it('equals the variance of per-batch gradients read back and computed on the CPU', async () => {
    const seed = freshSeed('grad variance');
    const model = smallCnn('usf', new Generator(seed));
    const data = syntheticDataset({ count: 5 * 8, classes: 4, size: 8, seed });
    const loader = new BatchLoader(data, { batchSize: 8 });
    const loss = (logits: Tensor, b: { y: Tensor }) => crossEntropy(logits, b.y);
    const report = await gradientVariance(model, loader.epoch(0), loss);
    // The same gradients, one batch at a time, on the CPU.
    const params = model.namedParameters();
    const grads: Float64Array[][] = params.map(() => []);
    for (const b of loader.epoch(0)) {
      scope(() => { backward(loss(model.forward(b.x), b)); clearOutputError(); });
      for (const [i, [, p]] of params.entries()) { grads[i].push(Float64Array.from(await p.grad!.data())); p.grad!.release(); p.grad = null; }
      b.x.release(); b.y.release();
    }
    expect(report.batches).toBe(5);
    params.forEach(([name, p], i) => {
      let v = 0;
      for (let j = 0; j < p.size; j++) {
        const xs = grads[i].map((g) => g[j]);
        const m = xs.reduce((a, b) => a + b, 0) / xs.length;
        v += xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length;
      }
      const want = v / p.size;
      const got = report.perTensor[i].variance;
      expect(Math.abs(got - want), name).toBeLessThan(1e-3 * Math.abs(want) + 1e-9);
    });
    model.dispose();
  });
});
