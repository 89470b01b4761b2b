import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { useGpu, freshSeed } from './util.js';
import { Tensor, keep } from '../src/tensor.js';
import { Generator } from '../src/ops/random.js';
import { Sequential, type Module } from '../src/nn/module.js';
import { Conv2d, Linear } from '../src/nn/layers.js';
import { BatchNorm2d } from '../src/nn/batchnorm.js';
import { ReLU, GlobalAvgPool } from '../src/nn/basic.js';
import { syntheticDataset } from '../src/data/synthetic.js';
import { BatchLoader } from '../src/data/loader.js';
import { split } from '../src/data/dataset.js';
import { train, DEFAULT_TRAIN, type TrainConfig } from '../src/train/trainer.js';
import { runJob, SimulatedKill } from '../src/run/loop.js';
import type { Job, Position, RunContext } from '../src/run/job.js';
import { openRunFolder } from '../src/run/folder.js';
import { writeCheckpoint, loadCheckpoint, readCheckpointMeta, CHECKPOINT_FORMAT, type CheckpointMeta } from '../src/run/checkpoint.js';
import { NonFiniteError } from '../src/run/finite.js';
import { crc32 } from '../src/run/crc32.js';
import { parseSpace } from '../src/search/space.js';
import { DartsSupernet } from '../src/search/supernet.js';
import { runSearch } from '../src/search/run.js';
import { registerStrategy, strategyNames, type SearchConfig, type SearchMethod, type StrategyContext } from '../src/search/strategies/index.js';
import { parseGenotype } from '../src/models/genotype.js';
import { splitmix32 } from '../src/data/dataset.js';

useGpu();

const quiet = () => {};
const tmp = (what: string) => mkdtempSync(join(tmpdir(), `bionas-${what}-`));
const jsonLines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

/** A job of 3 epochs x 4 steps that counts, with one tensor of state: the loop's behaviour without a model. */
class Counter implements Job {
  readonly kind = 'counter';
  readonly config = { epochs: 3 };
  readonly epochs = 3;
  readonly logEvery = 1;
  readonly streams = ['metrics'];
  value = 0;
  private readonly w = keep(Tensor.fromData([0], [1]));
  constructor(private readonly o: { nanLossAt?: number; nanWeight?: boolean } = {}) {}
  phases() {
    return [{ name: 'count', steps: 4 }];
  }
  beginPhase() {}
  step(at: Position) {
    this.value += at.epoch * 10 + at.step + 1;
    return 0;
  }
  async metrics(at: Position) {
    return { loss: this.o.nanLossAt === at.epoch ? NaN : this.value };
  }
  async endEpoch(epoch: number, ctx: RunContext) {
    ctx.record('metrics', { epoch: epoch + 1, value: this.value });
  }
  async state() {
    this.w.write([this.o.nanWeight ? Infinity : this.value]);
    return { tensors: [['w', this.w]] as [string, Tensor][], meta: { value: this.value } };
  }
  restore(_: unknown, meta: Record<string, unknown>) {
    this.value = meta.value as number;
  }
  close() {}
}

describe('checkpoint files', () => {
  it('carry a format and a CRC-32 that a load verifies, and are written atomically (no temporary file left)', async () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926); // the standard check value
    const dir = tmp('ckpt');
    const file = join(dir, 'checkpoint.bin');
    const t = Tensor.fromData([1, 2, 3, 4], [2, 2]);
    const meta = { format: CHECKPOINT_FORMAT, kind: 'x', position: { epoch: 1, phase: 0, step: 0 }, epoch: 1 } as unknown as CheckpointMeta;
    await writeCheckpoint(file, [['t', t]], meta);
    expect(readdirSync(dir)).toEqual(['checkpoint.bin']);
    const { saved } = await loadCheckpoint(file);
    expect(saved.format).toBe(2);
    expect(Array.from(saved.tensors.get('t')!.data)).toEqual([1, 2, 3, 4]);
    expect((await readCheckpointMeta(file)).position).toEqual({ epoch: 1, phase: 0, step: 0 });
    // One flipped bit in the tensor bytes, then one in the header.
    const bytes = readFileSync(file);
    bytes[bytes.length - 3] ^= 0x10;
    writeFileSync(file, bytes);
    await expect(loadCheckpoint(file)).rejects.toThrow(/checksum mismatch \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\): the file is damaged/);
    bytes[bytes.length - 3] ^= 0x10;
    bytes[20] ^= 0x01;
    writeFileSync(file, bytes);
    await expect(loadCheckpoint(file)).rejects.toThrow(/checksum mismatch/);
    writeFileSync(file, bytes.subarray(0, 40));
    await expect(loadCheckpoint(file)).rejects.toThrow(/truncated file/);
    t.release();
  });

  it('a tensor that is NaN or infinite is never written: the earlier checkpoint stays', async () => {
    const dir = tmp('nan-ckpt');
    const good = new Counter();
    await runJob(good, { runDir: dir, log: quiet, stopAfterSteps: 4 });
    const before = readFileSync(join(dir, 'checkpoint.bin'));
    const bad = new Counter({ nanWeight: true });
    await expect(runJob(bad, { runDir: dir, resume: true, log: quiet })).rejects.toThrow(/tensor 'w' \[1\] holds Infinity \(at index 0\): the run diverged; no checkpoint written/);
    expect(readFileSync(join(dir, 'checkpoint.bin')).equals(before)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});

describe('the run loop', () => {
  it('a loss that becomes NaN ends the run with a clear error at the read-back that sees it', async () => {
    const dir = tmp('nan-loss');
    const job = new Counter({ nanLossAt: 1 });
    const err = await runJob(job, { runDir: dir, log: quiet }).catch((e) => e);
    expect(err).toBeInstanceOf(NonFiniteError);
    expect(err.message).toMatch(/loss became NaN at epoch 2, batch 1\/4: the run diverged .* the last checkpoint in .* is from before/);
    expect((await readCheckpointMeta(join(dir, 'checkpoint.bin'))).position).toEqual({ epoch: 1, phase: 0, step: 0 });
  });

  it('resume needs a checkpoint; a new run refuses a folder holding an unfinished one and replaces a finished one', async () => {
    const dir = tmp('no-ckpt');
    await expect(runJob(new Counter(), { runDir: dir, resume: true, log: quiet })).rejects.toThrow(/no checkpoint\.bin to resume from/);
    await runJob(new Counter(), { runDir: dir, log: quiet, stopAfterSteps: 5 });
    await expect(runJob(new Counter(), { runDir: dir, log: quiet })).rejects.toThrow(/holds an unfinished run \(.*checkpoint\.bin, at epoch 2\/3, phase 0, step 1\): continue it with --resume/);
    await runJob(new Counter(), { runDir: dir, log: quiet, resume: true });
    const lines: string[] = [];
    await runJob(new Counter(), { runDir: dir, log: (l) => lines.push(l) });
    expect(lines.join('\n')).toMatch(/replacing the finished run there \(3 epochs\) with a new one/);
    expect(jsonLines(join(dir, 'metrics.jsonl')).map((r) => r.epoch)).toEqual([1, 2, 3]);
    // A job of another kind, or another config, cannot continue it.
    const other = Object.assign(new Counter(), { kind: 'other' });
    await expect(runJob(other, { runDir: dir, resume: true, log: quiet })).rejects.toThrow(/a 'counter' checkpoint cannot be resumed as a 'other' run/);
    const changed = Object.assign(new Counter(), { config: { epochs: 3, lr: 1 } });
    await expect(runJob(changed, { runDir: dir, resume: true, log: quiet })).rejects.toThrow(/'lr' is 1 for this run but undefined in the checkpoint/);
  });

  it('history files hold no duplicate after a kill between the append of a record and the checkpoint', async () => {
    const dir = tmp('dup');
    const first = new Counter();
    await expect(runJob(first, { runDir: dir, log: quiet, simulateKill: { beforeEpochCheckpoint: 2 } })).rejects.toThrow(SimulatedKill);
    // Epoch 2's record reached metrics.jsonl; the checkpoint is still epoch 1's.
    expect(jsonLines(join(dir, 'metrics.jsonl')).map((r) => r.epoch)).toEqual([1, 2]);
    expect((await readCheckpointMeta(join(dir, 'checkpoint.bin'))).position.epoch).toBe(1);
    const lines: string[] = [];
    const again = new Counter();
    await runJob(again, { runDir: dir, resume: true, log: (l) => lines.push(l) });
    expect(lines.join('\n')).toMatch(/metrics\.jsonl: 1 record past the checkpoint dropped/);
    const records = jsonLines(join(dir, 'metrics.jsonl'));
    expect(records.map((r) => r.epoch)).toEqual([1, 2, 3]);
    expect(records.map((r) => r.at)).toEqual([1, 2, 3].map((epoch) => ({ epoch, phase: 0, step: 0 })));
    const whole = new Counter();
    await runJob(whole, { log: quiet });
    expect(again.value).toBe(whole.value);
    expect(records.map((r) => r.value)).toEqual((await runJob(new Counter(), { log: quiet })).history('metrics').map((r) => r.value));
  });
});

describe('run folders', () => {
  it('a path that cannot be created fails at once with a clear error', async () => {
    const started = performance.now();
    await expect(openRunFolder('/proc/bionas-test/x')).rejects.toThrow(/cannot create the run folder \/proc\/bionas-test\/x: mkdir \/proc\/bionas-test failed/);
    const dir = tmp('file');
    writeFileSync(join(dir, 'f'), '');
    await expect(openRunFolder(join(dir, 'f', 'run'))).rejects.toThrow(/is a file, not a folder/);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('is locked while a run writes it; a lock whose process is gone is taken over; stray temporary files are removed', async () => {
    const dir = tmp('lock');
    const a = await openRunFolder(dir);
    await expect(openRunFolder(dir)).rejects.toThrow(new RegExp(`in use by another run \\(pid ${process.pid} on ${hostname()}`));
    a.release();
    expect(existsSync(join(dir, 'lock'))).toBe(false);
    // A run killed with SIGKILL leaves its lock and maybe a half-written checkpoint.
    const dead = spawnSync('node', ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: Number(dead.stdout), hostname: hostname(), started: '2020-01-01T00:00:00Z' }));
    writeFileSync(join(dir, 'checkpoint.bin.tmp-12345'), 'half');
    const lines: string[] = [];
    const b = await openRunFolder(dir, (l) => lines.push(l));
    expect(lines.join('\n')).toMatch(new RegExp(`taking over the lock of pid ${dead.stdout} .*no longer running`));
    expect(lines.join('\n')).toMatch(/checkpoint\.bin\.tmp-12345: removed \(a temporary file left by a killed write\)/);
    expect(readdirSync(dir).sort()).toEqual(['lock']);
    b.release();
    writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: 1, hostname: 'elsewhere', started: '2020-01-01T00:00:00Z' }));
    await expect(openRunFolder(dir)).rejects.toThrow(/locked by pid 1 on host elsewhere .* delete .*lock/);
  });
});

function smallCnn(gen: Generator): Module {
  const layer = { rule: 'brsf' as const, gen, numClasses: 4 };
  return new Sequential(new Conv2d(3, 6, 3, { ...layer, padding: 1 }), new BatchNorm2d(6), new ReLU(), new GlobalAvgPool(), new Linear(6, 4, layer));
}

describe('timed checkpoints', () => {
  it('a run killed after a checkpoint taken inside an epoch resumes to the same weights and metrics, bit for bit', async () => {
    const seed = freshSeed('timed checkpoint');
    const data = syntheticDataset({ count: 96, classes: 4, size: 8, seed });
    const config: TrainConfig = { ...DEFAULT_TRAIN, epochs: 2, batchSize: 16, lr: 0.05, logEvery: 100, seed, gradClip: 5 };
    const loaders = () => ({ train: new BatchLoader(data, { batchSize: 16, shuffle: true, seed, dropLast: true, augment: { cropPadding: 1, flip: true } }) });
    const wholeGen = new Generator(seed);
    const whole = smallCnn(wholeGen);
    const wholeDir = tmp('timed-whole');
    await train(whole, loaders(), config, { gen: wholeGen, runDir: wholeDir, log: quiet, checkpointMinutes: 0 });

    const dir = tmp('timed');
    const firstGen = new Generator(seed);
    const first = smallCnn(firstGen);
    // A checkpoint after every step (the minutes are that short), and a kill after the 9th:
    // the last checkpoint is the one after step 8, in the middle of epoch 2 (6 steps each).
    await expect(train(first, loaders(), config, { gen: firstGen, runDir: dir, log: quiet, checkpointMinutes: 1e-9, simulateKill: { afterSteps: 9 } })).rejects.toThrow(SimulatedKill);
    expect((await readCheckpointMeta(join(dir, 'checkpoint.bin'))).position).toEqual({ epoch: 1, phase: 0, step: 2 });
    first.dispose();
    const againGen = new Generator(seed + 1);
    const again = smallCnn(againGen);
    const r = await train(again, loaders(), config, { gen: againGen, runDir: dir, resume: true, log: quiet, checkpointMinutes: 0 });
    expect(r.stopped).toBe(false);
    for (const [[n, a], [, b]] of whole.namedTensors().map((e, i) => [e, again.namedTensors()[i]] as const)) expect(await b.data(), n).toEqual(await a.data());
    const strip = (rs: Record<string, unknown>[]) => rs.map(({ seconds, imagesPerSec, ...rest }) => rest);
    expect(strip(jsonLines(join(dir, 'metrics.jsonl')))).toEqual(strip(jsonLines(join(wholeDir, 'metrics.jsonl'))));
    whole.dispose();
    again.dispose();
  }, 120_000);
});

describe('search strategies are plug-ins', () => {
  it('a strategy registered here (random alphas each epoch) runs through the run loop and writes a genotype and a checkpoint', async () => {
    interface ToyConfig extends SearchConfig { scale: number }
    /** Draws fresh alphas each epoch from a seeded generator: the least a strategy can do. */
    class RandomAlphas implements SearchMethod {
      private draws = 0;
      constructor(private readonly ctx: StrategyContext<ToyConfig>) {}
      phases() {
        return [{ name: 'draw', steps: 1, unit: 'draw' }];
      }
      beginPhase() {}
      step(at: Position) {
        const rand = splitmix32((this.ctx.config.seed * 31 + at.epoch) >>> 0);
        for (const a of this.ctx.model.alphas) a.write(Float32Array.from({ length: a.size }, () => this.ctx.config.scale * (rand() - 0.5)));
        this.draws++;
        return 0;
      }
      async metrics() {
        return { draws: this.draws };
      }
      async endEpoch() {
        return { draws: this.draws };
      }
      async state() {
        return { tensors: [], meta: { draws: this.draws } };
      }
      restore(_: unknown, meta: Record<string, unknown>) {
        this.draws = meta.draws as number;
      }
      close() {}
    }
    registerStrategy<ToyConfig>({
      name: 'toy-random', title: 'random alphas', help: 'toy-random: fresh random alphas every epoch (a test)',
      presets: { tiny: { epochs: 3, batchSize: 8, logEvery: 1, scale: 4, C: 2, layers: 3, steps: 2 } },
      configure: (p, _f, seed) => ({ ...p, seed }),
      describe: (c) => `${c.epochs} epochs of random alphas`,
      create: (ctx) => new RandomAlphas(ctx),
    });
    expect(strategyNames()).toEqual(expect.arrayContaining(['darts', 'eg', 'toy-random']));

    const { getStrategy } = await import('../src/search/strategies/index.js');
    const toy = getStrategy('toy-random') as unknown as import('../src/search/strategies/strategy.js').SearchStrategy<ToyConfig>;
    const seed = 7;
    const [a, b] = split(syntheticDataset({ count: 32, classes: 3, size: 8, seed }), 16, seed);
    const data = { train: new BatchLoader(a, { batchSize: 8, dropLast: true }), valid: new BatchLoader(b, { batchSize: 8, dropLast: true }) };
    const space = parseSpace([{ op: 'none' }, { op: 'max_pool_3x3' }, { op: 'skip_connect', rule: 'usf' }, { op: 'sep_conv_3x3', rule: 'fa' }], 'toy space');
    const build = () => {
      const gen = new Generator(seed);
      return { gen, model: new DartsSupernet(space, { C: 2, layers: 3, steps: 2, numClasses: 3, gen }) };
    };
    const config = toy.configure(toy.presets.tiny, {}, seed);
    const dir = tmp('toy-strategy');
    const first = build();
    const stopped = await runSearch(toy, first.model, data, config, { runDir: dir, gen: first.gen, log: quiet, stopAfterSteps: 2 });
    expect(stopped.stopped).toBe(true);
    first.model.dispose();
    const second = build();
    const r = await runSearch(toy, second.model, data, config, { runDir: dir, gen: second.gen, log: quiet, resume: true });
    expect(r.history.map((h) => [h.epoch, h.draws])).toEqual([[1, 1], [2, 2], [3, 3]]);
    const saved = JSON.parse(readFileSync(join(dir, 'genotype.json'), 'utf8'));
    expect(saved.method).toBe('toy-random');
    expect(() => parseGenotype(saved.genotype)).not.toThrow();
    expect((await readCheckpointMeta(join(dir, 'checkpoint.bin'))).kind).toBe('search-toy-random');
    expect(jsonLines(join(dir, 'alphas.jsonl'))).toHaveLength(3);
    second.model.dispose();
  });
});
