import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useGpu, rng, freshSeed, fixedSeed, expectClose } from './util.js';
import { Tensor, scope } from '../src/tensor.js';
import { backward, noGrad } from '../src/autograd.js';
import { crossEntropy } from '../src/ops/loss.js';
import { Generator } from '../src/ops/random.js';
import { Adam } from '../src/optim/adam.js';
import { MOTIFS, WIRINGS, MAX_CONV_EDGES, convEdges, checkMotif } from '../src/snn/motifs.js';
import {
  randomGenome, encodeGenome, decodeGenome, genomeDimension, parseSpikingGenotype, genotypeJson, isSpikingGenotype, authorsGenome, loadSpikingGenotype, type SpikingGenome,
} from '../src/snn/genome.js';
import { SPIKING_OPS, makeSpikingOp } from '../src/snn/ops.js';
import { SpikingNetwork, SpikingCell, reductionPoints, framesToSteps } from '../src/models/spiking_network.js';
import { SpikingConv, lifLayers } from '../src/nn/spiking.js';
import { measureSpikingStep, memoryLine } from '../src/snn/memory.js';

const rt = useGpu();

const image = { channels: 3, height: 8, width: 8, classes: 3 };
const input = (n: number, seed: number) => {
  const next = rng(seed);
  return Tensor.fromData(Float32Array.from({ length: n * 3 * 8 * 8 }, () => 2 * next() - 1), [n, 3, 8, 8]);
};

describe('motif catalogue', () => {
  it('every motif is a well-formed DAG of its wiring, with 5 motifs per wiring and feedback edges in some', () => {
    for (const w of WIRINGS) {
      expect(MOTIFS[w]).toHaveLength(5);
      for (const m of MOTIFS[w]) {
        expect(m.wiring).toBe(w);
        checkMotif(m);
      }
      expect(MOTIFS[w].some((m) => m.feedback.length > 0)).toBe(true);
    }
    expect(MAX_CONV_EDGES).toBe(Math.max(...WIRINGS.flatMap((w) => MOTIFS[w].map((m) => convEdges(m).length))));
  });
});

describe('genome', () => {
  it('encode/decode round-trips random genomes, and decode(v) re-encodes to the centre of each gene bin', () => {
    const next = rng(freshSeed('genome round trip'));
    for (let i = 0; i < 50; i++) {
      const cells = 1 + Math.floor(next() * 6);
      const g = randomGenome(cells, next);
      expect(decodeGenome(encodeGenome(g), cells)).toEqual(g);
      const v = Array.from({ length: genomeDimension(cells) }, next);
      const decoded = decodeGenome(v, cells);
      expect(decodeGenome(encodeGenome(decoded), cells)).toEqual(decoded);
    }
  });

  it('decodes by flooring v * choices: the box corners 0 and 1 give the first and last choices', () => {
    const cells = 2;
    const D = genomeDimension(cells);
    const low = decodeGenome(new Array(D).fill(0), cells);
    expect(low.wiring).toBe(2);
    expect(low.cells.every((c) => c.motif === 0 && c.edges.every((e) => e.kernel === 3 && e.polarity === 'exc'))).toBe(true);
    const high = decodeGenome(new Array(D).fill(1), cells);
    expect(high.wiring).toBe(3);
    expect(high.cells.every((c) => c.motif === MOTIFS[3].length - 1 && c.edges.every((e) => e.kernel === 5 && e.polarity === 'inh'))).toBe(true);
    expect(D).toBe(1 + cells * (1 + 2 * MAX_CONV_EDGES));
    expect(() => decodeGenome(new Array(D - 1).fill(0.5), cells)).toThrow(/a genome of 2 cells has \d+ genes, got a vector of/);
    expect(() => decodeGenome(new Array(D).fill(NaN), cells)).toThrow(/gene 0 is NaN/);
  });

  it('the genotype JSON round-trips through parse, and names the field of every error', () => {
    const g = authorsGenome(2, [2, 0]);
    const json = JSON.parse(JSON.stringify(genotypeJson(g, 'test')));
    expect(isSpikingGenotype(json)).toBe(true);
    expect(isSpikingGenotype({ genotype: json })).toBe(true);
    expect(isSpikingGenotype({ normal: [] })).toBe(false);
    expect(parseSpikingGenotype(json)).toEqual({ name: 'test', ...g });
    const bad = (change: (j: any) => void, message: RegExp) => {
      const j = JSON.parse(JSON.stringify(json));
      change(j);
      expect(() => parseSpikingGenotype(j, 'g.json')).toThrow(message);
    };
    bad((j) => (j.kind = 'darts'), /g.json: 'kind' must be "spiking", got "darts"/);
    bad((j) => (j.wiring = 4), /g.json: 'wiring' must be one of 2, 3 .*got 4/);
    bad((j) => (j.cells = []), /g.json: 'cells' must be a non-empty list/);
    bad((j) => (j.cells[1].motif = 9), /g.json: cells\[1\].motif must be an integer 0..4 \(motifs of wiring 2: 0 mm1/);
    bad((j) => (j.cells[1].motif = 1.5), /cells\[1\].motif must be an integer/);
    bad((j) => j.cells[0].edges.pop(), /g.json: cells\[0\].edges must list 5 conv edges \{kernel, polarity\} \(motif 2 mm3\), got 4/);
    bad((j) => (j.cells[0].edges[3].kernel = 7), /g.json: cells\[0\].edges\[3\].kernel must be one of 3, 5, got 7/);
    bad((j) => (j.cells[0].edges[1].polarity = 'p'), /g.json: cells\[0\].edges\[1\].polarity must be one of "exc", "inh", got "p"/);
    bad((j) => (j.cells[0].motifName = 'mm1'), /cells\[0\].motifName "mm1" does not match motif 2 of wiring 2, which is mm3/);
    expect(() => parseSpikingGenotype([1, 2])).toThrow(/genotype: a spiking genotype must be a JSON object/);
  });

  it('random genomes always decode to valid networks that run (every motif of both wirings, with reductions)', () => {
    const next = rng(freshSeed('random genomes build'));
    const genomes: SpikingGenome[] = [];
    for (const w of WIRINGS) for (let m = 0; m < MOTIFS[w].length; m++) genomes.push(authorsGenome(w, [m], next() < 0.5 ? 3 : 5));
    for (let i = 0; i < 4; i++) genomes.push(randomGenome(3, next));
    const x = input(2, 7);
    for (const g of genomes) {
      scope(() => noGrad(() => {
        const net = new SpikingNetwork(g, { T: 2, C: 2, numClasses: 3, inChannels: 3, gen: new Generator(1) });
        const logits = net.forward(x);
        expect(logits.shape).toEqual([2, 3]);
        expect(net.layers.length).toBe(g.cells.length + reductionPoints(g.cells.length).length);
        net.dispose();
      }));
    }
    expect(reductionPoints(1)).toEqual([]);
    expect(reductionPoints(3)).toEqual([1, 2]);
    expect(reductionPoints(6)).toEqual([2, 4]);
    x.release();
  });
});

describe('spiking op catalogue', () => {
  it('builds every op; a conv is LIF -> conv k x k -> BN -> polarity gate, keeping only its sign', async () => {
    const gen = new Generator(3);
    const x = input(2 * 2, 11).view([4, 3, 8, 8]);
    for (const name of SPIKING_OPS) {
      const op = makeSpikingOp(name, { C: 3, stride: 1, T: 2, gen });
      const y = noGrad(() => op.forward(x));
      expect(y.shape).toEqual([4, 3, 8, 8]);
      const v = await y.data();
      if (name.endsWith('_exc')) expect(v.every((a) => a >= 0)).toBe(true);
      if (name.endsWith('_inh')) expect(v.every((a) => a <= 0)).toBe(true);
      if (name.startsWith('spike_conv')) expect((op as SpikingConv).conv.weight.shape).toEqual([3, 3, Number(name[11]), Number(name[11])]);
      op.dispose();
    }
    expect(() => makeSpikingOp('skip_connect', { C: 3, stride: 2, T: 2 })).toThrow(/no stride-2 identity/);
  });
});

describe('SpikingNetwork', () => {
  it('runs a T = 4 forward + backward in one command encoder, with gradients for every parameter and spike features on the GPU', async () => {
    const next = rng(freshSeed('spiking network step'));
    const genome = randomGenome(3, next);
    const net = new SpikingNetwork(genome, { T: 4, C: 2, numClasses: 3, inChannels: 3, gen: new Generator(2) });
    const x = input(3, 5);
    const y = Tensor.fromData([0, 1, 2], [3], 'i32');
    rt().recorder.flush();
    const serial = rt().recorder.serial;
    const logits = scope(() => {
      const out = net.forward(x);
      backward(crossEntropy(out, y));
      return out;
    });
    expect(rt().recorder.serial).toBe(serial); // nothing submitted: the whole step is the open encoder
    expect(logits.shape).toEqual([3, 3]);
    expect((await logits.data()).every(Number.isFinite)).toBe(true);
    for (const [name, p] of net.namedParameters()) {
      expect(p.grad, name).not.toBeNull();
      expect((await p.grad!.data()).every(Number.isFinite), name).toBe(true);
    }
    // Spike features: per LIF layer [N, F] counts in 0..T; the count is their total per image.
    const features = net.spikeFeatures();
    expect(features.length).toBe(lifLayers(net).length);
    let total = 0;
    for (const f of features) {
      expect(f.shape[0]).toBe(3);
      const v = await f.data();
      expect(v.every((c) => Number.isInteger(c) && c >= 0 && c <= 4)).toBe(true);
      total += Array.from(v).reduce((a, b) => a + b, 0);
    }
    expect(total).toBeGreaterThan(0);
    const count = net.spikeCount();
    expectClose(await count.data(), [total / 3], 1e-6, 'spikes per image');
    count.release();
    net.dispose();
  });

  it('T-step memory is measured for the step and grows with T; the step stays one encoder', () => {
    const genome = authorsGenome(3, [2, 4]);
    const peaks: number[] = [];
    for (const T of [1, 4]) {
      const net = new SpikingNetwork(genome, { T, C: 2, numClasses: 3, inChannels: 3, gen: new Generator(4) });
      const m = measureSpikingStep(net, 4, image);
      console.log(memoryLine(m));
      expect(m.submits).toBe(0);
      expect(m.peakBytes).toBeGreaterThan(m.baseBytes);
      peaks.push(m.peakBytes - m.baseBytes);
      net.dispose();
    }
    expect(peaks[1]).toBeGreaterThan(2 * peaks[0]);
  });

  it('learns a tiny synthetic task: the loss falls (T = 4, fixed seed)', async () => {
    const seed = fixedSeed('spiking network learns', 7);
    const next = rng(seed);
    const genome = randomGenome(2, next);
    const net = new SpikingNetwork(genome, { T: 4, C: 4, numClasses: 2, inChannels: 3, gen: new Generator(seed) });
    // Two classes: a positive or negative offset on channel 0, plus noise.
    const n = 8;
    const labels = Array.from({ length: n }, (_, i) => i % 2);
    const xv = new Float32Array(n * 3 * 64);
    for (let i = 0; i < n; i++) for (let k = 0; k < 3 * 64; k++) xv[i * 192 + k] = (next() - 0.5) + (k < 64 ? (labels[i] ? 1 : -1) : 0);
    const x = Tensor.fromData(xv, [n, 3, 8, 8]);
    const y = Tensor.fromData(labels, [n], 'i32');
    const opt = new Adam(net.parameters(), { lr: 0.01 });
    const losses: number[] = [];
    for (let step = 0; step < 12; step++) {
      const loss = scope(() => {
        const l = crossEntropy(net.forward(x), y);
        backward(l);
        opt.step();
        opt.zeroGrad();
        return l;
      });
      losses.push((await loss.data())[0]);
      loss.release();
    }
    console.log(`spiking losses: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
    const first = (losses[0] + losses[1]) / 2;
    const last = (losses[10] + losses[11]) / 2;
    expect(last).toBeLessThan(0.5 * first);
    net.dispose();
  }, 60_000);

  it('event frames [N, T*c, H, W] (channel t*c + k) become the T-major stack [T*N, c, H, W]', async () => {
    const next = rng(freshSeed('frames to steps'));
    const [N, T, c, H, W] = [3, 5, 2, 7, 3];
    const xv = Float32Array.from({ length: N * T * c * H * W }, next);
    const x = Tensor.fromData(xv, [N, T * c, H, W]);
    const y = framesToSteps(x, T);
    expect(y.shape).toEqual([T * N, c, H, W]);
    const want = new Float32Array(xv.length);
    const px = H * W;
    for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) for (let k = 0; k < c * px; k++) want[(t * N + n) * c * px + k] = xv[(n * T + t) * c * px + k];
    expect(Array.from(await y.data())).toEqual(Array.from(want));
    expect(() => framesToSteps(x, 4)).toThrow(/framesToSteps: input \[3, 10, 7, 3\] must be \[N, T\*c, H, W\] with T = 4/);
  });

  it('frames encoding with the same frame at every step equals direct encoding (same weights)', async () => {
    const genome = authorsGenome(2, [2, 1]);
    const T = 3;
    const direct = new SpikingNetwork(genome, { T, C: 2, numClasses: 3, inChannels: 2, gen: new Generator(5) });
    const frames = new SpikingNetwork(genome, { T, C: 2, numClasses: 3, inChannels: 2, gen: new Generator(5), encoding: 'frames' });
    // A spike sits on a threshold: two BN reductions of one batch may round it differently, so this equality takes a fixed input.
    const next = rng(fixedSeed('frames vs direct', 11));
    const N = 3;
    const one = Float32Array.from({ length: N * 2 * 64 }, () => 2 * next() - 1);
    const tiled = new Float32Array(N * T * 2 * 64);
    for (let n = 0; n < N; n++) for (let t = 0; t < T; t++) tiled.set(one.subarray(n * 128, (n + 1) * 128), (n * T + t) * 128);
    const [a, b] = noGrad(() => [direct.forward(Tensor.fromData(one, [N, 2, 8, 8])), frames.forward(Tensor.fromData(tiled, [N, T * 2, 8, 8]))]);
    expectClose(await b.data(), await a.data(), 1e-4, 'frames vs direct logits');
    const counts = async (net: SpikingNetwork) => (await Promise.all(net.spikeFeatures().map((f) => f.data()))).flatMap((v) => Array.from(v));
    expect(await counts(frames)).toEqual(await counts(direct));
    direct.dispose();
    frames.dispose();
  });

  it('a feedback edge adds its op of the later node to the earlier state: cell output differs from the same cell without it', async () => {
    // mm5 is mm1 plus an identity feedback 3 -> 2 (state 2 += node 3). With shared weights, the
    // cell outputs agree on node 3's channels and differ by exactly node 3 on state 2's.
    const lifOpts = { T: 2 };
    const build = (motif: number) => new SpikingCell(2, authorsGenome(2, [motif]).cells[0], [{ channels: 3, scale: 0 }, { channels: 3, scale: 0 }], 0, 2, lifOpts, new Generator(9));
    const withFb = build(4), without = build(0);
    expect(withFb.motif.name).toBe('mm5');
    expect(without.motif.name).toBe('mm1');
    const a = input(4, 1).view([4, 3, 8, 8]);
    const b = input(4, 2).view([4, 3, 8, 8]);
    const [yf, y0] = noGrad(() => [withFb.run([a, b]), without.run([a, b])]);
    const f = await yf.data(), z = await y0.data();
    // Channels: [state 2 (2 ch), node 3 (2 ch)] per map of 64 pixels.
    let diffs = 0;
    for (let img = 0; img < 4; img++) {
      for (let k = 0; k < 128; k++) {
        const s2 = img * 256 + k, n3 = img * 256 + 128 + k;
        expect(f[n3]).toBeCloseTo(z[n3], 6);
        expect(f[s2]).toBeCloseTo(z[s2] + z[n3], 5);
        if (z[n3] !== 0) diffs++;
      }
    }
    expect(diffs).toBeGreaterThan(0);
  });
});

describe('bionas train with a spiking genotype', () => {
  it('trains the network a genotype file describes, printing the T-step memory; eval rebuilds it from the checkpoint (built CLI)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bionas-snn-'));
    const file = join(dir, 'genotype.json');
    writeFileSync(file, JSON.stringify({ genotype: genotypeJson(authorsGenome(3, [4]), 'cli') }));
    const r = spawnSync('node', ['dist/bionas.mjs', 'train', '--genotype', file, '--timesteps', '2', '--C', '2', '--epochs', '1', '--batch', '8',
      '--synthetic-size', '16', '--image-size', '8', '--run', join(dir, 'run'), '--log-every', '1'], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
    const out = r.stdout + r.stderr;
    expect(r.status, out).toBe(0);
    expect(out).toMatch(/model: spiking, /);
    expect(out).toMatch(/spiking step memory: peak [\d.]+ MiB for batch 8 x T 2/);
    expect(out).toMatch(/test: loss [\d.]+, accuracy/);
    const summary = JSON.parse(readFileSync(join(dir, 'run', 'summary.json'), 'utf8'));
    expect(summary.model).toMatchObject({ model: 'spiking', timesteps: 2, genotype: { wiring: 3, cells: [{ motif: 4 }] } });
    // The checkpoint rebuilds the same network: bionas eval reproduces the test numbers.
    const evaluated = spawnSync('node', ['dist/bionas.mjs', 'eval', '--checkpoint', join(dir, 'run', 'checkpoint.bin'), '--synthetic-size', '16', '--image-size', '8'], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
    expect(evaluated.status, evaluated.stdout + evaluated.stderr).toBe(0);
    const numbers = /test: loss ([\d.]+), accuracy ([\d.]+)%/.exec(out)!;
    expect(evaluated.stdout).toContain(`spiking after 1 epochs: test loss ${numbers[1]}, accuracy ${numbers[2]}%`);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('loading a genotype file tells spiking from DARTS genotypes and names the file and field of an error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bionas-snn-'));
    const good = join(dir, 'good.json'), bad = join(dir, 'bad.json'), darts = join(dir, 'darts.json');
    writeFileSync(good, JSON.stringify(genotypeJson(authorsGenome(2, [1]))));
    writeFileSync(bad, JSON.stringify({ kind: 'spiking', wiring: 3, cells: [{ motif: 7, edges: [] }] }));
    writeFileSync(darts, JSON.stringify({ normal: [], reduce: [] }));
    expect(await loadSpikingGenotype(good)).toEqual(authorsGenome(2, [1]));
    await expect(loadSpikingGenotype(bad)).rejects.toThrow(/bad.json: cells\[0\].motif must be an integer 0..4/);
    expect(await loadSpikingGenotype(darts)).toBeNull();
    expect(await loadSpikingGenotype(join(dir, 'missing.json'))).toBeNull();
    rmSync(dir, { recursive: true, force: true });
  });
});
