import { describe, it, expect } from 'vitest';
import { useGpu, rng, freshSeed, fixedSeed, randomArray, expectClose, finiteDifference, relError } from './util.js';
import { Tensor, type Shape } from '../src/tensor.js';
import { gpu } from '../src/gpu/runtime.js';
import { backward } from '../src/autograd.js';
import { Generator } from '../src/ops/random.js';
import { sum } from '../src/ops/reduce.js';
import { dlrLoss, klDivergence } from '../src/ops/attack_losses.js';
import { Linear, Conv2d } from '../src/nn/layers.js';
import { Sequential, type Module } from '../src/nn/module.js';
import { Flatten, ReLU } from '../src/nn/basic.js';
import { attackTarget, targetLogits, type AttackTarget, type GradientSource } from '../src/attack/target.js';
import { getAttack, attackOptions, type AttackInput } from '../src/attack/attack.js';
import type { AttackDraws } from '../src/attack/draws.js';
import { apgdCheckpoints } from '../src/attack/apgd_schedule.js';
import { runApgd } from '../src/attack/apgd.js';
import { APGD_FIELD } from '../src/ops/attack_steps.js';
import type { FlagValues } from '../src/options.js';
import type { RuleName } from '../src/rules/rule.js';
import '../src/attack/index.js';
import { linearRef, klRef, dlrRef, softmaxRef, signedStepsRef, ceLoss, apgdRef } from './reference/attacks.js';

useGpu();

const MEAN = [0.4914, 0.4822, 0.4465], STD = [0.247, 0.2435, 0.2616];
const EPS = 8 / 255;

/**
 * Draws from CPU arrays (kept, so the CPU reference uses the very same numbers); normal draws
 * are `normalScale` times wider than asked (the std asked for is kept in `stds`).
 */
function recordedDraws(seed: number, normalScale = 1) {
  const r = rng(seed);
  const tensors: Float32Array[] = [];
  const scalars: number[] = [];
  const stds: number[] = [];
  const draws: AttackDraws = {
    uniform(shape: Shape, lo: number, hi: number) {
      const a = randomArray(shape.reduce((p, q) => p * q, 1), r, lo, hi);
      tensors.push(a);
      return Tensor.fromData(a, shape);
    },
    normal(shape: Shape, std: number) {
      stds.push(std);
      const a = Float32Array.from({ length: shape.reduce((p, q) => p * q, 1) }, () => normalScale * std * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()));
      tensors.push(a);
      return Tensor.fromData(a, shape);
    },
    scalar() {
      const v = r();
      scalars.push(v);
      return v;
    },
  };
  return { draws, tensors, scalars, stds };
}

/** A linear softmax model on [N, 3, S, S] images and its float64 reference (F = W, or FA's B for 'rule'). */
async function linearSetup(seed: number, K: number, S: number, rule: RuleName = 'bp') {
  const D = 3 * S * S;
  const fc = new Linear(D, K, { rule, gen: new Generator(seed), numClasses: K });
  const model = new Sequential(new Flatten(), fc);
  const target = attackTarget(model, { mean: MEAN, std: STD, numClasses: K, name: `linear ${D}->${K} (${rule})` });
  const W = await fc.weight.data(), b = await fc.bias!.data();
  const ref = linearRef(W, b, W, K, D, MEAN, STD);
  return { fc, model, target, ref, W, b, D };
}

function images(seed: number, N: number, D: number): Float32Array {
  return Float32Array.from(randomArray(N * D, rng(seed)), (v) => (v + 1) / 2);
}

async function runAttack(name: string, target: AttackTarget, x: Float32Array, shape: Shape, y: number[], draws: AttackDraws, options: FlagValues = {}, gradient: GradientSource = 'exact', eps = EPS) {
  const attack = getAttack(name);
  const xt = Tensor.fromData(x, shape), yt = Tensor.fromData(y, [y.length], 'i32');
  const input: AttackInput = { target, x: xt, y: yt, eps, gradient, draws, options: attackOptions(attack, options) };
  const { adv } = await attack.run(input);
  const out = await adv.data() as Float32Array;
  expect(Array.from(await xt.data())).toEqual(Array.from(x));
  for (const t of [adv, xt, yt]) t.release();
  return out;
}

const f64 = (a: ArrayLike<number>) => Float64Array.from(a);

describe('white-box attacks: registry and SPEC 6 defaults', () => {
  it('registers fgsm, pgd, tpgd, apgd with the defaults of SPEC 6 and describes their settings', () => {
    const defaults = (name: string) => attackOptions(getAttack(name));
    expect(defaults('fgsm')).toEqual({ 'fgsm-targeted': 'none' });
    expect(defaults('pgd')).toEqual({ 'pgd-steps': 10, 'pgd-alpha': 2, 'pgd-random-start': true, 'pgd-targeted': 'none' });
    expect(defaults('tpgd')).toEqual({ 'tpgd-steps': 7, 'tpgd-alpha': 2 });
    expect(defaults('apgd')).toEqual({ 'apgd-steps': 50, 'apgd-restarts': 1, 'apgd-loss': 'ce', 'apgd-rho': 0.75 });
    for (const name of ['fgsm', 'pgd', 'tpgd', 'apgd']) expect(getAttack(name).kind).toBe('white-box');
    expect(getAttack('pgd').describe(defaults('pgd'))).toBe('steps 10, alpha 2/255, random start');
    expect(getAttack('apgd').describe(defaults('apgd'))).toBe('steps 50, 1 restart, loss ce');
  });
});

describe('attack losses: DLR and KL kernels against float64 references', () => {
  for (const [N, K] of [[7, 13], [5, 3]]) {
    it(`DLR rows and their gradient on [${N}, ${K}] logits match the reference; its gradient matches finite differences`, async () => {
      const seed = freshSeed(`dlr ${N}x${K}`);
      const r = rng(seed);
      const z = randomArray(N * K, r, -3, 3);
      const y = Array.from({ length: N }, () => Math.floor(r() * K));
      // Row 0's label is its third-largest logit: DLR is 1 there, flat, with gradient 0.
      y[0] = Array.from(z.subarray(0, K)).map((v, k) => [v, k]).sort((a, b) => b[0] - a[0])[2][1];
      const g = randomArray(N, r);
      const zt = Tensor.fromData(z, [N, K]);
      zt.requiresGrad = true;
      const rows = dlrLoss(zt, Tensor.fromData(y, [N], 'i32'));
      const want = dlrRef(z, y, N, K);
      expectClose(await rows.data(), want.rows, 1e-4, 'dlr rows');
      backward(rows, Tensor.fromData(g, [N]));
      const wantDz = want.dz.map((v, i) => v * g[Math.floor(i / K)]);
      const dz = await zt.grad!.data();
      expectClose(dz, wantDz, 1e-4, 'dlr gradient');
      expect(Array.from(dz.subarray(0, K)).every((v) => v === 0)).toBe(true);
      const fd = finiteDifference((zz) => dlrRef(zz, y, N, K).rows.reduce((s, v, n) => s + v * g[n], 0), f64(z), 1e-6);
      expectClose(wantDz, fd, 1e-5, 'dlr reference vs finite differences');
    });
  }

  it('DLR refuses fewer than 3 classes and gives NaN for a label out of range', async () => {
    expect(() => dlrLoss(Tensor.empty([2, 2]), Tensor.fromData([0, 1], [2], 'i32'))).toThrow(/at least 3 classes/);
    const rows = dlrLoss(Tensor.fromData([1, 2, 3, 4, 5, 6], [2, 3]), Tensor.fromData([0, 7], [2], 'i32'));
    const v = await rows.data();
    expect(Number.isFinite(v[0])).toBe(true);
    expect(Number.isNaN(v[1])).toBe(true);
  });

  it('KL(p || softmax z) rows and their gradient on [9, 11] match the reference and finite differences', async () => {
    const seed = freshSeed('kl divergence');
    const r = rng(seed);
    const N = 9, K = 11;
    const z = randomArray(N * K, r, -3, 3);
    const p = Float32Array.from(softmaxRef(randomArray(N * K, r, -2, 2), N, K));
    p[3] = 0; // a zero probability counts 0
    const zt = Tensor.fromData(z, [N, K]);
    zt.requiresGrad = true;
    const rows = klDivergence(zt, Tensor.fromData(p, [N, K]));
    const want = klRef(z, p, N, K);
    expectClose(await rows.data(), want.rows, 1e-4, 'kl rows');
    backward(sum(rows));
    expectClose(await zt.grad!.data(), want.dz, 1e-4, 'kl gradient');
    const fd = finiteDifference((zz) => klRef(zz, p, N, K).rows.reduce((s, v) => s + v, 0), f64(z), 1e-6);
    expectClose(want.dz, fd, 1e-5, 'kl reference vs finite differences');
  });
});

describe('APGD checkpoints (SPEC 6)', () => {
  it('end the windows max(int(0.22 n), 1), then shorter by max(int(0.03 n), 1) down to max(int(0.06 n), 1)', () => {
    const at = (n: number) => apgdCheckpoints(n).map((c) => c.iteration);
    // 10 steps: first window int(2.2) = 2 -> after iteration 1; decrement max(int(0.3), 1) = 1, floor
    // max(int(0.6), 1) = 1: windows of 1 after that -> 2, 3, ..., 9.
    expect(at(10)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // 50 steps: windows 11, 10, 9, 8, 7 (decrement int(1.5) = 1, floor int(3.0) = 3) end at 0-based
    // iterations 10, 10+10 = 20, 20+9 = 29, 29+8 = 37, 37+7 = 44; the next (6) would end at 50.
    expect(at(50)).toEqual([10, 20, 29, 37, 44]);
    expect(apgdCheckpoints(50).map((c) => c.window)).toEqual([11, 10, 9, 8, 7]);
    // 100 steps: windows 22, 19, 16, 13, 10, 7, then the floor 6, 6 (decrement 3, floor 6):
    // 21, 40, 56, 69, 79, 86, 92, 98; the next would end at 104.
    expect(at(100)).toEqual([21, 40, 56, 69, 79, 86, 92, 98]);
    expect(() => apgdCheckpoints(0)).toThrow(/positive integer/);
  });
});

describe('white-box attacks against float64 references on a linear softmax model (same draws)', () => {
  const N = 9, K = 5, S = 4, shape = [N, 3, S, S];

  it('FGSM and its targeted mode give clip01(x +- eps sign(grad)) exactly', async () => {
    const seed = freshSeed('fgsm reference');
    const { model, target, ref, D } = await linearSetup(seed, K, S);
    const x = images(seed + 1, N, D);
    const y = Array.from({ length: N }, (_, n) => n % K);
    const got = await runAttack('fgsm', target, x, shape, y, recordedDraws(seed).draws);
    expectClose(got, signedStepsRef(ref, f64(x), f64(x), N, ceLoss(ref, y), 1, EPS, EPS), 1e-5, 'fgsm');
    const rec = recordedDraws(seed + 2);
    const gotT = await runAttack('fgsm', target, x, shape, y, rec.draws, { 'fgsm-targeted': 'random' });
    const targets = y.map((l, n) => { const t = Math.floor((K - 1) * rec.scalars[n]); return t < l ? t : t + 1; });
    expect(targets.every((t, n) => t !== y[n])).toBe(true);
    expectClose(gotT, signedStepsRef(ref, f64(x), f64(x), N, ceLoss(ref, targets, -1), 1, EPS, EPS), 1e-5, 'fgsm targeted');
    model.dispose();
  });

  it('PGD (random start, 10 steps) and PGD least-likely targeted follow the reference iterate for iterate', async () => {
    const seed = freshSeed('pgd reference');
    const { model, target, ref, D } = await linearSetup(seed, K, S);
    const x = images(seed + 1, N, D);
    const y = Array.from({ length: N }, (_, n) => (n * 3) % K);
    const rec = recordedDraws(seed);
    const got = await runAttack('pgd', target, x, shape, y, rec.draws);
    const start = f64(x).map((v, i) => Math.min(Math.max(v + rec.tensors[0][i], 0), 1));
    expectClose(got, signedStepsRef(ref, f64(x), start, N, ceLoss(ref, y), 10, 2 / 255, EPS), 1e-5, 'pgd');
    // Least-likely target: the other class with the lowest clean logit; 3 steps of 1/255 from x.
    const z = ref.logits(f64(x), N);
    const ll = y.map((l, n) => { let b = -1; for (let k = 0; k < K; k++) if (k !== l && (b < 0 || z[n * K + k] < z[n * K + b])) b = k; return b; });
    const gotT = await runAttack('pgd', target, x, shape, y, recordedDraws(seed).draws, { 'pgd-targeted': 'least-likely', 'pgd-random-start': false, 'pgd-steps': 3, 'pgd-alpha': 1 });
    expectClose(gotT, signedStepsRef(ref, f64(x), f64(x), N, ceLoss(ref, ll, -1), 3, 1 / 255, EPS), 1e-5, 'pgd least-likely');
    model.dispose();
  });

  it('TPGD (start x + 0.001 N(0,1), 7 steps on KL from the clean softmax) follows the reference', async () => {
    // The start noise is drawn 30 times wider here: at 0.001 the first KL gradient is so small
    // that float32 rounding flips the sign of a near-zero component now and then.
    const seed = freshSeed('tpgd reference');
    const { model, target, ref, D } = await linearSetup(seed, K, S);
    const x = images(seed + 1, N, D);
    const y = new Array(N).fill(0); // unused by TPGD
    const rec = recordedDraws(seed, 30);
    const got = await runAttack('tpgd', target, x, shape, y, rec.draws);
    expect(rec.stds).toEqual([0.001]);
    const p = softmaxRef(ref.logits(f64(x), N), N, K);
    const start = f64(x).map((v, i) => Math.min(Math.max(v + rec.tensors[0][i], 0), 1));
    expectClose(got, signedStepsRef(ref, f64(x), start, N, (zz, n) => klRef(zz, p, n, K), 7, 2 / 255, EPS), 1e-5, 'tpgd');
    model.dispose();
  });

  for (const loss of ['ce', 'dlr'] as const) {
    it(`APGD-${loss} (12 steps, 2 restarts) follows the reference iterate for iterate (points and step sizes) on the same draws`, async () => {
      const seed = freshSeed(`apgd ${loss} reference`);
      const { model, target, ref, D } = await linearSetup(seed, K, S);
      const x = images(seed + 1, N, D);
      const z = ref.logits(f64(x), N);
      // Labels: the clean prediction for most images (attacked), a wrong one for two (left clean).
      const y = Array.from({ length: N }, (_, n) => { let b = 0; for (let k = 1; k < K; k++) if (z[n * K + k] > z[n * K + b]) b = k; return n < 2 ? (b + 1) % K : b; });
      const rec = recordedDraws(seed);
      const eps = 2 / 255, steps = 12;
      const attack = getAttack('apgd');
      const xt = Tensor.fromData(x, shape), yt = Tensor.fromData(y, [N], 'i32');
      const iterates: Promise<Float32Array | Int32Array | Uint32Array>[] = [], states: typeof iterates = [];
      const { adv } = runApgd({ target, x: xt, y: yt, eps, gradient: 'exact', draws: rec.draws, options: attackOptions(attack, { 'apgd-steps': steps, 'apgd-restarts': 2, 'apgd-loss': loss }) },
        (_r, _i, xi, state) => { iterates.push(xi.data()); states.push(state.data()); });
      const got = await adv.data();
      const refLoss = loss === 'ce' ? ceLoss(ref, y) : (zz: Float64Array, n: number) => dlrRef(zz, y, n, K, true);
      const wantIterates: Float64Array[] = [], wantSteps: Float64Array[] = [];
      const want = apgdRef(ref, f64(x), y, N, eps, { steps, rho: 0.75, loss: refLoss }, rec.tensors, (_r, _i, xi, step) => { wantIterates.push(xi.slice()); wantSteps.push(step.slice()); });
      expect(iterates.length).toBe(2 * steps);
      // Images are independent in APGD, so compare each image's trajectory (points and step sizes)
      // on its own. DLR's gradient has components near zero often enough (its denominator can be
      // small) for float32 rounding to flip a sign now and then, after which that image's
      // trajectory parts from the float64 one: DLR may lose one image of nine that way, CE none.
      const gotIterates = await Promise.all(iterates), gotStates = await Promise.all(states);
      const diverged: number[] = [];
      let halvings = 0;
      for (let n = 0; n < N; n++) {
        let same = true;
        for (let j = 0; j < iterates.length; j++) {
          const rowOf = (a: ArrayLike<number>) => Array.from(a).slice(n * D, (n + 1) * D);
          const stepGot = gotStates[j][APGD_FIELD.step * N + n], stepWant = wantSteps[j][n];
          if (relError(rowOf(gotIterates[j]), rowOf(wantIterates[j])) > 1e-5 || Math.abs(stepGot - stepWant) > 1e-6 * stepWant) same = false;
          if (j % steps > 0 && wantSteps[j][n] < wantSteps[j - 1][n]) halvings++;
        }
        if (!same || relError(got.subarray(n * D, (n + 1) * D), want.subarray(n * D, (n + 1) * D)) > 1e-5) diverged.push(n);
      }
      expect(halvings).toBeGreaterThan(0);
      expect(diverged.length, `images whose trajectory differs: ${diverged}`).toBeLessThanOrEqual(loss === 'dlr' ? 1 : 0);
      // The two misclassified-when-clean images come back clean.
      expect(Array.from(got.subarray(0, 2 * D))).toEqual(Array.from(x.subarray(0, 2 * D)));
      for (const t of [adv, xt, yt]) t.release();
      model.dispose();
    });
  }
});

describe('white-box attacks reach the known optimum of a binary linear model', () => {
  it('FGSM and PGD give x* = clip01(x - eps sign(w_y - w_j)); APGD fools exactly the images whose optimal margin is < 0', async () => {
    const seed = fixedSeed('binary linear optimum', 20261203);
    const N = 12, K = 2, S = 3;
    const { model, target, ref, W, D } = await linearSetup(seed, K, S);
    const x = images(seed + 1, N, D);
    const z = ref.logits(f64(x), N);
    const y = Array.from({ length: N }, (_, n) => (z[n * K] >= z[n * K + 1] ? 0 : 1));
    // The margin z_y - z_j is linear in x with slope (w_y - w_j)_d / std_c: its minimum over the
    // eps-ball inside [0, 1] moves every pixel by eps against the slope's sign (then clips).
    const opt = new Float64Array(N * D);
    const optMargin = new Float64Array(N);
    for (let n = 0; n < N; n++) {
      for (let d = 0; d < D; d++) {
        const slope = W[y[n] * D + d] - W[(1 - y[n]) * D + d];
        opt[n * D + d] = Math.min(Math.max(x[n * D + d] - EPS * Math.sign(slope), 0), 1);
      }
      const zo = ref.logits(opt.subarray(n * D, (n + 1) * D), 1);
      optMargin[n] = zo[y[n]] - zo[1 - y[n]];
    }
    const shape = [N, 3, S, S];
    expectClose(await runAttack('fgsm', target, x, shape, y, recordedDraws(seed).draws), opt, 1e-6, 'fgsm optimum');
    // 10 steps of 2/255 cover the 16/255 from any random start to the far corner.
    expectClose(await runAttack('pgd', target, x, shape, y, recordedDraws(seed).draws), opt, 1e-6, 'pgd optimum');
    const adv = await runAttack('apgd', target, x, shape, y, recordedDraws(seed).draws, { 'apgd-steps': 20 });
    const za = ref.logits(f64(adv), N);
    const fooled = y.map((l, n) => za[n * K + l] < za[n * K + 1 - l]);
    const foolable = Array.from(optMargin, (m) => m < 0);
    expect(foolable.some((f) => f) && foolable.some((f) => !f)).toBe(true); // both kinds present
    expect(fooled).toEqual(foolable);
    model.dispose();
  });
});

describe('white-box attack invariants on a tiny conv net', () => {
  const N = 6, S = 5, K = 5, shape = [N, 3, S, S];

  function convNet(rule: RuleName, seed: number): { model: Module; target: AttackTarget } {
    const gen = new Generator(seed);
    const model = new Sequential(new Conv2d(3, 4, 3, { padding: 1, rule, gen, numClasses: K }), new ReLU(), new Flatten(), new Linear(4 * S * S, K, { rule, gen, numClasses: K }));
    return { model, target: attackTarget(model, { mean: MEAN, std: STD, numClasses: K, name: `conv (${rule})` }) };
  }

  async function snapshot(model: Module): Promise<number[][]> {
    const out: number[][] = [];
    for (const p of model.parameters()) out.push(Array.from(await p.data()));
    return out;
  }

  const quick: Record<string, FlagValues> = { fgsm: {}, pgd: { 'pgd-steps': 3 }, tpgd: { 'tpgd-steps': 3 }, apgd: { 'apgd-steps': 4 } };

  it('every attack stays in [0, 1] and within eps, leaves the model untouched; APGD returns the misclassified images clean', async () => {
    const seed = freshSeed('attack invariants');
    const { model, target } = convNet('fa', seed);
    const x = images(seed + 1, N, 3 * S * S);
    const xt = Tensor.fromData(x, shape);
    const z = await targetLogits(target, xt).data();
    const pred = Array.from({ length: N }, (_, n) => { let b = 0; for (let k = 1; k < K; k++) if (z[n * K + k] > z[n * K + b]) b = k; return b; });
    const y = pred.map((p, n) => (n % 2 ? (p + 1) % K : p));
    const before = await snapshot(model);
    for (const name of Object.keys(quick)) {
      for (const source of ['rule', 'exact'] as const) {
        const adv = await runAttack(name, target, x, shape, y, recordedDraws(seed).draws, quick[name], source);
        let worst = 0;
        adv.forEach((v, i) => {
          expect(v >= 0 && v <= 1).toBe(true);
          worst = Math.max(worst, Math.abs(v - x[i]));
        });
        expect(worst, `${name} ${source}`).toBeLessThanOrEqual(EPS + 1e-6);
        if (name === 'apgd') {
          for (let n = 1; n < N; n += 2) expect(Array.from(adv.subarray(n * 75, (n + 1) * 75))).toEqual(Array.from(x.subarray(n * 75, (n + 1) * 75)));
        }
      }
    }
    expect(await snapshot(model)).toEqual(before);
    model.dispose();
  });

  it("under BP the rule's gradient is the exact one (same images); under FA it is not", async () => {
    const seed = freshSeed('attack gradient source');
    const x = images(seed + 1, N, 3 * S * S);
    const y = Array.from({ length: N }, (_, n) => n % K);
    for (const rule of ['bp', 'fa'] as const) {
      const { model, target } = convNet(rule, seed);
      for (const name of Object.keys(quick)) {
        const viaRule = await runAttack(name, target, x, shape, y, recordedDraws(seed).draws, quick[name], 'rule');
        const viaExact = await runAttack(name, target, x, shape, y, recordedDraws(seed).draws, quick[name], 'exact');
        const same = viaRule.every((v, i) => v === viaExact[i]);
        // APGD may leave every image of an FA net clean under both sources; the others always move.
        if (rule === 'bp') expect(same, `${name} bp`).toBe(true);
        else if (name !== 'apgd') expect(same, `${name} fa`).toBe(false);
      }
      model.dispose();
    }
  });

  it('every attack releases every tensor it makes (the pool holds as many buffers after as before)', async () => {
    const { model, target } = convNet('fa', 7);
    const x = images(8, N, 3 * S * S);
    const y = Array.from({ length: N }, (_, n) => n % K);
    const runs: [string, FlagValues][] = [...Object.entries(quick), ['fgsm', { 'fgsm-targeted': 'least-likely' }], ['pgd', { 'pgd-steps': 2, 'pgd-targeted': 'random' }],
      ['apgd', { 'apgd-steps': 3, 'apgd-restarts': 2, 'apgd-loss': 'dlr' }]];
    for (const [name, options] of runs) {
      await runAttack(name, target, x, shape, y, recordedDraws(9).draws, options); // pipelines, pool classes
      const before = gpu().pool.liveBuffers;
      await runAttack(name, target, x, shape, y, recordedDraws(9).draws, options);
      expect(gpu().pool.liveBuffers, `${name} ${JSON.stringify(options)}`).toBe(before);
    }
    model.dispose();
  });

  it('refuses bad inputs with messages naming the attack', async () => {
    const { model, target } = convNet('bp', 1);
    const pgd = getAttack('pgd');
    const base = { target, gradient: 'exact' as const, draws: recordedDraws(1).draws, options: attackOptions(pgd) };
    await expect(async () => pgd.run({ ...base, x: Tensor.empty([2, 3, S, S]), y: Tensor.fromData([0, 1], [2], 'i32'), eps: 2 })).rejects.toThrow(/pgd: eps 2 must be in \[0, 1\]/);
    await expect(async () => pgd.run({ ...base, x: Tensor.empty([2, 3, S, S]), y: Tensor.fromData([0], [1], 'i32'), eps: EPS })).rejects.toThrow(/pgd: labels must be i32 \[2\]/);
    expect(() => attackOptions(pgd, { steps: 3 })).toThrow(/unknown option/);
    const apgd = getAttack('apgd');
    const two = attackTarget(model, { mean: MEAN, std: STD, numClasses: 2, name: 'two classes' });
    await expect(async () => apgd.run({ ...base, target: two, options: attackOptions(apgd, { 'apgd-loss': 'dlr' }), x: Tensor.empty([2, 3, S, S]), y: Tensor.fromData([0, 1], [2], 'i32'), eps: EPS }))
      .rejects.toThrow(/DLR loss needs at least 3 classes/);
    model.dispose();
  });
});
