import { describe, it, expect } from 'vitest';
import { useGpu, freshSeed } from './util.js';
import { Tensor } from '../src/tensor.js';
import { Generator } from '../src/ops/random.js';
import { makeOp, type SepConv, type FactorizedReduce } from '../src/models/operations.js';
import type { Sequential } from '../src/nn/module.js';
import type { PredictiveCodingConv } from '../src/nn/predictive.js';
import { fans, calculateGain, xavierUniform, xavierNormal, kaimingNormal, kaimingUniform, zerosInit } from '../src/nn/init.js';

useGpu();

function stats(x: ArrayLike<number>): { mean: number; std: number; min: number; max: number } {
  let s = 0, s2 = 0, min = Infinity, max = -Infinity;
  for (let i = 0; i < x.length; i++) {
    s += x[i];
    s2 += x[i] * x[i];
    min = Math.min(min, x[i]);
    max = Math.max(max, x[i]);
  }
  const mean = s / x.length;
  return { mean, std: Math.sqrt(s2 / x.length - mean * mean), min, max };
}

const CONV: [number, number, number, number] = [64, 33, 3, 3]; // fan_in 297, fan_out 576

describe('fans and gains', () => {
  it('follow PyTorch for conv and linear weights', () => {
    expect(fans([8, 4, 3, 3])).toEqual({ fanIn: 36, fanOut: 72 });
    expect(fans([10, 20])).toEqual({ fanIn: 20, fanOut: 10 });
    expect(fans([6, 1, 5, 5])).toEqual({ fanIn: 25, fanOut: 150 }); // depthwise: C_in / groups = 1
    expect(fans([2, 3, 4, 5, 6])).toEqual({ fanIn: 360, fanOut: 240 });
    expect(() => fans([7])).toThrow(/fans: a weight needs at least 2 dimensions, got \[7\]/);
    expect(calculateGain('relu')).toBeCloseTo(Math.SQRT2, 12);
    expect(calculateGain('tanh')).toBeCloseTo(5 / 3, 12);
    expect(calculateGain('leaky_relu', 0.2)).toBeCloseTo(Math.sqrt(2 / 1.04), 12);
  });
});

describe('initialisers', () => {
  it('xavierUniform stays within its bound with the uniform std, reproducibly', async () => {
    const seed = freshSeed('xavierUniform');
    const t = Tensor.empty(CONV);
    xavierUniform(t, new Generator(seed), 1.5);
    const x = await t.data();
    const bound = 1.5 * Math.sqrt(6 / (297 + 576));
    const s = stats(x);
    expect(s.min).toBeGreaterThanOrEqual(Math.fround(-bound));
    expect(s.max).toBeLessThan(bound);
    expect(s.max).toBeGreaterThan(0.99 * bound);
    expect(Math.abs(s.std / (bound / Math.sqrt(3)) - 1)).toBeLessThan(0.02);
    const again = Tensor.empty(CONV);
    xavierUniform(again, new Generator(seed), 1.5);
    expect(Array.from(await again.data())).toEqual(Array.from(x));
  });

  it('xavierNormal, kaimingNormal (fan_in and fan_out) and kaimingUniform have the right spread', async () => {
    const gen = new Generator(freshSeed('kaiming'));
    const cases: [string, (t: Tensor) => void, number, 'normal' | 'uniform'][] = [
      ['xavierNormal', (t) => xavierNormal(t, gen), Math.sqrt(2 / (297 + 576)), 'normal'],
      ['kaimingNormal fan_in', (t) => kaimingNormal(t, gen, { mode: 'fan_in', nonlinearity: 'relu' }), Math.sqrt(2 / 297), 'normal'],
      ['kaimingNormal fan_out', (t) => kaimingNormal(t, gen, { mode: 'fan_out', nonlinearity: 'relu' }), Math.sqrt(2 / 576), 'normal'],
      ['kaimingUniform', (t) => kaimingUniform(t, gen), Math.sqrt(2 / 297), 'uniform'],
    ];
    for (const [name, init, std, kind] of cases) {
      const t = Tensor.empty(CONV);
      init(t);
      const s = stats(await t.data());
      // 19,008 draws: standard errors 0.0073 (mean / std) and 0.0051 (normal std); both bounds
      // are over 5.5 of them, while a wrong gain or fan is off by 28% or more.
      expect(Math.abs(s.mean) / std, name).toBeLessThan(0.04);
      expect(Math.abs(s.std / std - 1), name).toBeLessThan(0.03);
      if (kind === 'uniform') {
        const bound = Math.sqrt(3) * std;
        expect(s.min, name).toBeGreaterThanOrEqual(Math.fround(-bound));
        expect(s.max, name).toBeLessThan(bound);
      } else {
        expect(s.max / std, name).toBeGreaterThan(3);
      }
      t.release();
    }
  });

  it('zerosInit zeroes; bad weights throw naming the initialiser', async () => {
    const t = Tensor.empty([5, 7]);
    zerosInit(t);
    expect(Array.from(await t.data())).toEqual(new Array(35).fill(0));
    const gen = new Generator(1);
    expect(() => xavierUniform(Tensor.empty([9]), gen)).toThrow(/xavierUniform: a weight needs at least 2 dimensions, got \[9\]/);
    expect(() => kaimingNormal(Tensor.empty([4, 4]), gen, { mode: 'fan_avg' as any })).toThrow(/kaimingNormal: mode/);
  });
});

describe('initialisation of search and genotype ops', () => {
  it('bio convs (a rule other than BP, the PC conv, a rule-carrying FactorizedReduce) start xavier-uniform; BP ops keep the default', async () => {
    const C = 16;
    const gen = new Generator(freshSeed('op init'));
    const maxAbs = async (t: Tensor) => Array.from(await t.data()).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const xavier = (shape: readonly number[]) => Math.sqrt(6 / (shape[1] * 9 + shape[0] * 9));
    const ctx = (rule: string, stride = 1) => ({ C, stride, affine: false, layer: { rule, gen } });
    // Depthwise 3x3 [16, 1, 3, 3]: xavier bound sqrt(6 / 153) = 0.198, default 1 / 3.
    for (const rule of ['fa', 'usf', 'brsf', 'frsf']) {
      const op = makeOp('sep_conv_3x3', ctx(rule)) as SepConv;
      expect(await maxAbs(op.first.depthwise.weight), rule).toBeLessThanOrEqual(xavier(op.first.depthwise.weight.shape));
      op.dispose();
    }
    const bp = makeOp('sep_conv_3x3', ctx('bp')) as SepConv;
    expect(await maxAbs(bp.first.depthwise.weight)).toBeGreaterThan(xavier(bp.first.depthwise.weight.shape));
    bp.dispose();
    const pc = makeOp('pc_conv_3x3', ctx('bp')) as Sequential;
    const pcWeight = (pc.layers[0] as PredictiveCodingConv).weight;
    expect(await maxAbs(pcWeight)).toBeLessThanOrEqual(xavier(pcWeight.shape));
    pc.dispose();
    // FactorizedReduce's 1x1 convs [8, 16, 1, 1]: xavier sqrt(6 / 24) = 0.5 is the default 0.25 doubled.
    const reduce = makeOp('skip_connect', ctx('usf', 2)) as FactorizedReduce;
    const w = reduce.conv1.weight;
    expect(await maxAbs(w)).toBeGreaterThan(1 / Math.sqrt(C));
    expect(await maxAbs(w)).toBeLessThanOrEqual(Math.sqrt(6 / (C + C / 2)));
    reduce.dispose();
  });
});
