import { describe, it, expect } from 'vitest';
import { useGpu, rng, freshSeed, randomArray, expectClose } from './util.js';
import { Tensor, scope, keep, STATE } from '../src/tensor.js';
import { backward, withExactGradients, noGrad } from '../src/autograd.js';
import { Generator, randomNormal } from '../src/ops/random.js';
import { sum } from '../src/ops/reduce.js';
import { mul, axpy } from '../src/ops/elementwise.js';
import { fillInPlace } from '../src/ops/fill.js';
import { crossEntropy } from '../src/ops/loss.js';
import { SGD } from '../src/optim/sgd.js';
import { parseSpace } from '../src/search/space.js';
import { Conv2d, Linear, setRule, ruleLayers } from '../src/nn/layers.js';
import { Sequential } from '../src/nn/module.js';
import { reshape, Flatten } from '../src/nn/basic.js';
import { ruleNames, parseRule, registerRule } from '../src/rules/registry.js';
import { tapOutput, clearOutputError } from '../src/rules/dfa.js';
import type { RuleName, LearningRule, LayerRule } from '../src/rules/rule.js';
import { convBackwardInputRef, convBackwardWeightRef, refOutputShape, type ConvRefParams } from './reference/conv.js';

useGpu();

interface ConvCase {
  name: string;
  cin: number;
  cout: number;
  k: number;
  stride: number;
  padding: number;
  dilation: number;
  groups: number;
  hw: number;
}

const CONV_CASES: ConvCase[] = [
  { name: 'standard 3x3', cin: 5, cout: 7, k: 3, stride: 1, padding: 1, dilation: 1, groups: 1, hw: 7 },
  { name: 'depthwise 5x5', cin: 6, cout: 6, k: 5, stride: 1, padding: 2, dilation: 1, groups: 6, hw: 7 },
  { name: 'dilated depthwise 3x3', cin: 5, cout: 5, k: 3, stride: 1, padding: 2, dilation: 2, groups: 5, hw: 9 },
  { name: 'strided 3x3 on an odd map', cin: 3, cout: 4, k: 3, stride: 2, padding: 1, dilation: 1, groups: 1, hw: 9 },
];

/**
 * Runs y = layer(x) with upstream gradient g (through sum(y * g)), and returns what the
 * layer sent to its input, its weight gradient and its feedback matrix as used.
 */
async function convRun(layer: Conv2d, xData: Float32Array, xShape: number[], gData: Float32Array) {
  const x = Tensor.fromData(xData, xShape);
  x.requiresGrad = true;
  const result = scope(() => {
    const y = layer.forward(x);
    const g = Tensor.fromData(gData, y.shape);
    backward(sum(mul(y, g)));
    return y.shape;
  });
  const B = layer.rule.matrix ? await layer.rule.matrix.data() : null;
  const out = { dx: await x.grad!.data(), dw: await layer.weight.grad!.data(), B, yShape: result };
  x.grad!.release();
  x.release();
  layer.weight.grad!.release();
  layer.weight.grad = null;
  return out;
}

describe('learning rules on conv layers', () => {
  for (const c of CONV_CASES) {
    for (const rule of ['bp', 'fa', 'usf', 'brsf', 'frsf'] as RuleName[]) {
      it(`${rule}: ${c.name} sends the error through its B; the weight gradient is exact`, async () => {
        const seed = freshSeed(`${rule} ${c.name}`);
        const next = rng(seed);
        const layer = new Conv2d(c.cin, c.cout, c.k, { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups, rule, gen: new Generator(seed) });
        const xShape = [3, c.cin, c.hw, c.hw];
        const p: ConvRefParams = { stride: [c.stride, c.stride], padding: [c.padding, c.padding], dilation: [c.dilation, c.dilation], groups: c.groups };
        const wShape = [...layer.weight.shape];
        const yShape = refOutputShape(xShape, wShape, p);
        const x = randomArray(xShape.reduce((a, b) => a * b), next);
        const g = randomArray(yShape.reduce((a, b) => a * b), next);
        const { dx, dw, B } = await convRun(layer, x, xShape, g);
        const W = await layer.weight.data();
        const feedback = rule === 'bp' ? W : B!;
        expectClose(dx, convBackwardInputRef(g, feedback, xShape, wShape, p), 1e-4, 'input gradient');
        expectClose(dw, convBackwardWeightRef(x, g, xShape, wShape, p), 1e-4, 'weight gradient');
        if (rule !== 'bp') {
          // The input gradient is not backprop's (B differs from W).
          const bp = convBackwardInputRef(g, W, xShape, wShape, p);
          expect(Math.max(...dx.map((v, i) => Math.abs(v - bp[i])))).toBeGreaterThan(1e-3);
        }
        layer.dispose();
      });
    }
  }

  it('uSF: B = s * sign(W) with s = sqrt(2 / (fan_in + fan_out)), and follows sign flips of W', async () => {
    const layer = new Conv2d(4, 6, 3, { padding: 1, rule: 'usf', gen: new Generator(3) });
    const xShape = [2, 4, 5, 5];
    const next = rng(freshSeed('usf sign'));
    await convRun(layer, randomArray(2 * 4 * 25, next), xShape, randomArray(2 * 6 * 25, next));
    const W = await layer.weight.data();
    const s = Math.sqrt(2 / (4 * 9 + 6 * 9));
    expectClose(await layer.rule.matrix!.data(), W.map((w) => s * Math.sign(w)), 1e-6, 'uSF B');
    layer.weight.write(W.map((w) => -w));
    await convRun(layer, randomArray(2 * 4 * 25, next), xShape, randomArray(2 * 6 * 25, next));
    expectClose(await layer.rule.matrix!.data(), W.map((w) => -s * Math.sign(w)), 1e-6, 'uSF B after the flip');
    layer.dispose();
  });

  it('brSF: B = |M| * sign(W) with M redrawn every forward', async () => {
    const layer = new Conv2d(3, 5, 3, { padding: 1, rule: 'brsf', gen: new Generator(4) });
    const next = rng(freshSeed('brsf'));
    const xShape = [2, 3, 5, 5];
    await convRun(layer, randomArray(150, next), xShape, randomArray(250, next));
    const first = await layer.rule.matrix!.data();
    await convRun(layer, randomArray(150, next), xShape, randomArray(250, next));
    const second = await layer.rule.matrix!.data();
    const W = await layer.weight.data();
    const bound = Math.sqrt(6 / (3 * 9 + 5 * 9));
    for (const B of [first, second]) {
      B.forEach((b, i) => {
        expect(Math.sign(b)).toBe(Math.sign(W[i]));
        expect(Math.abs(b)).toBeLessThanOrEqual(bound);
      });
    }
    expect(first.some((b, i) => Math.abs(b - second[i]) > 1e-6)).toBe(true);
    layer.dispose();
  });

  it('frSF: magnitudes stay fixed while signs follow W; FA: B never changes', async () => {
    const next = rng(freshSeed('frsf fa'));
    const fr = new Conv2d(3, 4, 3, { padding: 1, rule: 'frsf', gen: new Generator(5) });
    const fa = new Conv2d(3, 4, 3, { padding: 1, rule: 'fa', gen: new Generator(6) });
    const xShape = [2, 3, 5, 5];
    const faBefore = await fa.rule.matrix!.data();
    await convRun(fr, randomArray(150, next), xShape, randomArray(200, next));
    await convRun(fa, randomArray(150, next), xShape, randomArray(200, next));
    const mags = (await fr.rule.matrix!.data()).map(Math.abs);
    const W = await fr.weight.data();
    fr.weight.write(W.map((w, i) => (i % 2 ? -w : w * 3)));
    fa.weight.write(W.map((w) => -w));
    await convRun(fr, randomArray(150, next), xShape, randomArray(200, next));
    await convRun(fa, randomArray(150, next), xShape, randomArray(200, next));
    const after = await fr.rule.matrix!.data();
    expectClose(after.map(Math.abs), mags, 1e-6, 'frSF magnitudes');
    after.forEach((b, i) => expect(Math.sign(b)).toBe(Math.sign(i % 2 ? -W[i] : W[i])));
    expect(await fa.rule.matrix!.data()).toEqual(faBefore);
    fr.dispose();
    fa.dispose();
  });

  it('the exact-gradients switch makes every rule use W', async () => {
    const next = rng(freshSeed('exact switch'));
    const layer = new Conv2d(3, 4, 3, { padding: 1, rule: 'fa', gen: new Generator(8) });
    const xShape = [2, 3, 5, 5];
    const x = randomArray(150, next), g = randomArray(200, next);
    const p: ConvRefParams = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 };
    const { dx } = await withExactGradients(() => convRun(layer, x, xShape, g));
    expectClose(dx, convBackwardInputRef(g, await layer.weight.data(), xShape, [4, 3, 3, 3], p), 1e-4, 'exact');
    layer.dispose();
  });
});

describe('learning rules on linear layers', () => {
  for (const rule of ['bp', 'fa', 'usf', 'brsf', 'frsf'] as RuleName[]) {
    it(`${rule}: dx = g B, dW = g^T x`, async () => {
      const seed = freshSeed(`linear ${rule}`);
      const next = rng(seed);
      const layer = new Linear(13, 7, { rule, gen: new Generator(seed) });
      const xData = randomArray(5 * 13, next), gData = randomArray(5 * 7, next);
      const x = Tensor.fromData(xData, [5, 13]);
      x.requiresGrad = true;
      scope(() => backward(sum(mul(layer.forward(x), Tensor.fromData(gData, [5, 7])))));
      const F = rule === 'bp' ? await layer.weight.data() : await layer.rule.matrix!.data();
      const wantDx = new Float64Array(5 * 13), wantDw = new Float64Array(7 * 13);
      for (let n = 0; n < 5; n++) for (let o = 0; o < 7; o++) for (let i = 0; i < 13; i++) {
        wantDx[n * 13 + i] += gData[n * 7 + o] * F[o * 13 + i];
        wantDw[o * 13 + i] += gData[n * 7 + o] * xData[n * 13 + i];
      }
      expectClose(await x.grad!.data(), wantDx, 1e-4, 'dx');
      expectClose(await layer.weight.grad!.data(), wantDw, 1e-4, 'dW');
      layer.dispose();
    });
  }
});

describe('DFA', () => {
  it('a conv layer\'s input receives B^T e, e = dLoss/dlogits broadcast over positions; a linear layer\'s e B', async () => {
    const seed = freshSeed('dfa');
    const next = rng(seed);
    const gen = new Generator(seed);
    const K = 3;
    const conv = new Conv2d(2, 4, 3, { padding: 1, stride: 2, rule: 'dfa', numClasses: K, gen });
    const fc = new Linear(4 * 3 * 3, K, { rule: 'dfa', numClasses: K, gen });
    const xData = randomArray(2 * 2 * 5 * 5, next);
    const eData = randomArray(2 * K, next);
    const x = Tensor.fromData(xData, [2, 2, 5, 5]);
    x.requiresGrad = true;
    let hidden: Tensor | null = null;
    scope(() => {
      const h = conv.forward(x);
      hidden = h;
      const flat = reshape(h, [2, 36]);
      const logits = tapOutput(fc.forward(flat));
      backward(sum(mul(logits, Tensor.fromData(eData, [2, K]))));
      clearOutputError();
    });
    expect(hidden).not.toBeNull();
    const B = await conv.rule.matrix!.data();
    // e broadcast over the 3x3 output map, through B as a conv weight of K output channels.
    const eMap = new Float64Array(2 * K * 9);
    for (let i = 0; i < eMap.length; i++) eMap[i] = eData[Math.floor(i / 9)];
    const p: ConvRefParams = { stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 1 };
    expectClose(await x.grad!.data(), convBackwardInputRef(eMap, B, [2, 2, 5, 5], [K, 2, 3, 3], p), 1e-4, 'DFA conv input gradient');
    expect(conv.weight.grad).not.toBeNull();
    conv.dispose();
    fc.dispose();
  });

  it('a DFA layer without the network output tapped explains what is missing', () => {
    const conv = new Conv2d(2, 2, 1, { rule: 'dfa', numClasses: 2, gen: new Generator(1) });
    const x = Tensor.fromData(new Float32Array(8), [1, 2, 2, 2]);
    x.requiresGrad = true;
    expect(() => scope(() => backward(sum(conv.forward(x))))).toThrow(/tapOutput/);
    conv.dispose();
  });
});

describe('converting a model to one rule', () => {
  it('setRule gives every conv and linear layer the rule, with fresh feedback state', () => {
    const gen = new Generator(9);
    const model = new Sequential(new Conv2d(3, 4, 3, { rule: 'fa', gen }), new Conv2d(4, 4, 3, { groups: 4, gen }), new Linear(4, 2, { rule: 'usf', gen }));
    setRule(model, 'frsf', gen);
    expect(ruleLayers(model).map((l) => l.rule.name)).toEqual(['frsf', 'frsf', 'frsf']);
    expect(model.namedTensors().filter(([n]) => n.endsWith('rule.M0'))).toHaveLength(3);
    setRule(model, 'dfa', gen, 2);
    expect(ruleLayers(model).map((l) => l.rule.matrix!.shape)).toEqual([[2, 3, 3, 3], [2, 4, 3, 3], [2, 4]]);
    model.dispose();
  });
});

describe('rule names', () => {
  it('parse case-insensitively and reject unknown ones with the list', () => {
    expect(parseRule('uSF')).toBe('usf');
    expect(ruleNames()).toContain('frsf');
    expect(() => parseRule('hebb')).toThrow(/unknown learning rule 'hebb'; known rules: bp, fa, dfa, usf, brsf, frsf/);
  });
});

describe('a rule registered from outside the engine', () => {
  // "Scaled BP": the error goes back through B = 0.5 * W, refreshed from W at every forward.
  const HALF_BP: LearningRule = {
    name: 'half_bp',
    description: 'test rule: B = W / 2',
    create({ weightShape }): LayerRule {
      const B = keep(Tensor.empty(weightShape, 'f32', 'half_bp.B'));
      return {
        name: 'half_bp',
        matrix: B,
        route: null,
        feedback(w) {
          fillInPlace(B, 0);
          axpy(B, w, 0.5);
          return B;
        },
        [STATE]: (): [string, Tensor][] => [],
        dispose: () => B.release(),
      };
    },
  };

  it('trains a network whose backward goes through its matrix, and is listed where rules are named', async () => {
    registerRule(HALF_BP);
    expect(ruleNames()).toContain('half_bp');
    expect(parseRule('Half_BP')).toBe('half_bp');
    expect(() => registerRule(HALF_BP)).toThrow(/already registered/);
    // The CLI's --rule choices, and a search space, take it.
    const { TRAIN_FLAGS } = await import('../src/cli/train.js');
    expect(TRAIN_FLAGS.rule.choices).toContain('half_bp');
    expect(parseSpace([{ op: 'sep_conv_3x3', rule: 'half_bp' }, { op: 'skip_connect' }], 'toy space').pairs[0].rule).toBe('half_bp');

    const gen = new Generator(21);
    const conv = new Conv2d(2, 3, 3, { padding: 1, rule: 'half_bp', gen });
    const fc = new Linear(3 * 4 * 4, 3, { rule: 'half_bp', gen });
    const net = new Sequential(conv, new Flatten(), fc);
    const xShape = [4, 2, 4, 4];
    const x = randomNormal(xShape, gen);
    const labels = Tensor.fromData([0, 1, 2, 1], [4], 'i32');
    const opt = new SGD(net.parameters(), { lr: 0.1 });
    const losses: number[] = [];
    for (let step = 0; step < 5; step++) {
      const loss = scope(() => {
        const l = crossEntropy(net.forward(x), labels);
        backward(l);
        return noGrad(() => l.view());
      });
      opt.step();
      opt.zeroGrad();
      losses.push(await loss.item());
      loss.release();
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[4]).toBeLessThan(losses[0]);

    // One more backward, from a known output gradient: every layer's input gets B = W / 2.
    const next = rng(21);
    const gData = randomArray(4 * 3, next);
    x.requiresGrad = true;
    scope(() => backward(sum(mul(net.forward(x), Tensor.fromData(gData, [4, 3])))));
    const [wc, wf, dx] = await Promise.all([conv.weight.data(), fc.weight.data(), x.grad!.data()]);
    const F = 3 * 4 * 4;
    const gh = new Float64Array(4 * F);
    for (let n = 0; n < 4; n++) for (let k = 0; k < 3; k++) for (let f = 0; f < F; f++) gh[n * F + f] += gData[n * 3 + k] * 0.5 * wf[k * F + f];
    const p: ConvRefParams = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 };
    expectClose(dx, convBackwardInputRef(gh, wc.map((w) => 0.5 * w), xShape, [3, 2, 3, 3], p), 1e-4, 'input gradient through W / 2');
    x.grad!.release();
    x.release();
    labels.release();
    net.dispose();
  });
});
