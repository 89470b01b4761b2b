import { describe, it, expect } from 'vitest';
import { useGpu, freshSeed, rng } from './util.js';
import { Tensor, scope } from '../src/tensor.js';
import { backward } from '../src/autograd.js';
import {
  context, withContext, withStep, scoring, noGrad, isGradEnabled, exactGradients, withExactGradients, withBatchGroups, clearOutputError,
} from '../src/context.js';
import { Generator, randomNormal } from '../src/ops/random.js';
import { concat } from '../src/ops/concat.js';
import { crossEntropy } from '../src/ops/loss.js';
import { sum } from '../src/ops/reduce.js';
import { SGD } from '../src/optim/sgd.js';
import { Sequential } from '../src/nn/module.js';
import { Conv2d, Linear } from '../src/nn/layers.js';
import { BatchNorm2d } from '../src/nn/batchnorm.js';
import { Flatten } from '../src/nn/basic.js';
import { tapOutput } from '../src/rules/dfa.js';
import { SPACE_PRESETS } from '../src/search/space.js';
import { DartsSupernet } from '../src/search/supernet.js';
import { ALL_OPS } from '../src/models/operations.js';

useGpu();

/** Every named tensor's bytes (parameters, BN running statistics, Hebbian filters, rule state). */
async function snapshot(model: { namedTensors(): [string, Tensor][] }): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const [name, t] of model.namedTensors()) out.set(name, new Uint8Array((await t.data()).buffer.slice(0)));
  return out;
}

function expectSameBytes(before: Map<string, Uint8Array>, after: Map<string, Uint8Array>): void {
  expect([...after.keys()]).toEqual([...before.keys()]);
  for (const [name, bytes] of before) expect(Buffer.compare(Buffer.from(bytes), Buffer.from(after.get(name)!)), name).toBe(0);
}

describe('the step context', () => {
  it('is changed for a call and restored after it, also when the call throws', () => {
    expect(context()).toMatchObject({ grad: true, exact: false, mode: 'train', batchStats: true, batchGroups: 1 });
    expect(() => withContext({ grad: false, mode: 'eval' }, () => {
      expect(isGradEnabled()).toBe(false);
      // A mode given without batchStats takes that mode's default.
      expect(context().batchStats).toBe(false);
      withExactGradients(() => expect(exactGradients()).toBe(true));
      throw new Error('inside');
    })).toThrow('inside');
    expect(context()).toMatchObject({ grad: true, exact: false, mode: 'train', batchStats: true });
    expect(noGrad(() => withBatchGroups(3, () => [isGradEnabled(), context().batchGroups]))).toEqual([false, 3]);
    expect(scoring(2, () => context())).toMatchObject({ grad: false, mode: 'eval', batchStats: true, batchGroups: 2 });
    expect(() => withBatchGroups(0, () => 0)).toThrow(/positive integer/);
  });

  it('a step opened with withStep captures its own DFA output error, released when it ends', async () => {
    const gen = new Generator(5);
    const net = new Sequential(new Conv2d(2, 3, 3, { padding: 1, rule: 'dfa', numClasses: 4, gen }), new Flatten(), new Linear(3 * 16, 4, { gen }));
    const x = randomNormal([2, 2, 4, 4], gen);
    x.requiresGrad = true;
    const inside = withStep(() => scope(() => {
      backward(sum(tapOutput(net.forward(x))));
      return context().dfa;
    }));
    // The root slot saw nothing; the step's slot is closed, so a late backward would be refused.
    expect(() => context().dfa.read('root')).toThrow(/tapOutput/);
    expect(() => inside.capture(x)).toThrow(/after the step/);
    expect((await x.grad!.data()).some((v) => v !== 0)).toBe(true);
    clearOutputError();
    x.grad!.release();
    x.release();
    net.dispose();
  });

  it('BN in an evaluating context: running statistics normalise unless batch statistics are asked for; none is updated', async () => {
    const bn = new BatchNorm2d(3);
    const x = randomNormal([4, 3, 2, 2], new Generator(6), 1, 2);
    const before = await snapshot(bn);
    const viaRunning = await withContext({ mode: 'eval' }, () => scope(() => bn.forward(x))).data();
    // Running mean 0 and variance 1: y = x / sqrt(1 + eps).
    const xs = await x.data();
    viaRunning.forEach((v, i) => expect(v).toBeCloseTo(xs[i] / Math.sqrt(1 + 1e-5), 5));
    const viaBatch = await scoring(1, () => scope(() => bn.forward(x))).data();
    expectSameBytes(before, await snapshot(bn));
    // A training forward normalises the same way, and does update the running statistics.
    const trained = await noGrad(() => scope(() => bn.forward(x))).data();
    expect(Array.from(viaBatch)).toEqual(Array.from(trained));
    expect(Array.from(await bn.runningMean.data())).not.toEqual(Array.from(before.get('runningMean')!));
    bn.dispose();
    x.release();
  });
});

describe('scoring without side effects', () => {
  it('a supernet with every op of bionas-hl-pc scores a candidate the same twice, and no tensor of the model changes', async () => {
    const seed = freshSeed('side-effect-free scoring');
    const gen = new Generator(seed);
    const space = SPACE_PRESETS['bionas-hl-pc'];
    const ops = new Set(space.pairs.map((p) => p.op));
    expect(ALL_OPS.filter((op) => !ops.has(op))).toEqual(['nor_conv_1x1', 'nor_conv_3x3']);
    const model = new DartsSupernet(space, { C: 4, layers: 3, steps: 2, numClasses: 5, gen });
    const n = 4;
    const x = randomNormal([n, 3, 8, 8], gen);
    const y = Tensor.fromData([0, 1, 2, 3], [n], 'i32');
    // One weight step first, so running statistics, Hebbian filters and brSF magnitudes are not
    // at their initial values.
    const opt = new SGD(model.weightParameters(), { lr: 0.05, momentum: 0.9 });
    scope(() => {
      backward(crossEntropy(model.forward(x), y));
      clearOutputError();
    });
    opt.step();
    opt.zeroGrad();

    // Two candidates, each a (normal, reduce) pair of alpha matrices.
    const [E, P] = model.alphaNormal.shape;
    const draw = rng(seed);
    const next = () => Float32Array.from({ length: E * P }, () => 2 * draw() - 1);
    const cands = [[next(), next()], [next(), next()]];
    const score = async (G: 1 | 2): Promise<number[]> => {
      const logits = scoring(G, () => scope(() => {
        const alphas = G === 1
          ? cands[0].map((a) => Tensor.fromData(a, [E, P]))
          : [0, 1].map((m) => Tensor.fromData([...cands[0][m], ...cands[1][m]], [2, E, P]));
        return model.forward(G === 1 ? x : concat([x, x], 0), alphas);
      }));
      const data = Array.from(await logits.data());
      logits.release();
      return data;
    };
    const before = await snapshot(model);
    const genBefore = gen.state();
    const pair = await score(2);
    const single = await score(1);
    expect(await score(2)).toEqual(pair);
    expect(await score(1)).toEqual(single);
    expect(pair.every(Number.isFinite)).toBe(true);
    // Candidate 0 in a pair of batch groups scores as it does alone.
    single.forEach((v, i) => expect(pair[i]).toBeCloseTo(v, 5));
    expect(pair.slice(n * 5)).not.toEqual(pair.slice(0, n * 5));
    expectSameBytes(before, await snapshot(model));
    expect(gen.state()).toEqual(genBefore);
    // Without the scoring context (a no-gradient forward in training mode) the Hebbian
    // filters and BN running statistics move: what this test guards against.
    noGrad(() => scope(() => model.forward(x)));
    const moved = await snapshot(model);
    const changed = [...moved].filter(([name, bytes]) => Buffer.compare(Buffer.from(bytes), Buffer.from(before.get(name)!)) !== 0).map(([name]) => name);
    expect(changed.some((name) => name.endsWith('.filters'))).toBe(true);
    expect(changed.some((name) => name.endsWith('runningMean'))).toBe(true);
    x.release();
    y.release();
    model.dispose();
  });
});
