import { describe, it, expect } from 'vitest';
import { mkdtempSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useGpu, freshSeed } from './util.js';
import { Generator } from '../src/ops/random.js';
import { SPACE_PRESETS, parseSpace } from '../src/search/space.js';
import { DartsSupernet, Nb201Supernet } from '../src/search/supernet.js';
import { runEgSearch, EG_SEARCH, type EgConfig } from '../src/search/strategies/index.js';
import { scoreCandidates, candidatesPerPass } from '../src/search/strategies/eg_score.js';
import { syntheticDataset } from '../src/data/synthetic.js';
import { BatchLoader } from '../src/data/loader.js';
import { split } from '../src/data/dataset.js';
import { parseGenotype } from '../src/models/genotype.js';
import { normaliseRows, scoreWeights, similarity, compoundFitness, moveDirection, moveAlphas, egSigma, rowSoftmax } from '../src/search/strategies/eg_fitness.js';

useGpu();

describe("BioNAS-EG's arithmetic, as EG-NAS computes it", () => {
  // Two edges of three pairs (think: a normal and a reduction cell of one edge each).
  const cols = 3;

  it('normalises each edge row to unit L2 length (a zero row stays zero)', () => {
    const close = (got: ArrayLike<number>, want: number[]) => want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, 15));
    close(normaliseRows([3, 4, 0, 0, 0, 0], cols), [0.6, 0.8, 0, 0, 0, 0]);
    const r = 1 / Math.sqrt(3);
    close(normaliseRows([0, -2, 0, 1, 1, 1], cols), [0, -1, 0, r, r, r]);
  });

  it('scores a candidate with the softmax of its normalised rows', () => {
    const w = scoreWeights([3, 4, 0, 10, 0, 0], cols);
    const e = [Math.exp(0.6), Math.exp(0.8), 1];
    const s = e[0] + e[1] + e[2];
    expect(w[0]).toBeCloseTo(e[0] / s, 14);
    expect(w[1]).toBeCloseTo(e[1] / s, 14);
    // Scale does not matter: [10, 0, 0] scores as [1, 0, 0].
    expect(Array.from(w.subarray(3))).toEqual(Array.from(rowSoftmax([1, 0, 0], cols)));
  });

  it('sim is the mean over edges of (cos + 1) / 2 between normalised candidate rows and softmax(alpha) rows', () => {
    const current = [1, 0, 0, 0, 1, 0];
    // Edge 1 points the same way (cos 1 -> 1), edge 2 is orthogonal (cos 0 -> 0.5): sim 0.75.
    expect(similarity([5, 0, 0, 0, 0, 2], current, cols)).toBeCloseTo(0.75, 15);
    // Opposite (cos -1 -> 0) and the same (1): 0.5.
    expect(similarity([-1, 0, 0, 0, 3, 0], current, cols)).toBeCloseTo(0.5, 15);
    expect(similarity([1, 0, 0, 0, 1, 0], current, cols)).toBe(1);
    // cos of [1, 1, 0] with [1, 0, 0] is 1/sqrt(2).
    expect(similarity([1, 1, 0, 1, 1, 0], [1, 0, 0, 1, 0, 0], cols)).toBeCloseTo((1 / Math.SQRT2 + 1) / 2, 15);
  });

  it('fitness = CE + 0.4 sim when at least as accurate as the current architecture, else CE - 0.4 sim', () => {
    expect(compoundFitness(1.5, 0.5, 0.5, 0.75)).toBeCloseTo(1.8, 15); // equal accuracy counts as at least as accurate
    expect(compoundFitness(1.5, 0.75, 0.5, 0.75)).toBeCloseTo(1.8, 15);
    expect(compoundFitness(1.5, 0.25, 0.5, 0.75)).toBeCloseTo(1.2, 15);
    expect(compoundFitness(1.5, 0.25, 0.5, 0.75, 0)).toBe(1.5);
    // Lower is better: of two equally good candidates, the one less like the current architecture wins.
    expect(compoundFitness(1, 0.6, 0.5, 0.2)).toBeLessThan(compoundFitness(1, 0.6, 0.5, 0.9));
    // Of two poor ones, the one more like it wins.
    expect(compoundFitness(1, 0.4, 0.5, 0.9)).toBeLessThan(compoundFitness(1, 0.4, 0.5, 0.2));
  });

  it('the best candidate moves the alphas by eta times its op weights, with momentum on the direction', () => {
    const best = [3, 4, 0, 0, 0, 7];
    const d = moveDirection(best, cols, null, 0);
    expect(Array.from(d)).toEqual(Array.from(scoreWeights(best, cols)));
    const alphas = [0.1, -0.2, 0.3, 0, 0, 0];
    const moved = moveAlphas(alphas, d, 0.1);
    moved.forEach((v, i) => expect(v).toBeCloseTo(alphas[i] + 0.1 * d[i], 15));
    // d_t = m d_{t-1} + d
    const previous = [1, 2, 3, 4, 5, 6];
    const dm = moveDirection(best, cols, previous, 0.5);
    dm.forEach((v, i) => expect(v).toBeCloseTo(d[i] + 0.5 * previous[i], 15));
  });

  it('sigma = max(1 / (epoch + 1), 0.02) of the global epoch', () => {
    expect(egSigma(0)).toBe(1);
    expect(egSigma(15)).toBe(1 / 16); // EG-NAS' first search epoch after 15 warm-up epochs
    expect(egSigma(49)).toBe(0.02);
    expect(egSigma(200)).toBe(0.02);
  });
});

describe('BioNAS-EG', () => {
  it('scoring a candidate gives the loss of the network with those alphas', async () => {
    const gen = new Generator(4);
    const model = new Nb201Supernet(SPACE_PRESETS.nb201, { C: 2, layers: 1, numClasses: 3, gen });
    const data = syntheticDataset({ count: 8, classes: 3, size: 8, seed: 1 });
    const batch = new BatchLoader(data, { batchSize: 8 }).epoch(0).next().value!;
    const n = model.alpha.size;
    const a = Float64Array.from({ length: n }, (_, i) => Math.sin(i));
    const b = Float64Array.from({ length: n }, (_, i) => Math.cos(3 * i));
    const both = await scoreCandidates(model, [a, b], batch);
    const onlyB = await scoreCandidates(model, [b], batch);
    const onlyA = await scoreCandidates(model, [a], batch);
    expect(both.loss[1]).toBeCloseTo(onlyB.loss[0], 5);
    expect(both.loss[0]).toBeCloseTo(onlyA.loss[0], 5);
    expect(both.loss[0]).not.toBeCloseTo(both.loss[1], 3);
    model.dispose();
  });

  it('candidates scored side by side in one pass score as they do alone (DARTS cells, none mid-space)', async () => {
    const seed = freshSeed('eg batched scoring');
    const gen = new Generator(seed);
    const space = parseSpace([{ op: 'max_pool_3x3' }, { op: 'none' }, { op: 'skip_connect', rule: 'usf' }, { op: 'sep_conv_3x3', rule: 'fa' }, { op: 'dil_conv_3x3' }], 'batched space');
    const model = new DartsSupernet(space, { C: 4, layers: 3, steps: 2, numClasses: 3, gen });
    const data = syntheticDataset({ count: 6, classes: 3, size: 8, seed });
    const batch = new BatchLoader(data, { batchSize: 6 }).epoch(0).next().value!;
    const n = model.alphas.reduce((s, a) => s + a.size, 0);
    const cands = Array.from({ length: 5 }, (_, k) => Float64Array.from({ length: n }, (_, i) => 2 * Math.sin(i * (k + 1) + seed)));
    const alone = await Promise.all(cands.map((x) => scoreCandidates(model, [x], batch)));
    for (const perPass of [5, 2]) {
      const together = await scoreCandidates(model, cands, batch, perPass);
      cands.forEach((_, k) => {
        expect(together.loss[k], `candidate ${k}, ${perPass} per pass`).toBeCloseTo(alone[k].loss[0], 5);
        expect(together.acc[k], `candidate ${k}, ${perPass} per pass`).toBe(alone[k].acc[0]);
      });
    }
    expect(new Set(alone.map((r) => r.loss[0].toFixed(4))).size).toBe(5);
    // The pass size: fixed, or what fits in the memory allowance and the largest buffer.
    expect(candidatesPerPass({ candidatesPerPass: 3, scoreMemoryMiB: 1 }, 10, { bytes: 2 ** 30, largestBuffer: 1 }, 1)).toBe(3);
    expect(candidatesPerPass({ candidatesPerPass: 0, scoreMemoryMiB: 100 }, 50, { bytes: 30 * 2 ** 20, largestBuffer: 1 }, 2 ** 30)).toBe(3);
    expect(candidatesPerPass({ candidatesPerPass: 0, scoreMemoryMiB: 4096 }, 50, { bytes: 2 ** 20, largestBuffer: 2 ** 20 }, 2 ** 24)).toBe(16);
    expect(candidatesPerPass({ candidatesPerPass: 0, scoreMemoryMiB: 1 }, 50, { bytes: 2 ** 30, largestBuffer: 1 }, 2 ** 30)).toBe(1);
    expect(candidatesPerPass({ candidatesPerPass: 0, scoreMemoryMiB: 4096 }, 7, { bytes: 1, largestBuffer: 1 }, 2 ** 30)).toBe(7);
    await expect(scoreCandidates(model, [new Float64Array(3)], batch)).rejects.toThrow(/candidate 0 has 3 values, the alphas have/);
    model.dispose();
  });

  it('a tiny search writes its outputs, moves the alphas by eta per edge, and killed mid-evolution or mid-training resumes to the same alphas', async () => {
    const seed = freshSeed('eg resume');
    const data = syntheticDataset({ count: 64, classes: 3, size: 8, seed });
    const [a, b] = split(data, 32, seed);
    // 3 epochs, the first a warm-up (counted inside, as EG-NAS' 15 of 50); 2 searches x 2 generations per search epoch.
    const config: EgConfig = { ...EG_SEARCH, epochs: 3, warmupEpochs: 1, batchSize: 8, population: 5, initialSamples: 2, generations: 2, logEvery: 2, seed };
    const loaders = () => ({
      train: new BatchLoader(a, { batchSize: 8, shuffle: true, seed, dropLast: true }),
      valid: new BatchLoader(b, { batchSize: 8, shuffle: true, seed: seed + 1, dropLast: true }),
    });
    const build = () => {
      const gen = new Generator(seed);
      const space = parseSpace([{ op: 'none' }, { op: 'avg_pool_3x3' }, { op: 'skip_connect', rule: 'frsf' }, { op: 'sep_conv_3x3', rule: 'usf' }, { op: 'dil_conv_3x3', rule: 'brsf' }], 'test space');
      return { gen, model: new DartsSupernet(space, { C: 2, layers: 3, steps: 2, numClasses: 3, gen }) };
    };
    const quiet = () => {};
    const dirFull = mkdtempSync(join(tmpdir(), 'bionas-eg-'));
    const full = build();
    const initial = await Promise.all(full.model.alphas.map((t) => t.data()));
    const r = await runEgSearch(full.model, loaders(), config, { runDir: dirFull, gen: full.gen, log: quiet });
    expect(r.stopped).toBe(false);
    expect(r.generations.length).toBe(2 * 2 * 2);
    expect(r.history.map((h) => h.phase)).toEqual(['warmup', 'search', 'search']);
    for (const f of ['genotype.json', 'normal.svg', 'reduce.svg', 'alphas_normal.svg', 'evolution.svg', 'evolution.jsonl', 'metrics.jsonl', 'checkpoint.bin']) expect(existsSync(join(dirFull, f)), f).toBe(true);
    expect(() => parseGenotype(JSON.parse(readFileSync(join(dirFull, 'genotype.json'), 'utf8')).genotype)).not.toThrow();
    const want = await Promise.all(full.model.alphas.map((t) => t.data()));
    // Each search epoch moves every edge's alphas by eta times a softmax row (entries in (0, eta), summing to eta):
    // two epochs, eta 0.1, no momentum. The best candidate moves the alphas; it does not replace them.
    want.forEach((after, m) => {
      const P = 5;
      for (let e = 0; e < after.length / P; e++) {
        let sum = 0;
        for (let j = 0; j < P; j++) {
          const delta = after[e * P + j] - initial[m][e * P + j];
          expect(delta).toBeGreaterThan(0);
          expect(delta).toBeLessThan(2 * config.stepSize);
          sum += delta;
        }
        expect(sum).toBeCloseTo(2 * config.stepSize, 5);
      }
    });

    // 4 steps per weight epoch, 4 generations per evolution: stop after 7 steps (inside epoch 2's
    // evolution, between two generations of one CMA-ES search), then after 3 more (inside its training).
    const dir = mkdtempSync(join(tmpdir(), 'bionas-eg-resume-'));
    const first = build();
    const stopped = await runEgSearch(first.model, loaders(), config, { runDir: dir, gen: first.gen, log: quiet, stopAfterSteps: 7 });
    expect(stopped.stopped).toBe(true);
    first.model.dispose();
    const second = build();
    const again = await runEgSearch(second.model, loaders(), config, { runDir: dir, gen: second.gen, log: quiet, resume: true, stopAfterSteps: 3 });
    expect(again.stopped).toBe(true);
    second.model.dispose();
    const third = build();
    const resumed = await runEgSearch(third.model, loaders(), config, { runDir: dir, gen: third.gen, log: quiet, resume: true });
    expect(resumed.stopped).toBe(false);
    expect(await Promise.all(third.model.alphas.map((t) => t.data()))).toEqual(want);
    expect(resumed.generations).toEqual(r.generations);
    // The history files hold each generation and epoch once.
    const lines = (d: string, f: string) => readFileSync(join(d, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines(dir, 'evolution.jsonl').map((g) => [g.epoch, g.search, g.generation])).toEqual(lines(dirFull, 'evolution.jsonl').map((g) => [g.epoch, g.search, g.generation]));
    expect(lines(dir, 'metrics.jsonl').map((m) => m.epoch)).toEqual([1, 2, 3]);
    full.model.dispose();
    third.model.dispose();
  }, 300_000);
});
