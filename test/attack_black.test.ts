import { describe, it, expect } from 'vitest';
import { useGpu, rng, freshSeed, fixedSeed, randomArray, expectClose, dispatchCount } from './util.js';
import { Tensor } from '../src/tensor.js';
import { Generator } from '../src/ops/random.js';
import { Linear } from '../src/nn/layers.js';
import { Sequential, type Module } from '../src/nn/module.js';
import { Flatten } from '../src/nn/basic.js';
import { attackTarget, inputGradient, type AttackTarget } from '../src/attack/target.js';
import { attackOptions, registerAttack, type Attack, type AttackInput } from '../src/attack/attack.js';
import type { AttackDraws } from '../src/attack/draws.js';
import { seededDraws } from '../src/attack/draws.js';
import { crossEntropy } from '../src/ops/loss.js';
import { squareStripes, squareWindow, squareMargin, selectRowsInto, writePixels, trueClassProbability } from '../src/ops/attack_search.js';
import { square, squareSide } from '../src/attack/square.js';
import { onePixel, onePixelPopulation, scoreCandidates } from '../src/attack/onepixel.js';
import { transfer } from '../src/attack/transfer.js';
import { DifferentialEvolution } from '../src/search/optimizers/differential_evolution.js';
import {
  linearLogits, margin, softmaxProb, argmax, squareReference, writePixelsReference, type LinearModel,
} from './reference/attack_black.js';

const rt = useGpu();

const mean = [0.4914, 0.4822, 0.4465], std = [0.247, 0.2435, 0.2616];

/** A linear softmax model on C x H x W images, its attack target and its CPU copy. */
async function linearTarget(C: number, H: number, W: number, K: number, seed: number, name = 'linear') {
  const fc = new Linear(C * H * W, K, { gen: new Generator(seed) });
  const model = new Sequential(new Flatten(), fc);
  const target = attackTarget(model, { mean: mean.slice(0, C), std: std.slice(0, C), numClasses: K, name });
  const ref: LinearModel = { W: await fc.weight.data(), b: await fc.bias!.data(), K, mean: mean.slice(0, C), std: std.slice(0, C) };
  return { target, ref, model };
}

/** A linear model no image can leave: zero weights, class 0's bias far above the others. */
function unbreakableTarget(C: number, H: number, W: number, K: number): AttackTarget {
  const fc = new Linear(C * H * W, K, { gen: new Generator(1) });
  fc.weight.write(new Float32Array(K * C * H * W));
  fc.bias!.write(Array.from({ length: K }, (_, k) => (k === 0 ? 50 : 0)));
  return attackTarget(new Sequential(new Flatten(), fc), { mean: mean.slice(0, C), std: std.slice(0, C), numClasses: K, name: 'unbreakable' });
}

/** Runs fn counting the readbacks and forwards (one channel_affine dispatch each) it makes. */
async function counting<T>(fn: () => Promise<T>): Promise<{ result: T; reads: number; forwards: number }> {
  const recorder = rt().recorder;
  const read = recorder.read.bind(recorder);
  let reads = 0;
  recorder.read = (...args) => { reads++; return read(...args); };
  const forwards0 = dispatchCount(rt(), (l) => l.startsWith('channel_affine'));
  try {
    const result = await fn();
    return { result, reads, forwards: dispatchCount(rt(), (l) => l.startsWith('channel_affine')) - forwards0 };
  } finally {
    recorder.read = read;
  }
}

async function snapshot(model: Module): Promise<Float32Array[]> {
  return Promise.all(model.parameters().map(async (p) => Float32Array.from(await p.data())));
}

/** Draws from two seeded CPU streams, the tensors recorded, so a CPU reference can replay them. */
function injectedDraws(seed: number): AttackDraws & { uniforms: Float32Array[] } {
  const u = rng(seed), s = rng(seed + 1);
  const uniforms: Float32Array[] = [];
  return {
    uniforms,
    uniform: (shape, lo, hi) => {
      const a = Float32Array.from({ length: shape.reduce((p, q) => p * q, 1) }, () => lo + (hi - lo) * u());
      uniforms.push(a);
      return Tensor.fromData(a, shape);
    },
    normal: () => { throw new Error('no normal draws expected'); },
    scalar: s,
  };
}

function images(N: number, D: number, r: () => number): Float32Array {
  return randomArray(N * D, r, 0, 1);
}

const cleanLabels = (ref: LinearModel, x: Float32Array, N: number, C: number) =>
  Array.from({ length: N }, (_, n) => argmax(linearLogits(ref, x.subarray(n * x.length / N, (n + 1) * x.length / N), C)));

function attackInput(target: AttackTarget, x: Float32Array, y: number[], shape: number[], eps: number, a: Attack, options: Record<string, number | string>, draws: AttackDraws): AttackInput {
  return {
    target, x: Tensor.fromData(x, shape), y: Tensor.fromData(y, [y.length], 'i32'), eps, gradient: 'exact', draws, options: attackOptions(a, options),
  };
}

describe('black-box attack kernels against CPU references', () => {
  const [N, C, H, W] = [3, 3, 5, 7], D = C * H * W;

  it('square stripes: clamp(x + eps sign(t[n, c, w]), 0, 1) with sign(0) = 0', async () => {
    const r = rng(freshSeed('square stripes'));
    const x = images(N, D, r), t = randomArray(N * C * W, r);
    t[4] = 0;
    const out = squareStripes(Tensor.fromData(x, [N, C, H, W]), Tensor.fromData(t, [N, C, W]), 0.03);
    const want = Array.from(x, (v, i) => Math.min(Math.max(v + 0.03 * Math.sign(t[Math.floor(i / (H * W)) * W + (i % W)]), 0), 1));
    expectClose(await out.data(), want, 1e-6);
  });

  it('square window: best + 2 eps sign[c] inside the window, projected on the eps ball and [0, 1]', async () => {
    const r = rng(freshSeed('square window'));
    const x = images(N, D, r), eps = 0.05;
    const best = Float32Array.from(x, (v) => Math.min(Math.max(v + eps * (2 * r() - 1), 0), 1));
    const win = { top: 1, left: 2, side: 3, sign: [1, -1, 1] };
    const out = squareWindow(Tensor.fromData(x, [N, C, H, W]), Tensor.fromData(best, [N, C, H, W]), eps, win);
    const want = Array.from(best, (v, i) => {
      const c = Math.floor(i / (H * W)) % C, h = Math.floor(i / W) % H, w = i % W;
      const inside = h >= 1 && h < 4 && w >= 2 && w < 5;
      return Math.min(Math.max(Math.min(Math.max(v + (inside ? 2 * eps * win.sign[c] : 0), x[i] - eps), x[i] + eps), 0), 1);
    });
    expectClose(await out.data(), want, 1e-6);
    expect(() => squareWindow(Tensor.fromData(x, [N, C, H, W]), Tensor.fromData(best, [N, C, H, W]), eps, { ...win, top: 3 })).toThrow(/leaves the 5x7 image/);
  });

  it('square bookkeeping: clean flags, start margins, accept only if the margin fell, fooled flags', async () => {
    const r = rng(freshSeed('square margin'));
    const M = 7, K = 5;
    const z = randomArray(M * K, r, -3, 3), labels = Array.from({ length: M }, () => Math.floor(r() * K));
    const logits = Tensor.fromData(z, [M, K]), y = Tensor.fromData(labels, [M], 'i32');
    const mg = labels.map((l, n) => margin(Array.from(z.subarray(n * K, (n + 1) * K)), l));
    const s = { attacked: Tensor.empty([M], 'u32'), best: Tensor.empty([M]), queries: Tensor.empty([M]), accept: Tensor.empty([M], 'u32') };
    squareMargin(logits, y, s, 'clean');
    expect(Array.from(await s.attacked.data())).toEqual(mg.map((m) => (m > 0 ? 1 : 0)));
    squareMargin(logits, y, s, 'start');
    expectClose(await s.best.data(), mg, 1e-6);
    expect(Array.from(await s.queries.data())).toEqual(mg.map((m) => (m > 0 ? 1 : 0)));
    // A step: attacked images with a positive best; the new margins are the old ones shifted
    // up for even images (worse: rejected) and down for odd ones (better: kept).
    const attacked = labels.map((_, n) => (n === 0 ? 0 : 1)), best = mg.map((m, n) => (n === 1 ? -0.5 : Math.abs(m) + 0.1));
    s.attacked.write(attacked);
    s.best.write(best);
    s.queries.write(new Float32Array(M).fill(3));
    const shifted = Float32Array.from(z, (v, i) => {
      const n = Math.floor(i / K), k = i % K;
      return k === labels[n] ? v - mg[n] + best[n] + (n % 2 ? -0.05 : 0.05) : v;
    });
    squareMargin(Tensor.fromData(shifted, [M, K]), y, s, 'step');
    const active = best.map((b, n) => attacked[n] === 1 && b > 0);
    const keep = active.map((a, n) => a && n % 2 === 1);
    expect(Array.from(await s.accept.data())).toEqual(keep.map(Number));
    expectClose(await s.best.data(), best.map((b, n) => (keep[n] ? b - 0.05 : b)), 1e-5);
    expect(Array.from(await s.queries.data())).toEqual(active.map((a) => (a ? 4 : 3)));
    s.best.write(best.map((b, n) => (n % 3 === 0 ? -b : b)));
    squareMargin(logits, y, s, 'final');
    expect(Array.from(await s.accept.data())).toEqual(best.map((b, n) => Number(attacked[n] === 1 && (n % 3 === 0 ? -b : b) <= 0)));
  });

  it('select rows: flagged rows take the source row, in place', async () => {
    const r = rng(freshSeed('select rows'));
    const a = images(N, D, r), b = images(N, D, r), flag = [1, 0, 1];
    const dst = Tensor.fromData(a, [N, C, H, W]);
    selectRowsInto(dst, Tensor.fromData(b, [N, C, H, W]), Tensor.fromData(flag, [N], 'u32'));
    expect(Array.from(await dst.data())).toEqual(Array.from(a, (v, i) => (flag[Math.floor(i / D)] ? b[i] : v)));
  });

  it('write pixels: k pixels of row, col and per-channel values into copies of chosen images', async () => {
    const r = rng(freshSeed('write pixels'));
    const x = images(N, D, r), pixels = 3, G = pixels * (2 + C), R = 5;
    const image = [2, 0, 0, 1, 2];
    const genomes = Float32Array.from({ length: R * G }, (_, i) => (i % (2 + C) === 0 ? r() * H : i % (2 + C) === 1 ? r() * W : r()));
    genomes[0] = H; // the upper bound itself: clamped to the last row
    genomes.copyWithin(G + (2 + C), G, G + 2); // row 1: pixels 0 and 1 at the same place (the later wins)
    const out = writePixels(Tensor.fromData(x, [N, C, H, W]), Tensor.fromData(image, [R], 'i32'), Tensor.fromData(genomes, [R, G]), pixels);
    const want = image.flatMap((n, k) => Array.from(writePixelsReference(x.subarray(n * D, (n + 1) * D), genomes.subarray(k * G, (k + 1) * G), pixels, { C, H, W })));
    expect(Array.from(await out.data())).toEqual(want.map(Math.fround));
  });

  it('true-class probability and misclassification per candidate row', async () => {
    const r = rng(freshSeed('true class prob'));
    const R = 6, K = 7, labels = [3, 6];
    const z = randomArray(R * K, r, -4, 4), image = [0, 1, 1, 0, 0, 1];
    const out = await trueClassProbability(Tensor.fromData(z, [R, K]), Tensor.fromData(image, [R], 'i32'), Tensor.fromData(labels, [2], 'i32')).data();
    const want = image.flatMap((n, k) => {
      const row = Array.from(z.subarray(k * K, (k + 1) * K));
      return [softmaxProb(row, labels[n]), argmax(row) === labels[n] ? 0 : 1];
    });
    expectClose(out, want, 1e-5);
  });
});

describe('Square attack', () => {
  it("window sides follow the p schedule (p_init 0.8 halved as i*10000/n passes 10, 50, ..., 8000)", () => {
    // By hand for 20 queries: i*10000/20 = 500 i; p = 0.8 (i 0), /8 (500), /16 (1000), /32 (1500,
    // 2000), /64 (2500-4000), /128 (4500-6000), /256 (6500-8000), /512 (8500-9500); side =
    // round(sqrt(p H W)): 32x32 -> sqrt(819.2) = 28.6 -> 29, sqrt(102.4) -> 10, sqrt(51.2) -> 7, ...
    const sides32 = [29, 10, 7, 5, 5, 4, 4, 4, 4, 3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1];
    expect(Array.from({ length: 20 }, (_, i) => squareSide(i, 20, 32, 32))).toEqual(sides32);
    // 5x7: sqrt(0.8 * 35) = 5.3 -> 5, sqrt(0.1 * 35) = 1.87 -> 2, then 1 (at least 1).
    expect(Array.from({ length: 20 }, (_, i) => squareSide(i, 20, 5, 7))).toEqual([5, 2, ...new Array(18).fill(1)]);
    // 50 queries, 32x32: i*10000/50 = 200 i: 200 is in (50, 200] -> p/4 -> sqrt(204.8) -> 14; 400 -> p/8
    // -> 10; 600, 800, 1000 -> p/16 -> 7.
    expect(Array.from({ length: 6 }, (_, i) => squareSide(i, 50, 32, 32))).toEqual([29, 14, 10, 7, 7, 7]);
  });

  it('equals the torchattacks-style CPU reference on the same draws (adversarials and queries)', async () => {
    const seed = freshSeed('square vs reference');
    const [N, C, H, W, K] = [5, 3, 5, 7, 4], D = C * H * W;
    const { target, ref, model } = await linearTarget(C, H, W, K, seed);
    const r = rng(seed);
    const x = images(N, D, r);
    const y = cleanLabels(ref, x, N, C);
    y[2] = (y[2] + 1) % K; // initially misclassified: not attacked, returned clean, 0 queries
    const eps = 0.08, nQueries = 30;
    const before = await snapshot(model);
    const draws = injectedDraws(seed);
    const input = attackInput(target, x, y, [N, C, H, W], eps, square, { queries: nQueries }, draws);
    const out = await square.run(input);
    const want = squareReference(ref, x, y, { N, C, H, W }, eps, nQueries, 0.8, draws.uniforms[0], rng(seed + 1));
    const adv = await out.adv.data();
    expectClose(adv, want.adv, 1e-5, 'adversarials');
    expect(Array.from(out.queries!)).toEqual(Array.from(want.queries));
    expect(out.queries![2]).toBe(0);
    expect(Array.from(adv.subarray(2 * D, 3 * D))).toEqual(Array.from(x.subarray(2 * D, 3 * D)));
    // Invariants: [0, 1], within eps, clean images and model untouched.
    expect(adv.every((v, i) => v >= 0 && v <= 1 && Math.abs(v - x[i]) <= eps + 1e-6)).toBe(true);
    expect(Array.from(await input.x.data())).toEqual(Array.from(x));
    expect(await snapshot(model)).toEqual(before);
    console.log(`square: queries ${Array.from(out.queries!).join(', ')} (budget ${nQueries})`);
  });

  it('fooled images stop (their queries freeze) and the batch stops early when all are fooled', async () => {
    const seed = fixedSeed('square early stop', 7);
    const [N, C, H, W, K] = [4, 3, 5, 7, 3], D = C * H * W;
    const { target, ref } = await linearTarget(C, H, W, K, seed);
    const x = images(N, D, rng(seed));
    const y = cleanLabels(ref, x, N, C);
    // eps 0.5 fools a linear model within a few proposals; the budget is far larger.
    const nQueries = 400;
    const draws = injectedDraws(seed);
    let iterations = 0;
    const input = { ...attackInput(target, x, y, [N, C, H, W], 0.5, square, { queries: nQueries }, draws), progress: (i: number) => (iterations = i) };
    const out = await square.run(input);
    const want = squareReference(ref, x, y, { N, C, H, W }, 0.5, nQueries, 0.8, draws.uniforms[0], rng(seed + 1));
    expect(Array.from(out.queries!)).toEqual(Array.from(want.queries));
    expect(Math.max(...out.queries!)).toBeLessThan(nQueries / 4);
    expect(iterations).toBeLessThan(nQueries);
    const adv = await out.adv.data();
    for (let n = 0; n < N; n++) expect(argmax(linearLogits(ref, adv.subarray(n * D, (n + 1) * D), C))).not.toBe(y[n]);
  });

  it('reads nothing back inside an iteration (a check every 10) and releases every tensor it made', async () => {
    const [N, C, H, W] = [3, 3, 5, 7];
    const target = unbreakableTarget(C, H, W, 4);
    const x = images(N, C * H * W, rng(1));
    const input = attackInput(target, x, [0, 0, 0], [N, C, H, W], 0.1, square, { queries: 30 }, seededDraws(1));
    const live = rt().pool.liveBuffers;
    const { result, reads, forwards } = await counting(async () => square.run(input));
    // Clean forward, stripe start, 30 iterations; readbacks: the checks before iterations 0, 10,
    // 20 (two reads each: flags and margins) and the queries at the end.
    expect(forwards).toBe(32);
    expect(reads).toBe(3 * 2 + 1);
    expect(Array.from(result.queries!)).toEqual([31, 31, 31]);
    result.adv.release();
    expect(rt().pool.liveBuffers).toBe(live);
  });

  it('describes its budget', () => {
    expect(square.describe(attackOptions(square, { queries: 50 }))).toBe('50 queries, p_init 0.8');
  });
});

describe('differential evolution', () => {
  it('best1bin with binomial crossover on a hand-computed generation (draws injected)', () => {
    // Initial population (unit cube, scaled x10): m0 (0.1, 0.2), m1 (0.5, 0.5), m2 (0.9, 0.1), m3 (0.3, 0.7).
    // Generation: F = 0.5 + 0.5 * 0.5 = 0.75, best b = m1. Per member: fill gene, r0, r1, two crossover draws.
    // m0: fill floor(0.1*2)=0; r0 = [1,2,3][floor(0.4*3)] = 2; r1 = [1,3][floor(0.9*2)] = 3;
    //     mutant b + F (m2 - m3) = (0.95, 0.05); draws 0.9, 0.9 >= CR 0.5: gene 0 (fill) mutant, gene 1 parent -> (0.95, 0.2)
    // m1: fill 0; r0 = [0,2,3][0] = 0; r1 = [2,3][1] = 3; mutant b + F (m0 - m3) = (0.35, 0.125); draws 0.1, 0.1 -> mutant
    // m2: fill 1; r0 = 0; r1 = [1,3][0] = 1; mutant b + F (m0 - m1) = (0.2, 0.275); draws 0.9, 0.9 -> (0.9 parent, 0.275 fill)
    // m3: fill 1; r0 = [0,1,2][floor(0.7*3)] = 2; r1 = [0,1][floor(0.2*2)] = 0; mutant b + F (m2 - m0) = (1.1, 0.425);
    //     draws 0.3, 0.3 -> mutant; gene 0 is outside [0, 1]: redrawn as 0.33 -> (0.33, 0.425)
    const draws = [0.1, 0.2, 0.5, 0.5, 0.9, 0.1, 0.3, 0.7,
      0.5,
      0.1, 0.4, 0.9, 0.9, 0.9,
      0.0, 0.0, 0.5, 0.1, 0.1,
      0.5, 0.0, 0.0, 0.9, 0.9,
      0.5, 0.7, 0.2, 0.3, 0.3, 0.33];
    let k = 0;
    const random = () => {
      if (k >= draws.length) throw new Error('DE drew more than the hand-computed draws');
      return draws[k++];
    };
    const de = new DifferentialEvolution({ population: 4, lower: [0, 0], upper: [10, 10], crossover: 0.5, random });
    expect(de.ask().map((g) => Array.from(g))).toEqual([[1, 2], [5, 5], [9, 1], [3, 7]]);
    de.tell([3, 1, 2, 4]);
    expect(de.bestIndex).toBe(1);
    const trials = de.ask().map((g) => Array.from(g));
    expect(k).toBe(draws.length);
    const want = [[9.5, 2], [3.5, 1.25], [9, 2.75], [3.3, 4.25]];
    trials.forEach((t, i) => t.forEach((v, d) => expect(v).toBeCloseTo(want[i][d], 12)));
    // A trial replaces its parent when its fitness is <= the parent's.
    expect(de.tell([5, 1, 0.5, 4])).toEqual([false, true, true, true]);
    expect(de.bestIndex).toBe(2);
    expect(Array.from(de.best)).toEqual(trials[2]);
    expect(de.evaluations).toBe(8);
    expect(de.generation).toBe(1);
  });

  it('crossover 1 makes the trial the whole mutant', () => {
    let s = 1;
    const random = () => ((s = (s * 16807) % 2147483647) / 2147483647);
    const de = new DifferentialEvolution({ population: 6, lower: [-1, -1, -1], upper: [1, 1, 1], crossover: 1, mutation: [0.5, 0.5], random });
    de.tell([5, 4, 3, 2, 1, 0]);
    const pop = Array.from({ length: 6 }, (_, i) => Array.from(de.member(i)));
    const trials = de.ask();
    // Every trial is b + 0.5 (x_r0 - x_r1) for some r0 != r1 (or a redrawn gene outside the box).
    for (const t of trials) {
      const explained = pop.some((a, r0) => pop.some((c, r1) => r0 !== r1 && Array.from(t).every((v, d) => Math.abs(v - (pop[5][d] + 0.5 * (a[d] - c[d]))) < 1e-12 || Math.abs(pop[5][d] + 0.5 * (a[d] - c[d])) > 1)));
      expect(explained).toBe(true);
    }
  });

  it('finds the minimum of a shifted quadratic in 5 dimensions within 40 x 150 evaluations', () => {
    const seed = fixedSeed('DE sphere', 3);
    const c = [0.3, -1.2, 2.0, 0.7, -0.4];
    const f = (x: Float64Array) => x.reduce((s, v, d) => s + (v - c[d]) ** 2, 0);
    const de = new DifferentialEvolution({ population: 40, lower: new Array(5).fill(-5), upper: new Array(5).fill(5), crossover: 0.9, seed });
    for (let g = 0; g < 150; g++) de.step((xs) => xs.map(f));
    console.log(`DE sphere: best ${de.bestFitness.toExponential(2)} after ${de.evaluations} evaluations`);
    expect(de.bestFitness).toBeLessThan(1e-6);
    Array.from(de.best).forEach((v, d) => expect(v).toBeCloseTo(c[d], 3));
  });

  it('a state restored mid-run continues exactly as an uninterrupted run', () => {
    const f = (x: Float64Array) => x.reduce((s, v) => s + Math.abs(v - 1), 0);
    const opts = { population: 8, lower: [-3, -3, -3], upper: [3, 3, 3], seed: 11 };
    const whole = new DifferentialEvolution(opts);
    for (let g = 0; g < 12; g++) whole.step((xs) => xs.map(f));
    const first = new DifferentialEvolution(opts);
    for (let g = 0; g < 6; g++) first.step((xs) => xs.map(f));
    const resumed = DifferentialEvolution.fromState(JSON.parse(JSON.stringify(first.state())));
    for (let g = 6; g < 12; g++) resumed.step((xs) => xs.map(f));
    expect(resumed.state()).toEqual(whole.state());
  });

  it('refuses bad settings with messages naming them', () => {
    expect(() => new DifferentialEvolution({ population: 2, lower: [0], upper: [1] })).toThrow(/population must be an integer >= 3/);
    expect(() => new DifferentialEvolution({ population: 5, lower: [0, 1], upper: [1, 1] })).toThrow(/gene 1's upper bound/);
    expect(() => new DifferentialEvolution({ population: 5, lower: [0], upper: [1], crossover: 2 })).toThrow(/crossover must be in/);
  });
});

describe('One-Pixel attack', () => {
  it("population: scipy's max(5, popmul * genes) with torchattacks' popmul = max(1, floor(popsize / genes))", () => {
    expect(onePixelPopulation(10, 5)).toBe(10); // the paper's setting, 1 RGB pixel
    expect(onePixelPopulation(150, 5)).toBe(150); // Biotorch's
    expect(onePixelPopulation(150, 25)).toBe(150); // 5 pixels: popmul 6
    expect(onePixelPopulation(10, 15)).toBe(15); // 3 pixels: popmul 1
    expect(onePixelPopulation(1, 3)).toBe(5); // 1 grey pixel: at least 5
  });

  it("a candidate's fitness is the true-class probability computed on the CPU", async () => {
    const seed = freshSeed('one-pixel fitness');
    const [N, C, H, W, K] = [2, 3, 5, 7, 5], D = C * H * W;
    const { target, ref } = await linearTarget(C, H, W, K, seed);
    const r = rng(seed);
    const x = images(N, D, r), y = [1, 4], pixels = 2, G = pixels * (2 + C), R = 5;
    const image = Int32Array.from([0, 1, 1, 0, 1]);
    const genomes = Float32Array.from({ length: R * G }, (_, i) => (i % (2 + C) === 0 ? r() * H : i % (2 + C) === 1 ? r() * W : r()));
    const got = await scoreCandidates(target, Tensor.fromData(x, [N, C, H, W]), Tensor.fromData(y, [N], 'i32'), image, genomes, pixels, 2);
    image.forEach((n, k) => {
      const z = linearLogits(ref, writePixelsReference(x.subarray(n * D, (n + 1) * D), genomes.subarray(k * G, (k + 1) * G), pixels, { C, H, W }), C);
      expect(got.prob[k]).toBeCloseTo(softmaxProb(z, y[n]), 5);
      expect(got.wrong[k]).toBe(argmax(z) === y[n] ? 0 : 1);
    });
  });

  it('changes at most k pixel positions, keeps [0, 1], leaves wrong images and the model alone', async () => {
    const seed = freshSeed('one-pixel k pixels');
    const [N, C, H, W, K] = [4, 3, 5, 7, 3], D = C * H * W;
    const { target, ref, model } = await linearTarget(C, H, W, K, seed);
    const x = images(N, D, rng(seed));
    const y = cleanLabels(ref, x, N, C);
    y[3] = (y[3] + 1) % K;
    const before = await snapshot(model);
    for (const pixels of [1, 3]) {
      const input = attackInput(target, x, y, [N, C, H, W], 0.01, onePixel, { pixels, population: 12, steps: 3 }, seededDraws(seed));
      const out = await onePixel.run(input);
      const adv = await out.adv.data();
      expect(adv.every((v) => v >= 0 && v <= 1)).toBe(true);
      for (let n = 0; n < N; n++) {
        const changed = new Set<number>();
        for (let d = 0; d < D; d++) if (adv[n * D + d] !== x[n * D + d]) changed.add(d % (H * W));
        expect(changed.size).toBeLessThanOrEqual(n === 3 ? 0 : pixels);
        if (n !== 3) expect(changed.size).toBeGreaterThan(0);
      }
      const P = onePixelPopulation(12, pixels * 5);
      expect(out.queries![3]).toBe(0);
      for (let n = 0; n < 3; n++) expect(out.queries![n] % P).toBe(0);
      expect(Math.max(...out.queries!)).toBeLessThanOrEqual(P * 4);
    }
    expect(await snapshot(model)).toEqual(before);
    expect(onePixel.describe(attackOptions(onePixel, { pixels: 3, preset: 'biotorch' }))).toBe('3 pixels, population 150, 30 steps (eps ignored)');
  });

  it('evaluates every running image\'s whole population in one forward per generation, and releases its tensors', async () => {
    const [N, C, H, W] = [3, 3, 5, 7];
    const target = unbreakableTarget(C, H, W, 4);
    const x = images(N, C * H * W, rng(2));
    const input = attackInput(target, x, [0, 0, 0], [N, C, H, W], 0, onePixel, { pixels: 1, population: 10, steps: 4 }, seededDraws(2));
    const live = rt().pool.liveBuffers;
    const { result, reads, forwards } = await counting(async () => onePixel.run(input));
    // The clean check, then the initial population and 4 generations: 3 images x 10 candidates each time.
    expect(forwards).toBe(1 + 5);
    expect(reads).toBe(1 + 5);
    expect(Array.from(result.queries!)).toEqual([50, 50, 50]);
    result.adv.release();
    expect(rt().pool.liveBuffers).toBe(live);
    // In chunks of 7 candidates: 30 per generation take 5 forwards; the result does not change.
    const chunked = await counting(async () => onePixel.run({ ...input, draws: seededDraws(2), options: attackOptions(onePixel, { pixels: 1, population: 10, steps: 4, batch: 7 }) }));
    expect(chunked.forwards).toBe(1 + 5 * 5);
    const again = await onePixel.run({ ...input, draws: seededDraws(2) });
    expect(Array.from(await chunked.result.adv.data())).toEqual(Array.from(await again.adv.data()));
  });

  it('finds the one bright pixel that flips a model, and stops early', async () => {
    // Class 1 wins as soon as some pixel of the bottom rows has a red value above 0.9: a model
    // whose logit 1 is 20 * (red of rows 3..4) - 18 on black images (class 0 logit 0).
    const seed = fixedSeed('one-pixel known answer', 5);
    const [N, C, H, W] = [3, 3, 5, 7];
    const fc = new Linear(C * H * W, 2, { gen: new Generator(seed) });
    const w = new Float32Array(2 * C * H * W);
    for (let h = 3; h < H; h++) for (let col = 0; col < W; col++) w[C * H * W + h * W + col] = 20 * std[0];
    fc.weight.write(w);
    fc.bias!.write([0, -18 + 20 * mean[0] * 14]);
    // (bias folds the normalisation back: logit 1 = 20 * sum(red in rows 3..4) - 18)
    const target = attackTarget(new Sequential(new Flatten(), fc), { mean, std, numClasses: 2, name: 'bright pixel' });
    const x = new Float32Array(N * C * H * W);
    const input = attackInput(target, x, [0, 0, 0], [N, C, H, W], 0, onePixel, { pixels: 1, preset: 'paper' }, seededDraws(seed));
    const out = await onePixel.run(input);
    const adv = await out.adv.data();
    for (let n = 0; n < N; n++) {
      const img = adv.subarray(n * C * H * W, (n + 1) * C * H * W);
      let red = 0;
      for (let h = 3; h < H; h++) for (let col = 0; col < W; col++) red += img[h * W + col];
      expect(red).toBeGreaterThan(0.9);
      expect(out.queries![n]).toBeLessThan(10 * 11);
    }
  });
});

describe('bad input', () => {
  it('is refused with messages naming what is wrong', async () => {
    const [N, C, H, W] = [2, 3, 4, 5];
    const target = unbreakableTarget(C, H, W, 3);
    const x = images(N, C * H * W, rng(4));
    const sq = attackInput(target, x, [0, 0], [N, C, H, W], 0.1, square, { queries: 5 }, seededDraws(1));
    await expect(Promise.resolve().then(() => square.run({ ...sq, options: { ...sq.options, queries: 2.5 } }))).rejects.toThrow(/square: queries must be a non-negative integer, got 2.5/);
    await expect(Promise.resolve().then(() => square.run({ ...sq, options: { ...sq.options, 'p-init': 0 } }))).rejects.toThrow(/p-init must be in \(0, 1\]/);
    const op = attackInput(target, x, [0, 0], [N, C, H, W], 0, onePixel, { pixels: 6 }, seededDraws(1));
    await expect(Promise.resolve().then(() => onePixel.run(op))).rejects.toThrow(/onepixel: pixels must be 1..5, got 6/);
    expect(() => onePixel.describe(attackOptions(onePixel, { preset: 'huge' }))).toThrow(/unknown preset 'huge'/);
    expect(() => attackOptions(square, { steps: 3 })).toThrow(/attack square: unknown option\(s\) steps/);
    const img = Tensor.fromData(x, [N, C, H, W]);
    expect(() => writePixels(img, Tensor.fromData([0], [1], 'i32'), Tensor.fromData([1, 2, 3, 4], [1, 4]), 1)).toThrow(/genomes must be \[1, 5\]/);
    expect(() => squareStripes(img, Tensor.fromData(new Float32Array(N * C * H), [N, C, H]), 0.1)).toThrow(/draws must be \[2, 3, 5\]/);
  });
});

describe('transfer attack', () => {
  // A tiny white-box attack of this test's own (the real inner attacks live elsewhere): one
  // FGSM-like step along the sign of the exact CE gradient on whatever target it is given.
  const step: Attack = registerAttack({
    name: 'test-sign-step',
    title: 'SignStep',
    help: 'test only',
    kind: 'white-box',
    describe: () => 'one step',
    run: async (input) => {
      const { grad, logits } = inputGradient(input.target, input.x, (z) => crossEntropy(z, input.y), 'exact');
      logits.release();
      const g = await grad.data(), x = await input.x.data();
      grad.release();
      return { adv: Tensor.fromData(Array.from(x, (v, i) => Math.min(Math.max(v + input.eps * Math.sign(g[i]), 0), 1)), input.x.shape) };
    },
  });

  it('crafts on the named source and returns those images for the target; describe() names the source', async () => {
    const seed = freshSeed('transfer');
    const [N, C, H, W, K] = [3, 3, 4, 5, 4], D = C * H * W;
    const src = await linearTarget(C, H, W, K, seed, 'bp-resnet.ckpt');
    const tgt = await linearTarget(C, H, W, K, seed + 1, 'fa-net');
    const x = images(N, D, rng(seed)), y = [0, 1, 2], eps = 0.03;
    const before = await snapshot(tgt.model);
    const input = { ...attackInput(tgt.target, x, y, [N, C, H, W], eps, transfer, { source: 'bp-resnet.ckpt', inner: 'test-sign-step' }, seededDraws(seed)), source: src.target };
    const out = await transfer.run(input);
    const adv = await out.adv.data();
    const onSource = await (await step.run({ ...input, target: src.target, options: {} })).adv.data();
    const onTarget = await (await step.run({ ...input, options: {} })).adv.data();
    expect(Array.from(adv)).toEqual(Array.from(onSource));
    expect(Array.from(adv)).not.toEqual(Array.from(onTarget));
    expect(adv.every((v, i) => v >= 0 && v <= 1 && Math.abs(v - x[i]) <= eps + 1e-6)).toBe(true);
    expect(await snapshot(tgt.model)).toEqual(before);
    expect(transfer.describe(attackOptions(transfer, { source: 'bp-resnet.ckpt', inner: 'test-sign-step' }))).toBe('SignStep on bp-resnet.ckpt');
    await expect(Promise.resolve().then(() => transfer.run({ ...input, source: undefined }))).rejects.toThrow(/no source target given for source 'bp-resnet.ckpt'/);
    await expect(Promise.resolve().then(() => transfer.run({ ...input, options: attackOptions(transfer, { inner: 'test-sign-step' }) }))).rejects.toThrow(/name the source model/);
    await expect(Promise.resolve().then(() => transfer.run({ ...input, source: tgt.target }))).rejects.toThrow(/named 'fa-net' but the option names 'bp-resnet.ckpt'/);
  });
});
