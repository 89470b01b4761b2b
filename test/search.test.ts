import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useGpu, freshSeed, rng, randomArray } from './util.js';
import { Tensor, scope } from '../src/tensor.js';
import { backward, noGrad } from '../src/autograd.js';
import { Generator, randomNormal } from '../src/ops/random.js';
import { crossEntropy, softmax } from '../src/ops/loss.js';
import { linear } from '../src/ops/matmul.js';
import { weightedSum } from '../src/ops/mixed.js';
import { Module, parameter } from '../src/nn/module.js';
import { reshape } from '../src/nn/basic.js';
import { SGD } from '../src/optim/sgd.js';
import { SPACE_PRESETS, parseSpace, type SearchSpace } from '../src/search/space.js';
import { DartsSupernet, type Supernet } from '../src/search/supernet.js';
import { unrolledAlphaGradients, alphaGradients, DARTS_SEARCH, type DartsConfig } from '../src/search/darts.js';
import { deriveCell, deriveGenotype, arbitraryRuleNotes } from '../src/search/derive.js';
import { genotypeStability, type SearchRecord } from '../src/search/run.js';
import { runDartsSearch } from '../src/search/strategies/index.js';
import { measureSearchMemory, extrapolateMemory } from '../src/search/memory.js';
import { gpu } from '../src/gpu/runtime.js';
import { GENOTYPE_PRESETS, parseGenotype } from '../src/models/genotype.js';
import { syntheticDataset } from '../src/data/synthetic.js';
import { BatchLoader, type Batch } from '../src/data/loader.js';
import { split, splitmix32, type ImageDataset } from '../src/data/dataset.js';

useGpu();

const batchOf = (x: Tensor, y: Tensor): Batch => ({ x, y, index: 0 });

describe('the architecture gradient', () => {
  it('of a tiny BP supernet equals central finite differences of the loss', async () => {
    const seed = freshSeed('alpha fd');
    const gen = new Generator(seed);
    // 3 cells: a normal cell, then two reduction cells, so both alpha matrices matter. 16x16
    // inputs and 4 images keep every BN over enough values that the loss is nearly quadratic
    // over the 1e-3 steps (at 8x8 and 2 images its curvature made the differences 30% off).
    const model = new DartsSupernet(SPACE_PRESETS.darts, { C: 2, layers: 3, numClasses: 3, gen });
    const x = randomNormal([4, 3, 16, 16], gen);
    const y = Tensor.fromData([0, 2, 1, 2], [4], 'i32');
    const grads = alphaGradients(model, batchOf(x, y));
    const analytic = await Promise.all(grads.map((g) => g.data()));
    const loss = async () => {
      const l = scope(() => noGrad(() => crossEntropy(model.forward(x), y)));
      const v = await l.item();
      l.release();
      return v;
    };
    const next = rng(seed);
    const eps = 1e-3;
    const fds: number[] = [], wants: number[] = [];
    for (let probe = 0; probe < 12; probe++) {
      const which = probe % 2;
      const alpha = model.alphas[which];
      const values = (await alpha.data()) as Float32Array;
      const i = Math.floor(next() * alpha.size);
      const at = (v: number) => {
        const copy = Float32Array.from(values);
        copy[i] = v;
        alpha.write(copy);
      };
      at(values[i] + eps);
      const up = await loss();
      at(values[i] - eps);
      const down = await loss();
      at(values[i]);
      fds.push((up - down) / (2 * eps));
      wants.push(analytic[which][i]);
    }
    // Judged as vectors: a ReLU or max-pool switching inside a step throws a single difference
    // off by a few percent (a kink, not a wrong gradient), while a missing path, a wrong sign
    // or a wrong op gradient moves the whole vector.
    const norm = (v: number[]) => Math.hypot(...v);
    const error = norm(fds.map((f, k) => f - wants[k]));
    console.log(`alpha gradient vs finite differences over 12 entries: |fd - grad| ${error.toExponential(2)}, |grad| ${norm(wants).toExponential(2)}`);
    expect(norm(wants)).toBeGreaterThan(0);
    expect(error).toBeLessThan(0.1 * norm(wants) + 1e-4);
    grads.forEach((g) => g.release());
    model.dispose();
  }, 120_000);

  it('second order matches a CPU float64 reference of the unrolled formula', async () => {
    const seed = freshSeed('second order');
    const next = rng(seed);
    const [N, D, K] = [5, 4, 3];
    // A toy supernet with one edge of two linear branches: logits = sum_k softmax(a)_k x Wk^T.
    class Toy extends Module implements Supernet {
      readonly space: SearchSpace = { name: 'toy', cell: 'darts', pairs: [{ op: 'nor_conv_1x1', rule: 'bp' }, { op: 'nor_conv_3x3', rule: 'bp' }] };
      readonly alphaNames = ['cell'];
      readonly steps = 1;
      readonly w1 = parameter(Tensor.fromData(randomArray(K * D, next), [K, D]));
      readonly w2 = parameter(Tensor.fromData(randomArray(K * D, next), [K, D]));
      readonly a = parameter(Tensor.fromData(randomArray(2, next, -0.5, 0.5), [1, 2]));
      get alphas() { return [this.a]; }
      weightParameters() { return [this.w1, this.w2]; }
      forward(x: Tensor): Tensor {
        const w = reshape(softmax(this.a), [2]);
        return weightedSum([linear(x, this.w1), linear(x, this.w2)], w);
      }
    }
    const toy = new Toy();
    const xt = randomArray(N * D, next), xv = randomArray(N * D, next);
    const yt = [0, 1, 2, 1, 0], yv = [2, 2, 0, 1, 1];
    const train = batchOf(Tensor.fromData(xt, [N, D]), Tensor.fromData(yt, [N], 'i32'));
    const valid = batchOf(Tensor.fromData(xv, [N, D]), Tensor.fromData(yv, [N], 'i32'));
    // A large lr makes the Hessian term big enough that leaving it out would fail the test.
    const lr = 5, momentum = 0.9, wd = 0.01;
    const opt = new SGD(toy.weightParameters(), { lr, momentum, weightDecay: wd });
    // One ordinary weight step first, so the momentum buffer is not empty.
    scope(() => backward(crossEntropy(toy.forward(train.x), train.y)));
    opt.step();
    opt.zeroGrad();
    const W = [Float64Array.from(await toy.w1.data()), Float64Array.from(await toy.w2.data())];
    const V = await Promise.all(opt.stateDict().momentumBuffers.map(async (b) => Float64Array.from(await b!.data())));
    const A = Float64Array.from(await toy.a.data());
    const got = await unrolledAlphaGradients(toy, train, valid, lr, opt);
    const gotAlpha = await got[0].data();
    got.forEach((g) => g.release());
    // Weights are restored.
    expect(Float64Array.from(await toy.w1.data())).toEqual(W[0]);

    // CPU reference, float64.
    const grads = (w: Float64Array[], a: Float64Array, x: Float32Array, y: number[]) => {
      const e = [Math.exp(a[0] - Math.max(a[0], a[1])), Math.exp(a[1] - Math.max(a[0], a[1]))];
      const s = [e[0] / (e[0] + e[1]), e[1] / (e[0] + e[1])];
      const branch = w.map((wk) => Array.from({ length: N * K }, (_, i) => {
        const n = Math.floor(i / K), k = i % K;
        let v = 0;
        for (let d = 0; d < D; d++) v += x[n * D + d] * wk[k * D + d];
        return v;
      }));
      const dlogits = new Float64Array(N * K);
      for (let n = 0; n < N; n++) {
        const z = Array.from({ length: K }, (_, k) => s[0] * branch[0][n * K + k] + s[1] * branch[1][n * K + k]);
        const m = Math.max(...z);
        const ez = z.map((v) => Math.exp(v - m));
        const sum = ez.reduce((p, q) => p + q, 0);
        for (let k = 0; k < K; k++) dlogits[n * K + k] = (ez[k] / sum - (k === y[n] ? 1 : 0)) / N;
      }
      const dW = w.map((_, b) => {
        const g = new Float64Array(K * D);
        for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) for (let d = 0; d < D; d++) g[k * D + d] += s[b] * dlogits[n * K + k] * x[n * D + d];
        return g;
      });
      const ds = branch.map((br) => br.reduce((acc, v, i) => acc + v * dlogits[i], 0));
      const dot = s[0] * ds[0] + s[1] * ds[1];
      const dA = Float64Array.from([s[0] * (ds[0] - dot), s[1] * (ds[1] - dot)]);
      return { dW, dA };
    };
    const gTrain = grads(W, A, xt, yt).dW;
    const Wp = W.map((w, b) => w.map((v, i) => v - lr * (momentum * V[b][i] + gTrain[b][i] + wd * v)));
    const { dW: dWp, dA } = grads(Wp, A, xv, yv);
    const norm = Math.sqrt(dWp.reduce((acc, g) => acc + g.reduce((p, v) => p + v * v, 0), 0));
    const R = 0.01 / norm;
    const gPlus = grads(W.map((w, b) => w.map((v, i) => v + R * dWp[b][i])), A, xt, yt).dA;
    const gMinus = grads(W.map((w, b) => w.map((v, i) => v - R * dWp[b][i])), A, xt, yt).dA;
    const want = dA.map((v, i) => v - (lr * (gPlus[i] - gMinus[i])) / (2 * R));
    const err = Math.max(...want.map((v, i) => Math.abs(v - gotAlpha[i])));
    console.log(`second-order alpha gradient: got ${Array.from(gotAlpha).map((v) => v.toExponential(4))}, want ${Array.from(want).map((v) => v.toExponential(4))}`);
    const tolerance = 1e-3 * Math.max(...want.map(Math.abs)) + 1e-6;
    expect(err).toBeLessThan(tolerance);
    // The implicit term matters in this case: the first-order gradient alone misses by several
    // tolerances (otherwise the test would not see a wrong second-order term).
    expect(Math.max(...dA.map((v, i) => Math.abs(v - want[i])))).toBeGreaterThan(3 * tolerance);
    toy.dispose();
    opt.dispose();
  });
});

describe('genotype derivation', () => {
  const space = SPACE_PRESETS.darts; // none, max, avg, skip, sep3, sep5, dil3, dil5
  const P = space.pairs.length;
  const rows = (spec: [number, number][]) => {
    // spec per edge: [pair index, weight]; the rest share what is left.
    const w = new Float64Array(14 * P);
    spec.forEach(([k, v], e) => {
      for (let j = 0; j < P; j++) w[e * P + j] = (1 - v) / (P - 1);
      w[e * P + k] = v;
    });
    return w;
  };

  it("keeps each node's two strongest edges by their best non-'none' pair", () => {
    // Node 0: edges 0,1 (both kept). Node 1: edges 2,3,4. Node 2: 5..8. Node 3: 9..13.
    const spec: [number, number][] = [
      [4, 0.5], [5, 0.4],
      [0, 0.9], [3, 0.3], [6, 0.35], // 'none' dominates edge 2: its best non-none is tiny
      [7, 0.2], [2, 0.6], [1, 0.6], [4, 0.1], // a tie between edges 6 and 7: the lower index wins order
      [4, 0.3], [4, 0.31], [5, 0.32], [6, 0.33], [7, 0.34],
    ];
    const g = deriveCell(rows(spec), space);
    expect(g.map((e) => [e.op, e.input])).toEqual([
      ['sep_conv_3x3', 0], ['sep_conv_5x5', 1],
      ['dil_conv_3x3', 2], ['skip_connect', 1],
      ['avg_pool_3x3', 1], ['max_pool_3x3', 2],
      ['dil_conv_5x5', 4], ['dil_conv_3x3', 3],
    ]);
  });

  it("on an edge where 'none' is strongest, the best other op is chosen", () => {
    const w = rows(Array.from({ length: 14 }, () => [0, 0.9] as [number, number]));
    w[0 * P + 5] = 0.06; // edge 0: sep_conv_5x5 is the best non-none
    const g = deriveCell(w, space);
    expect(g[0]).toEqual({ op: 'sep_conv_5x5', rule: 'bp', input: 0 });
    expect(g.every((e) => e.op !== 'none')).toBe(true);
  });

  it("DARTS V2's genotype round-trips through alphas that encode it", () => {
    const v2 = parseGenotype(GENOTYPE_PRESETS.darts_v2);
    const encode = (edges: typeof v2.normal) => {
      const a = new Float32Array(14 * P).fill(-3);
      let start = 0;
      for (let node = 0; node < 4; node++) {
        for (const e of edges.slice(2 * node, 2 * node + 2)) a[(start + e.input) * P + space.pairs.findIndex((p) => p.op === e.op)] = 3;
        start += node + 2;
      }
      return a;
    };
    const g = deriveGenotype(encode(v2.normal), encode(v2.reduce), space);
    const sorted = (edges: typeof v2.normal) => edges.map((e, i) => `${Math.floor(i / 2)}:${e.op}<-${e.input}`).sort();
    expect(sorted(g.normal)).toEqual(sorted(v2.normal));
    expect(sorted(g.reduce)).toEqual(sorted(v2.reduce));
  });

  it('says when a skip_connect pair is picked where it is the identity, so its rule label is arbitrary', () => {
    const bionas = SPACE_PRESETS.bionas; // skip_connect x {usf, frsf, brsf}
    const edge = (op: string, rule: string, input: number) => ({ op, rule, input }) as never;
    const g = {
      normal: [edge('skip_connect', 'frsf', 0), edge('sep_conv_3x3', 'usf', 1), edge('max_pool_3x3', 'bp', 0), edge('skip_connect', 'usf', 2)],
      normal_concat: [2, 3],
      // From the cell's inputs a reduction edge has stride 2 (FactorizedReduce uses the rule); from node 2 it has stride 1.
      reduce: [edge('skip_connect', 'brsf', 1), edge('sep_conv_3x3', 'fa', 0), edge('skip_connect', 'usf', 2), edge('dil_conv_3x3', 'fa', 0)],
      reduce_concat: [2, 3],
    };
    const notes = arbitraryRuleNotes(g, bionas);
    expect(notes).toHaveLength(3);
    expect(notes[0]).toMatch(/^normal cell, node 2 <- 0: skip_connect\/frsf at stride 1 is the identity, so its rule label is arbitrary \(the space's 3 skip_connect pairs are the same op there\)/);
    expect(notes[1]).toMatch(/^normal cell, node 3 <- 2: skip_connect\/usf/);
    expect(notes[2]).toMatch(/^reduce cell, node 3 <- 2: skip_connect\/usf/);
    // A BP-only space has one skip_connect and no rule to speak of.
    expect(arbitraryRuleNotes(g, SPACE_PRESETS.darts)).toEqual([]);
  });

  it('the closing note on genotype stability counts the search epochs since the last change', () => {
    const r = (epoch: number, genotype: string, phase?: string): SearchRecord => ({ epoch, genotype, ...(phase ? { phase } : {}) });
    expect(genotypeStability([r(1, 'a', 'warmup'), r(2, 'b'), r(3, 'c'), r(4, 'c'), r(5, 'c')]))
      .toBe('genotype unchanged over the last 3 of 4 search epochs (epoch 3 to 5); 2 distinct genotypes, changed at epoch 3');
    expect(genotypeStability([r(1, 'a'), r(2, 'a')])).toBe('genotype unchanged over the last 2 of 2 search epochs (epoch 1 to 2); 1 distinct genotype');
  });

  it('bad pairs in a user space are rejected with a clear message', () => {
    expect(() => parseSpace([{ op: 'max_pool_3x3', rule: 'fa' }, { op: 'skip_connect' }], 's.json')).toThrow(/s\.json: pair 0: 'max_pool_3x3' has no weights, so the learning rule 'fa' cannot apply/);
    expect(() => parseSpace([{ op: 'sep_conv_3x3', rule: 'usf' }, { op: 'sep_conv_3x3', rule: 'usf' }], 's.json')).toThrow(/appears twice/);
    expect(() => parseSpace([{ op: 'conv_9x9' }], 's.json')).toThrow(/unknown operation 'conv_9x9'/);
    expect(SPACE_PRESETS.bionas.pairs).toHaveLength(22);
  });
});

describe('a tiny search', () => {
  it('runs to completion, writes a genotype and SVGs, and a killed run resumes to the same alphas', async () => {
    const seed = freshSeed('tiny search');
    const data = syntheticDataset({ count: 64, classes: 3, size: 8, seed });
    const [a, b] = split(data, 32, seed);
    // A small mixed-rule space keeps this fast on a CPU; the bionas preset runs in the CLI and bench.
    const space = parseSpace([{ op: 'none' }, { op: 'max_pool_3x3' }, { op: 'skip_connect', rule: 'usf' }, { op: 'sep_conv_3x3', rule: 'frsf' }, { op: 'dil_conv_3x3', rule: 'fa' }], 'test space');
    const config: DartsConfig = { ...DARTS_SEARCH, epochs: 2, batchSize: 8, logEvery: 2, seed, secondOrder: false };
    const loaders = () => ({
      train: new BatchLoader(a, { batchSize: 8, shuffle: true, seed, dropLast: true }),
      valid: new BatchLoader(b, { batchSize: 8, shuffle: true, seed: seed + 1, dropLast: true }),
    });
    const build = () => {
      const gen = new Generator(seed);
      return { gen, model: new DartsSupernet(space, { C: 2, layers: 3, steps: 2, numClasses: 3, gen }) };
    };
    const quiet = () => {};
    const full = build();
    const dirFull = mkdtempSync(join(tmpdir(), 'bionas-search-'));
    const r = await runDartsSearch(full.model, loaders(), config, { runDir: dirFull, gen: full.gen, log: quiet });
    expect(r.stopped).toBe(false);
    for (const f of ['genotype.json', 'normal.svg', 'reduce.svg', 'alphas_normal.svg', 'alphas_reduce.svg', 'alphas.jsonl', 'checkpoint.bin']) {
      expect(existsSync(join(dirFull, f)), f).toBe(true);
    }
    const saved = JSON.parse(readFileSync(join(dirFull, 'genotype.json'), 'utf8'));
    expect(() => parseGenotype(saved.genotype)).not.toThrow();
    expect(readFileSync(join(dirFull, 'normal.svg'), 'utf8')).toMatch(/^<svg[\s\S]*c_\{k-1\}[\s\S]*<\/svg>$/);
    const fullAlphas = await Promise.all(full.model.alphas.map((t) => t.data()));

    const dir = mkdtempSync(join(tmpdir(), 'bionas-search-resume-'));
    const first = build();
    const stopped = await runDartsSearch(first.model, loaders(), config, { runDir: dir, gen: first.gen, log: quiet, stopAfterSteps: 3 });
    expect(stopped.stopped).toBe(true);
    first.model.dispose();
    const again = build();
    const resumed = await runDartsSearch(again.model, loaders(), config, { runDir: dir, gen: again.gen, log: quiet, resume: true });
    expect(resumed.stopped).toBe(false);
    const resumedAlphas = await Promise.all(again.model.alphas.map((t) => t.data()));
    expect(resumedAlphas).toEqual(fullAlphas);
    expect(JSON.parse(readFileSync(join(dir, 'genotype.json'), 'utf8')).genotype).toEqual(saved.genotype);
    full.model.dispose();
    again.model.dispose();
  }, 300_000);
});

/**
 * Two classes of 12x12 noise (uniform 0..169): class 1 has one pixel at 255 somewhere. A 3x3
 * max pool turns the pixel into a 3x3 patch at full brightness, so it reaches the final
 * global average nine times stronger; an average pool or a skip passes it on unamplified.
 */
function spikeImages(count: number, seed: number): ImageDataset {
  const size = 12, rand = splitmix32(seed);
  const images = new Uint8Array(count * size * size);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % 2;
    for (let p = 0; p < size * size; p++) images[i * size * size + p] = Math.floor(rand() * 170);
    if (labels[i] === 1) images[i * size * size + Math.floor(rand() * size * size)] = 255;
  }
  return { name: 'spikes', images, labels, count, channels: 1, height: size, width: size, numClasses: 2, mean: [0.25], std: [0.15] };
}

describe('a search where one op is clearly best', () => {
  it('finds the max pool on most edges when the task is spotting single bright pixels', async () => {
    // A fixed seed: over seeds 1, 2 and 4-9 the max pool was strongest on 5 to 10 of 10 edges
    // (median 8.5; on the two weakest seeds the normal cell leaned to the average pool), so a
    // fresh seed per run would make this flaky. A broken search gives about 3 of 10.
    const seed = 4;
    const [a, b] = split(spikeImages(256, seed), 128, seed);
    const space = parseSpace([{ op: 'max_pool_3x3' }, { op: 'avg_pool_3x3' }, { op: 'skip_connect' }], 'spike space');
    // A high architecture learning rate so 6 short epochs settle the argmax (DARTS: 3e-4 over 50).
    const config: DartsConfig = { ...DARTS_SEARCH, epochs: 6, batchSize: 16, archLr: 1e-2, logEvery: 100, seed, secondOrder: false };
    const gen = new Generator(seed);
    const model = new DartsSupernet(space, { C: 4, layers: 3, steps: 2, numClasses: 2, inChannels: 1, gen });
    const loaders = {
      train: new BatchLoader(a, { batchSize: 16, shuffle: true, seed, dropLast: true }),
      valid: new BatchLoader(b, { batchSize: 16, shuffle: true, seed: seed + 1, dropLast: true }),
    };
    const r = await runDartsSearch(model, loaders, config, { gen, log: () => {} });
    let maxPoolEdges = 0, edges = 0;
    for (const alpha of model.alphas) {
      const w = (await alpha.data()) as Float32Array;
      for (let e = 0; e < alpha.shape[0]; e++, edges++) {
        const row = Array.from(w.subarray(3 * e, 3 * e + 3));
        if (row.indexOf(Math.max(...row)) === 0) maxPoolEdges++;
      }
    }
    console.log(`spike search: max pool strongest on ${maxPoolEdges} of ${edges} edges; validation accuracy ${r.history.map((h) => h.validAcc.toFixed(2)).join(' ')}`);
    expect(maxPoolEdges).toBeGreaterThanOrEqual(7);
    expect(r.history[r.history.length - 1].validAcc).toBeGreaterThan(0.7);
    model.dispose();
  }, 300_000);
});

describe('search memory', () => {
  it('the peak of a step grows linearly with the batch, and extrapolates', async () => {
    const gen = new Generator(3);
    const space = parseSpace([{ op: 'max_pool_3x3' }, { op: 'skip_connect', rule: 'usf' }, { op: 'sep_conv_3x3', rule: 'fa' }], 'memory space');
    const model = new DartsSupernet(space, { C: 2, layers: 3, steps: 2, numClasses: 3, gen });
    const config: DartsConfig = { ...DARTS_SEARCH, epochs: 1, batchSize: 8, seed: 3, secondOrder: false };
    const points = measureSearchMemory(model, config, [1, 2, 4, 8], { channels: 3, size: 8, classes: 3 });
    await gpu().sync();
    const bytes = points.map((p) => p.bytes);
    expect(points.every((p) => p.measured)).toBe(true);
    for (let i = 1; i < bytes.length; i++) expect(bytes[i]).toBeGreaterThan(bytes[i - 1]);
    // Per image from 2 to 4 and from 4 to 8 agree (size classes round buffers up a little).
    const slope = (i: number, j: number) => (bytes[j] - bytes[i]) / (points[j].batch - points[i].batch);
    expect(Math.abs(slope(2, 3) - slope(1, 2)) / slope(2, 3)).toBeLessThan(0.2);
    const at64 = extrapolateMemory(points, 64);
    expect(at64.measured).toBe(false);
    expect(at64.bytes).toBe(Math.round(bytes[3] + 56 * slope(2, 3)));
    expect(extrapolateMemory(points, 4)).toBe(points[2]);
    model.dispose();
  });
});

