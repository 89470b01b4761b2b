import { describe, it, expect } from 'vitest';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { useGpu, rng, freshSeed, fixedSeed, expectClose } from './util.js';
import { Tensor } from '../src/tensor.js';
import { kendallTau, spearmanRho, averageRanks } from '../src/search/fitness/rank.js';
import {
  layerGrams, rdmFromGram, hammingKernel, logAbsDet, scoreLayers, RDM_FITNESSES, rdmFitness, upperTriangle,
  effectiveRankScore, HAMMING_EPSILON, type RdmMetric,
} from '../src/search/fitness/rdm.js';

useGpu();

/** Kendall tau-b by its definition: every pair, O(n^2). */
function kendallSlow(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let c = 0, d = 0, tx = 0, ty = 0;
  const n = x.length;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const sx = Math.sign(x[i] - x[j]), sy = Math.sign(y[i] - y[j]);
      if (sx === 0 && sy === 0) continue;
      if (sx === 0) tx++;
      else if (sy === 0) ty++;
      else if (sx === sy) c++;
      else d++;
    }
  }
  // n0 - n1 = c + d + ty (pairs not tied in x); n0 - n2 = c + d + tx.
  return (c - d) / Math.sqrt((c + d + ty) * (c + d + tx));
}

/** Spearman by its definition with ties: Pearson of mid-ranks, ranks counted pair by pair, O(n^2). */
function spearmanSlow(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const rank = (v: ArrayLike<number>) => Array.from(v, (a) => {
    let below = 0, equal = 0;
    for (let j = 0; j < v.length; j++) [below, equal] = [below + +(v[j] < a), equal + +(v[j] === a)];
    return below + (equal + 1) / 2;
  });
  const rx = rank(x), ry = rank(y), n = x.length;
  const mx = rx.reduce((a, b) => a + b) / n, my = ry.reduce((a, b) => a + b) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) [sxy, sxx, syy] = [sxy + (rx[i] - mx) * (ry[i] - my), sxx + (rx[i] - mx) ** 2, syy + (ry[i] - my) ** 2];
  return sxy / Math.sqrt(sxx * syy);
}

/** The RDM straight from features, float64, O(N^2 F). */
function rdmRef(x: Float32Array, n: number, F: number, metric: RdmMetric): Float64Array {
  const row = (i: number) => Array.from(x.subarray(i * F, (i + 1) * F));
  const d = new Float64Array(n * n);
  const rbar = x.reduce((a, v) => a + v, 0) / (n * F);
  const prep = (v: number[]) => {
    if (metric !== 'pearson') return v;
    const m = v.reduce((a, b) => a + b) / F;
    return v.map((a) => a - m);
  };
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const a = prep(row(i)), b = prep(row(j));
      if (metric === 'euclidean') {
        d[i * n + j] = Math.sqrt(a.reduce((s, v, k) => s + (v - b[k]) ** 2, 0)) / (Math.sqrt(F) * rbar);
        continue;
      }
      const na = Math.hypot(...a), nb = Math.hypot(...b);
      if (na === 0 || nb === 0) d[i * n + j] = na === 0 && nb === 0 ? 0 : 1;
      else d[i * n + j] = 1 - a.reduce((s, v, k) => s + v * b[k], 0) / (na * nb);
    }
  }
  return d;
}

/** Random spike counts 0..maxCount with a firing probability drawn per sample; row 0 silent, row 1 constant. */
function spikeCounts(next: () => number, n: number, F: number, maxCount = 4): Float32Array {
  const x = new Float32Array(n * F);
  for (let i = 2; i < n; i++) {
    const p = 0.05 + 0.6 * next();
    for (let f = 0; f < F; f++) x[i * F + f] = next() < p ? 1 + Math.floor(next() * maxCount) : 0;
  }
  for (let f = 0; f < F; f++) x[F + f] = 2;
  return x;
}

describe('rank correlations', () => {
  it('match hand-computed values, with and without ties', () => {
    // 10 pairs, 2 discordant: tau = 6/10; sum d^2 = 4: rho = 1 - 6*4/(5*24).
    expect(kendallTau([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])).toBeCloseTo(0.6, 12);
    expect(spearmanRho([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])).toBeCloseTo(0.8, 12);
    // One pair tied in x, one in y, 4 concordant: tau-b = 4 / sqrt(5 * 5).
    expect(kendallTau([1, 2, 2, 3], [1, 2, 3, 3])).toBeCloseTo(0.8, 12);
    // Mid-ranks [1, 2.5, 2.5, 4] and [1, 2, 3.5, 3.5]: 3.75 / 4.5.
    expect(spearmanRho([1, 2, 2, 3], [1, 2, 3, 3])).toBeCloseTo(3.75 / 4.5, 12);
    expect(Array.from(averageRanks([5, 1, 5, 3]))).toEqual([3.5, 1, 3.5, 2]);
    expect(kendallTau([3, 2, 1], [1, 2, 3])).toBe(-1);
    expect(kendallTau([1, 1, 1], [1, 2, 3])).toBeNaN();
    expect(spearmanRho([1, 2, 3], [4, 4, 4])).toBeNaN();
    expect(() => kendallTau([1, 2], [1])).toThrow(/x has 2 values, y 1/);
  });

  it('agree with the O(n^2) definitions on random data with many ties', () => {
    const next = rng(freshSeed('rank correlations'));
    for (const n of [2, 3, 17, 257, 1000]) {
      const x = Array.from({ length: n }, () => Math.floor(next() * 7));
      const y = x.map((v) => (next() < 0.6 ? v + Math.floor(next() * 3) : Math.floor(next() * 5)));
      // Tiny samples may draw a constant variable: then both sides must say NaN (undefined).
      const same = (got: number, want: number, what: string) => (Number.isNaN(want) ? expect(got, what).toBeNaN() : expect(got, what).toBeCloseTo(want, 12));
      same(kendallTau(x, y), kendallSlow(x, y), `tau n=${n}`);
      same(spearmanRho(x, y), spearmanSlow(x, y), `rho n=${n}`);
    }
  });
});

describe('RDMs from GPU Gram matrices', () => {
  it('match a float64 CPU reference for every metric (counts with a silent and a constant sample, and real values)', async () => {
    const seed = freshSeed('rdm kernels');
    const next = rng(seed);
    for (const [n, F, real] of [[37, 53, false], [9, 301, false], [23, 7, true]] as const) {
      const x = real ? Float32Array.from({ length: n * F }, () => next() * 3) : spikeCounts(next, n, F);
      const t = Tensor.fromData(x, [n, F]);
      const [g] = await layerGrams([t]);
      t.release();
      for (const metric of ['pearson', 'cosine', 'euclidean'] as const) {
        expectClose(rdmFromGram(g, metric), rdmRef(x, n, F, metric), 1e-4, `${metric} N=${n} F=${F}`);
      }
    }
  });

  it('the Hamming kernel of binarised spikes and its log|det| match a CPU reference', async () => {
    const next = rng(freshSeed('hamming kernel'));
    const n = 29, F = 211;
    const x = spikeCounts(next, n, F);
    x[0] = 3; // the silent row gets one spike, so K is not singular by construction
    const t = Tensor.fromData(x, [n, F]);
    const [g] = await layerGrams([t], true);
    t.release();
    // Reference: Hamming distances of the 0/1 patterns counted feature by feature.
    const b = Array.from({ length: n }, (_, i) => Array.from(x.subarray(i * F, (i + 1) * F), (v) => +(v > 0)));
    const p = b.map((r) => r.reduce((a, v) => a + v) / F);
    const K = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const h = b[i].reduce((a, v, k) => a + +(v !== b[j][k]), 0);
        K[i * n + j] = F - (0.5 * h) / (F * (p[i] * (1 - p[j]) + (1 - p[i]) * p[j]) + HAMMING_EPSILON);
      }
    }
    const got = hammingKernel(g);
    expectClose(got, K, 1e-9, 'Hamming kernel');
    // log|det| from the eigenvalues of the symmetric K (another algorithm than the LU under test).
    const eig = new EigenvalueDecomposition(new Matrix(Array.from({ length: n }, (_, i) => Array.from(K.subarray(i * n, (i + 1) * n)))), { assumeSymmetric: true });
    const want = eig.realEigenvalues.reduce((a, v) => a + Math.log(Math.abs(v)), 0);
    expect(Math.abs(logAbsDet(got, n) - want)).toBeLessThan(1e-8 * Math.abs(want));
    // A silent layer makes K constant: singular.
    const dead = Tensor.fromData(new Float32Array(4 * 5), [4, 5]);
    expect((await scoreLayers([dead], 'hamming-logdet')).score).toBe(-Infinity);
    dead.release();
  });

  it('log|det| by LU matches hand-made matrices', () => {
    expect(logAbsDet(Float64Array.from([2, 0, 0, 3]), 2)).toBeCloseTo(Math.log(6), 12);
    expect(logAbsDet(Float64Array.from([0, 1, 1, 0]), 2)).toBeCloseTo(0, 12); // det -1: needs a pivot swap
    expect(logAbsDet(Float64Array.from([1, 2, 2, 4]), 2)).toBe(-Infinity);
  });
});

describe('RDM fitness variants', () => {
  /** Clustered: each class has a prototype rate per feature, samples are noisy counts around it.
   * Random: the same kind of counts, each sample with its own prototype (labels carry nothing). */
  function features(next: () => number, labels: number[], F: number, clustered: boolean): Float32Array {
    const classes = Math.max(...labels) + 1;
    const proto = Array.from({ length: clustered ? classes : labels.length }, () => Array.from({ length: F }, () => (next() < 0.3 ? 3 * next() : 0)));
    const x = new Float32Array(labels.length * F);
    labels.forEach((c, i) => {
      const r = proto[clustered ? c : i];
      for (let f = 0; f < F; f++) x[i * F + f] = Math.max(0, Math.round(r[f] + 1.2 * (next() - 0.5)));
    });
    return x;
  }

  it('the table names each variant once, says whether it needs labels, and where it comes from', () => {
    const names = RDM_FITNESSES.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    for (const f of RDM_FITNESSES) {
      expect(['paper', 'released code', 'bionas choice']).toContain(f.source);
      expect(f.description.length).toBeGreaterThan(10);
    }
    expect(rdmFitness('hamming-logdet').source).toBe('released code');
    expect(() => rdmFitness('nope')).toThrow(/unknown RDM fitness 'nope'; known: rsa-spearman/);
  });

  it('label-aware scores rank class-clustered features above random ones, per layer and averaged', async () => {
    const next = rng(fixedSeed('clustered vs random features', 5));
    const labels = Array.from({ length: 41 }, (_, i) => i % 4);
    const F = 67;
    const clustered = Tensor.fromData(features(next, labels, F, true), [41, F]);
    const random = Tensor.fromData(features(next, labels, F, false), [41, F]);
    const clustered2 = Tensor.fromData(features(next, labels, 19, true), [41, 19]);
    for (const f of RDM_FITNESSES.filter((e) => e.needsLabels)) {
      const good = await scoreLayers([clustered, clustered2], f.name, labels);
      const bad = await scoreLayers([random], f.name, labels);
      const mixed = await scoreLayers([clustered, random], f.name, labels);
      console.log(`${f.name}: clustered ${good.score.toFixed(3)}, random ${bad.score.toFixed(3)}, mixed layers ${mixed.perLayer.map((v) => v.toFixed(3)).join(' / ')} -> ${mixed.score.toFixed(3)}`);
      expect(good.score, f.name).toBeGreaterThan(bad.score + 0.2);
      expect(Math.abs(bad.score), f.name).toBeLessThan(0.3); // random features carry no class structure
      expect(mixed.perLayer[0]).toBeGreaterThan(mixed.perLayer[1]);
      // Averaging with a random layer dilutes, but does not erase, the clustered layer's structure.
      expect(mixed.score).toBeGreaterThan(bad.score);
    }
    clustered.release();
    random.release();
    clustered2.release();
  });

  it('label-free scores: a silent layer is the worst, independent features the best', async () => {
    const next = rng(fixedSeed('label-free scores', 3));
    const n = 24, F = 200;
    const silent = Tensor.fromData(new Float32Array(n * F), [n, F]);
    const independent = Tensor.fromData(spikeCounts(next, n, F).map((v, i) => (i < 2 * F ? (i % 3) : v)), [n, F]);
    // Every sample the same pattern plus a little noise: highly correlated.
    const base = Array.from({ length: F }, () => Math.floor(next() * 4));
    const alike = Tensor.fromData(Float32Array.from({ length: n * F }, (_, i) => base[i % F] + +(next() < 0.05)), [n, F]);
    for (const name of ['effective-rank', 'spread']) {
      const s = (await scoreLayers([silent], name)).score, a = (await scoreLayers([alike], name)).score, r = (await scoreLayers([independent], name)).score;
      console.log(`${name}: silent ${s.toFixed(3)}, alike ${a.toFixed(3)}, independent ${r.toFixed(3)}`);
      expect(s).toBeLessThan(a);
      expect(a).toBeLessThan(r);
    }
    expect((await scoreLayers([silent], 'effective-rank')).score).toBeCloseTo(1, 9);
    const h = (await scoreLayers([alike], 'hamming-logdet')).score, hr = (await scoreLayers([independent], 'hamming-logdet')).score;
    expect(hr).toBeGreaterThan(h);
    // Identity similarity (d = 1 off the diagonal) has full effective rank.
    const d = new Float64Array(9).fill(1);
    [0, 4, 8].forEach((i) => (d[i] = 0));
    expect(effectiveRankScore(d, 3)).toBeCloseTo(3, 9);
    expect(Array.from(upperTriangle(Float64Array.from([0, 1, 2, 1, 0, 3, 2, 3, 0]), 3))).toEqual([1, 2, 3]);
    silent.release();
    independent.release();
    alike.release();
  });

  it('refuses missing or useless labels and malformed layers', async () => {
    const t = Tensor.fromData(new Float32Array(12).map((_, i) => i % 5), [4, 3]);
    await expect(scoreLayers([t], 'rsa-spearman')).rejects.toThrow(/'rsa-spearman' needs labels/);
    await expect(scoreLayers([t], 'separation', [1, 1, 1, 1])).rejects.toThrow(/two classes/);
    await expect(scoreLayers([t], 'separation', [0, 1, 2, 3])).rejects.toThrow(/two samples of one class/);
    await expect(scoreLayers([t], 'separation', [0, 1])).rejects.toThrow(/2 labels for 4 samples/);
    const u = Tensor.fromData(new Float32Array(6), [3, 2]);
    await expect(scoreLayers([t, u], 'spread')).rejects.toThrow(/layer 1 has 3 samples, layer 0 has 4/);
    const v = Tensor.fromData(new Float32Array(6), [6]);
    await expect(scoreLayers([v], 'spread')).rejects.toThrow(/layer 0 is f32 \[6\]; needs f32 \[N, F\]/);
    t.release();
    u.release();
    v.release();
  });
});
