import { describe, it, expect } from 'vitest';
import { useGpu, freshSeed, expectClose } from './util.js';
import { Tensor } from '../src/tensor.js';
import { Generator, randomBits, randomUniform, randomNormal, uniformInPlace, normalInPlace, bernoulliMask } from '../src/ops/random.js';
import { philox4x32, philoxWords, referenceNormal, wordToUnit } from './reference/philox.js';

useGpu();

const hex = (words: readonly number[]) => words.map((w) => (w >>> 0).toString(16).padStart(8, '0')).join(' ');

// Random123 kat_vectors: counter[4], key[2] -> output[4].
const KAT: [number, number[], number[], number[]][] = [
  [10, [0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
  [10, [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
  [10, [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
  [7, [0, 0, 0, 0], [0, 0], [0x5f6fb709, 0x0d893f64, 0x4f121f81, 0x4f730a48]],
  [7, [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x5207ddc2, 0x45165e59, 0x4d8ee751, 0x8c52f662]],
  [7, [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0x4dfccaba, 0x190a87f0, 0xc47362ba, 0xb6b5242a]],
];

function moments(x: ArrayLike<number>): { mean: number; variance: number; min: number; max: number } {
  let s = 0, s2 = 0, min = Infinity, max = -Infinity;
  for (let i = 0; i < x.length; i++) {
    s += x[i];
    s2 += x[i] * x[i];
    min = Math.min(min, x[i]);
    max = Math.max(max, x[i]);
  }
  const mean = s / x.length;
  return { mean, variance: s2 / x.length - mean * mean, min, max };
}

describe('Philox4x32 CPU reference', () => {
  it('matches the Random123 known-answer vectors', () => {
    for (const [rounds, ctr, key, want] of KAT) {
      expect(hex(philox4x32(ctr, key, rounds)), `philox4x32-${rounds} ${hex(ctr)} key ${hex(key)}`).toBe(hex(want));
    }
  });
});

describe('GPU Philox', () => {
  it('is bit-identical to the CPU Philox, from counter 0 and after a draw of odd length', async () => {
    const seed = freshSeed('philox bits');
    const gen = new Generator(seed);
    const a = randomBits([1031], gen);
    expect(gen.state()).toEqual({ seed, counter: 1032 });
    const b = randomBits([3, 5, 7], gen);
    expect(Array.from(await a.data())).toEqual(Array.from(philoxWords(seed, 0, 1031)));
    expect(Array.from(await b.data())).toEqual(Array.from(philoxWords(seed, 1032, 105)));
  });

  it('uses both key words and carries the block counter into its high word', async () => {
    const seed = 2 ** 40 + 12345;
    const gen = new Generator(seed);
    const counter = 4 * (2 ** 32 - 3); // blocks 2^32 - 3 .. 2^32 + 2 cross the carry
    gen.setState({ seed, counter });
    const t = randomBits([23], gen);
    expect(Array.from(await t.data())).toEqual(Array.from(philoxWords(seed, counter, 23)));
    // The zero key at block 0 is the first known-answer vector.
    const zero = randomBits([4], new Generator(0));
    expect(hex(Array.from(await zero.data()))).toBe(hex(KAT[0][3]));
  });

  it('the same seed gives the same tensor twice; split draws equal one draw', async () => {
    const seed = freshSeed('philox repeat');
    const x = await randomNormal([7, 9], new Generator(seed)).data();
    const y = await randomNormal([7, 9], new Generator(seed)).data();
    expect(Array.from(y)).toEqual(Array.from(x));
    const gen = new Generator(seed);
    const whole = await randomUniform([64], gen).data();
    const g2 = new Generator(seed);
    const first = await randomUniform([40], g2).data();
    const second = await randomUniform([24], g2).data();
    expect([...first, ...second]).toEqual(Array.from(whole));
    // Restoring a state replays the stream.
    const g3 = new Generator(seed);
    randomUniform([10], g3);
    const saved = g3.state();
    const again1 = await randomUniform([17], g3).data();
    g3.setState(saved);
    const again2 = await randomUniform([17], g3).data();
    expect(Array.from(again2)).toEqual(Array.from(again1));
    expect(Array.from(again1)).not.toEqual(Array.from(whole.slice(0, 17)));
  });

  it('uniform [0, 1) is exactly top-24-bits * 2^-24; [lo, hi) has the right moments over 1e5 draws', async () => {
    const seed = freshSeed('uniform');
    const n = 100_003;
    const unit = await randomUniform([n], new Generator(seed)).data();
    const words = philoxWords(seed, 0, n);
    let mismatches = 0;
    for (let i = 0; i < n; i++) if (unit[i] !== wordToUnit(words[i])) mismatches++;
    expect(mismatches).toBe(0);
    const lo = -3, hi = 5;
    const t = Tensor.empty([n]);
    uniformInPlace(t, new Generator(seed + 1), lo, hi);
    const m = moments(await t.data());
    expect(m.min).toBeGreaterThanOrEqual(lo);
    expect(m.max).toBeLessThan(hi);
    // mean (lo+hi)/2, variance (hi-lo)^2/12; standard errors ~0.007 and ~0.015.
    expect(Math.abs(m.mean - 1)).toBeLessThan(0.04);
    expect(Math.abs(m.variance - 64 / 12) / (64 / 12)).toBeLessThan(0.02);
  });

  it('normal matches Box-Muller on the same words and has the right moments', async () => {
    const seed = freshSeed('normal');
    const n = 100_001;
    const gen = new Generator(seed);
    const z = await randomNormal([n], gen, 0, 1).data();
    expectClose(z, referenceNormal(seed, 0, n), 1e-4, 'normal vs reference');
    const m = moments(z);
    expect(Math.abs(m.mean)).toBeLessThan(0.02);
    expect(Math.abs(Math.sqrt(m.variance) - 1)).toBeLessThan(0.01);
    const t = Tensor.empty([n]);
    normalInPlace(t, gen, 2, 0.5);
    const m2 = moments(await t.data());
    expect(Math.abs(m2.mean - 2)).toBeLessThan(0.01);
    expect(Math.abs(Math.sqrt(m2.variance) - 0.5)).toBeLessThan(0.01);
  });

  it('bernoulliMask is 1/keep where u < keep', async () => {
    const seed = freshSeed('mask');
    const keep = 0.7;
    const mask = await bernoulliMask([513], new Generator(seed), keep).data();
    const words = philoxWords(seed, 0, 513);
    const want = Array.from(words, (w) => (wordToUnit(w) < Math.fround(keep) ? Math.fround(1 / keep) : 0));
    expect(Array.from(mask)).toEqual(want);
  });

  it('bad arguments throw errors naming the op', () => {
    const gen = new Generator(1);
    expect(() => new Generator(-1)).toThrow(/Generator: seed/);
    expect(() => randomUniform([3], gen, 1, 1)).toThrow(/randomUniform: needs lo < hi/);
    expect(() => normalInPlace(Tensor.empty([2], 'i32'), gen)).toThrow(/normalInPlace: needs an f32 tensor, got i32 \[2\]/);
    expect(() => gen.setState({ seed: 1, counter: 3 })).toThrow(/multiple of 4/);
  });
});
