// DCL-ENAS building blocks: the NB201 path encoding against the benchmark's UniqueString, and
// the contrastive predictor's ranking quality on held-out cells.

import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { useGpu } from './util.js';
import {
  parseNb201, formatNb201, pathKey, encodePaths, computationKey, cellPaths, PATH_CODE_LENGTH, type Nb201Cell,
} from '../src/benchmarks/nb201/encoding.js';
import { ContrastivePredictor, kendallTau, cpuRandom } from '../src/search/predictors/contrastive.js';
import { dclEnas } from '../src/search/strategies/dcl_enas.js';

const DATA = (name: string) => fileURLToPath(new URL(`../../shared/data/nas-bench-201/${name}`, import.meta.url));
const ACC = DATA('nas-bench-201-accuracy.csv');
const E12 = DATA('nas-bench-201-12epoch.csv');
const haveData = existsSync(ACC) && existsSync(E12);
if (!haveData) console.log(`[dcl] NB201 tables absent (${ACC}): the data tests are skipped`);

function rows(file: string): string[][] {
  return readFileSync(file, 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
}

/** Groups b-values by a-value and counts the a-classes that hold more than one b. */
function splitCount(pairs: readonly [string, string][]): number {
  const m = new Map<string, Set<string>>();
  for (const [a, b] of pairs) (m.get(a) ?? m.set(a, new Set()).get(a)!).add(b);
  return [...m.values()].filter((s) => s.size > 1).length;
}

describe('NB201 path encoding', () => {
  it('parses and formats the benchmark notation', () => {
    const arch = '|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|';
    expect(formatNb201(parseNb201(arch))).toBe(arch);
  });

  it('tells conv(a + b) from conv(a) + conv(b) by the ops two paths share at the output end', () => {
    // (0+0)@conv1x1 + 2 avg: node 2 = skip(0) + skip(skip(0)), one conv on 2->3
    const shared = parseNb201('|skip_connect~0|+|skip_connect~0|skip_connect~1|+|avg_pool_3x3~0|avg_pool_3x3~1|nor_conv_1x1~2|');
    // (0)@conv1x1 + (0)@conv1x1 + 2 avg: two conv edges into node 3
    const apart = parseNb201('|skip_connect~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|nor_conv_1x1~0|nor_conv_1x1~1|skip_connect~2|');
    expect(computationKey(shared)).not.toBe(computationKey(apart));
    expect(pathKey(shared)).not.toBe(pathKey(apart));
    // without the sharing counts the path multisets coincide
    expect(cellPaths(shared)).toEqual([[2], [2], [4], [4]]);
    expect(cellPaths(apart)).toEqual([[2], [2], [4], [4]]);
  });

  it('drops skip as the identity, cuts paths at none, and sorts them', () => {
    // 0->3 skip: identity path []; 0->1->3 conv3,conv3; 0->2->3 conv3,skip; 0->1->2->3 conv3,avg,skip
    const c = parseNb201('|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|');
    expect(cellPaths(c)).toEqual([[], [3], [3, 3], [3, 4]]);
    const cut = parseNb201('|none~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|skip_connect~2|');
    expect(cellPaths(cut)).toEqual([[3]]);
    const code = encodePaths(cut);
    expect(code.length).toBe(PATH_CODE_LENGTH);
    expect(Array.from(code.slice(0, 10))).toEqual([1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect(code.slice(10).every((v) => v === 0)).toBe(true);
    // The identity cell and the zero cell differ (the "present" flag).
    expect(pathKey(parseNb201('|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|')))
      .not.toBe(pathKey(parseNb201('|none~0|+|none~0|none~1|+|none~0|none~1|none~2|')));
  });

  it.skipIf(!haveData)('code equal <=> same computation on all 15,625 cells; UniqueString finer only by its zero terms (measured)', () => {
    const data = rows(ACC);
    expect(data.length).toBe(15625);
    const u2c: [string, string][] = [];
    const c2u: [string, string][] = [];
    const u2s: [string, string][] = [];
    const s2c: [string, string][] = [];
    const c2s: [string, string][] = [];
    for (const r of data) {
      const cell = parseNb201(r[3]);
      const u = r[4], c = pathKey(cell), s = computationKey(cell);
      u2c.push([u, c]); c2u.push([c, u]); u2s.push([u, s]); s2c.push([s, c]); c2s.push([c, s]);
    }
    expect(new Set(data.map((r) => r[4])).size).toBe(6466);
    // The code is exactly the computation (zeros removed): 4,930 classes, none split, none merged.
    expect(new Set(s2c.map(([s]) => s)).size).toBe(4930);
    expect(new Set(u2c.map(([, c]) => c)).size).toBe(4930);
    expect(splitCount(s2c)).toBe(0);
    expect(splitCount(c2s)).toBe(0);
    // No UniqueString class is split by the code...
    expect(splitCount(u2c)).toBe(0);
    expect(splitCount(u2s)).toBe(0);
    // ...but 623 codes each hold several UniqueString classes (6,466 -> 4,930), all because
    // UniqueString keeps zero terms: '#+#+#' and '#+#+(#+#)@avg_pool_3x3' both compute zero.
    expect(splitCount(c2u)).toBe(623);
    const zero = (arch: string) => pathKey(parseNb201(arch));
    expect(zero('|none~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|')).toBe(zero('|none~0|+|none~0|none~1|+|none~0|none~1|avg_pool_3x3~2|'));
  });
});

describe('Kendall tau', () => {
  it('counts concordant minus discordant pairs (tau-b with ties)', () => {
    expect(kendallTau([1, 2, 3, 4], [10, 20, 30, 40])).toBe(1);
    expect(kendallTau([1, 2, 3, 4], [4, 3, 2, 1])).toBe(-1);
    // pairs: (1,2)+ (1,3)+ (1,4)+ (2,3)- (2,4)+ (3,4)+ : (5 - 1) / 6
    expect(kendallTau([1, 2, 3, 4], [1, 3, 2, 4])).toBeCloseTo(4 / 6, 12);
    // a tie in b: 5 untied pairs of b, 6 of a: (4 - 1) / sqrt(6 * 5)
    expect(kendallTau([1, 2, 3, 4], [1, 2, 2, 4])).toBeCloseTo(5 / Math.sqrt(30), 12);
  });
});

describe('contrastive predictor', () => {
  useGpu();
  it.skipIf(!haveData)('ranks 1,000 held-out cells after fine-tuning on 100 (12-epoch valid), with and without stage 1', async () => {
    const e12 = rows(E12);
    const acc = rows(ACC);
    const rand = cpuRandom(2026);
    const order = Array.from({ length: e12.length }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); [order[i], order[j]] = [order[j], order[i]]; }
    const train = order.slice(0, 100);
    const test = order.slice(100, 1100);
    const cell = (i: number): Nb201Cell => parseNb201(e12[i][1]);
    const valid12 = (i: number) => Number(e12[i][2]);
    const test200 = (i: number) => Number(acc[i][0]);
    const taus: Record<string, { valid12: number; test200: number }> = {};
    for (const pre of [false, true]) {
      const t0 = performance.now();
      const p = new ContrastivePredictor(pre ? { seed: 7 } : { seed: 7, pretrainSteps: 0 });
      const l1 = pre ? await p.pretrain() : NaN;
      const l2 = await p.fineTune(train.map(cell), train.map(valid12));
      const s = await p.predict(test.map(cell));
      const tau = { valid12: kendallTau(s, test.map(valid12)), test200: kendallTau(s, test.map(test200)) };
      taus[pre ? 'stage1+2' : 'stage2'] = tau;
      console.log(`[dcl] ${pre ? 'stage 1 + 2' : 'stage 2 only'}: infoNCE ${l1.toFixed(3)} rank loss ${l2.toFixed(3)} ` +
        `tau vs 12-epoch valid ${tau.valid12.toFixed(3)}, vs 200-epoch test ${tau.test200.toFixed(3)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    }
    // Measured (seed 7, split 2026): stage 2 only 0.599 / 0.534 (12-epoch valid / 200-epoch test),
    // stage 1 + 2 0.598 / 0.540. Stage 1 does NOT measurably help: over 4 seeds and splits the mean
    // tau was 0.633 without it and 0.635-0.639 with it (isomorphic or nearest positives, 200 or
    // 600 steps, temperature 0.5 or 0.1), within the seed spread (0.59-0.68); with 50 fine-tuning
    // steps 0.545 vs 0.548. So only "clearly above zero" is asserted, for both.
    for (const t of Object.values(taus)) {
      expect(t.valid12).toBeGreaterThan(0.4);
      expect(t.test200).toBeGreaterThan(0.4);
    }
  }, 120_000);
});

describe('DCL-ENAS loop', () => {
  useGpu();
  it.skipIf(!haveData)('spends exactly the budget on distinct cells, returns the best really evaluated one, and beats random search', async () => {
    const e12 = rows(E12);
    const acc = rows(ACC);
    const archs = e12.map((r) => r[1]);
    const valid12 = e12.map((r) => Number(r[2]));
    const budget = 60;
    const t0 = performance.now();
    const bests: number[] = [];
    for (const seed of [1, 2, 3]) {
      const queried: number[] = [];
      const result = await dclEnas(archs, (i) => { queried.push(i); return valid12[i]; },
        { budget, initial: 20, infill: 10, generations: 3, population: 30, offspring: 30, seed, predictor: { fineTuneSteps: 100 } });
      expect(queried.length).toBe(budget);
      expect(new Set(queried).size).toBe(budget);
      expect(result.history.map((h) => h.index)).toEqual(queried);
      expect(result.best.accuracy).toBe(Math.max(...queried.map((i) => valid12[i])));
      expect(result.best.arch).toBe(archs[result.best.index]);
      const rank = valid12.filter((v) => v > result.best.accuracy).length + 1;
      console.log(`[dcl] DCL-ENAS seed ${seed}, budget ${budget}: best 12-epoch valid ${result.best.accuracy.toFixed(2)} ` +
        `(rank ${rank} of ${valid12.length}), its 200-epoch test ${Number(acc[result.best.index][0]).toFixed(2)}`);
      bests.push(result.best.accuracy);
    }
    // Random search with the same budget: its expected best over 2,000 runs (CPU only).
    const rand = cpuRandom(9);
    let rsMean = 0;
    for (let r = 0; r < 2000; r++) {
      const seen = new Set<number>();
      while (seen.size < budget) seen.add(Math.floor(rand() * valid12.length));
      rsMean += Math.max(...[...seen].map((i) => valid12[i])) / 2000;
    }
    const mean = bests.reduce((a, b) => a + b) / bests.length;
    console.log(`[dcl] DCL-ENAS mean best ${mean.toFixed(2)} vs random search ${rsMean.toFixed(2)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    // Measured: 84.46 vs 83.38 (table maximum 84.89); seeds 1-3 give 84.50, 84.61, 84.28, each above random search's mean.
    expect(mean).toBeGreaterThan(rsMean);
  }, 120_000);
});

describe('DCL-ENAS as a table strategy of bionas benchmark', () => {
  useGpu();

  it('spends the query budget on distinct cells, reproducibly from its seed, on the shipped table', async () => {
    const { loadNb201Table } = await import('../src/benchmarks/nb201/table.js');
    const { runNb201Search } = await import('../src/search/strategies/run_table.js');
    const { getTableStrategy } = await import('../src/search/strategies/index.js');
    const nb = await loadNb201Table();
    const dcl = getTableStrategy('dcl-enas');
    expect(dcl.usesGpu).toBe(true);
    const flags = { 'dcl-initial': 10, 'dcl-generations': 2, 'dcl-infill': 5 };
    const opts = { dataset: 'cifar10', signal: 'valid12' as const, queries: 25, flags };
    const one = await runNb201Search(nb, dcl, { ...opts, seed: 3 });
    const two = await runNb201Search(nb, dcl, { ...opts, seed: 3 });
    expect(one.queried).toEqual(two.queried);
    expect(new Set(one.queried.map((i) => nb.classOf(i))).size).toBe(25);
    // The cell it returns is the best it really queried, by the search signal: a charged cell or
    // a free repeat of one's class (isomorphic cells have their own recorded accuracies).
    const best = Math.max(...one.queried.map((i) => nb.signal(i, 'cifar10', 'valid12')));
    expect(one.best.value).toBeGreaterThanOrEqual(best);
    expect(one.queried.map((i) => nb.classOf(i))).toContain(nb.classOf(one.best.index));
  }, 120_000);
});
