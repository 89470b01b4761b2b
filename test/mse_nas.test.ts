import { describe, it, expect, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useGpu, fixedSeed } from './util.js';
import { syntheticDataset } from '../src/data/synthetic.js';
import { subset } from '../src/data/dataset.js';
import { runJob, SimulatedKill } from '../src/run/loop.js';
import { randomGenome } from '../src/snn/genome.js';
import { mulberry32 } from '../src/data/dataset.js';
import { RDM_FITNESSES } from '../src/search/fitness/rdm.js';
import { scoringBatch, scoreGenome, releaseScoringBatch, type GenomeScore } from '../src/search/mse_nas/score.js';
import {
  MseNasJob, parseObjectives, objectivesOf, chooseFromFront, paretoSvg, MSE_NAS_PENALTY, type MseNasConfig, type ScoredGenome,
} from '../src/search/mse_nas/search.js';
import { RdmCheckJob, checkTable, checkGenomes, type CheckRecord, type RdmCheckConfig } from '../src/search/mse_nas/rdm_check.js';
import { parseSpikingGenotype, genotypeJson } from '../src/snn/genome.js';
import { writeFile } from 'node:fs/promises';
import { encodeAedat31, encodeGestureLabels, loadDvsGesture } from '../src/data/dvs128.js';
import { emptyStream } from '../src/data/events.js';

useGpu();

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'bionas-msenas-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

// Tiny: 8x8 synthetic images, 2 cells, C 4, T 2, population 6, 2 generations.
const all = syntheticDataset({ count: 48, seed: 3, size: 8 });
const train = subset(all, Array.from({ length: 32 }, (_, i) => i), 'train');
const test = subset(all, Array.from({ length: 16 }, (_, i) => 32 + i), 'test');
const config = (o: Partial<MseNasConfig> = {}): MseNasConfig => ({
  population: 6, offspring: 6, generations: 2, cells: 2, timesteps: 2, C: 4, scoreBatch: 16, fitness: 'rsa-spearman',
  objectives: ['rdm', 'spikes'], seed: fixedSeed('mse-nas search', 5), logEvery: 1, ...o,
});
const lines = (dir: string, name: string) => readFileSync(join(dir, name), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

async function search(c: MseNasConfig, dir: string, o: { stopAfterSteps?: number; kill?: number; resume?: boolean } = {}) {
  const batch = await scoringBatch(train, c.scoreBatch, c.seed, c.timesteps);
  const job = new MseNasJob(c, batch);
  try {
    const r = await runJob(job, { runDir: dir, resume: o.resume, stopAfterSteps: o.stopAfterSteps, simulateKill: o.kill ? { afterSteps: o.kill } : undefined, checkpointMinutes: 0, log: () => {} });
    return { r, job };
  } finally {
    releaseScoringBatch(batch);
  }
}

describe('objectives', () => {
  it('--objectives parses rdm and spikes, refuses others and repeats', () => {
    expect(parseObjectives('rdm,spikes')).toEqual(['rdm', 'spikes']);
    expect(parseObjectives('spikes')).toEqual(['spikes']);
    expect(() => parseObjectives('rdm,accuracy')).toThrow(/'accuracy' is not an objective/);
    expect(() => parseObjectives('rdm,rdm')).toThrow(/twice/);
    expect(() => parseObjectives('')).toThrow(/at least one/);
  });

  it('minimises minus the fitness and the spikes; a non-finite score gets the finite penalty', () => {
    const s: GenomeScore = { fitness: { a: 0.25, b: -Infinity }, spikes: 120 };
    expect(objectivesOf(s, 'a', ['rdm', 'spikes'])).toEqual([-0.25, 120]);
    expect(objectivesOf(s, 'a', ['spikes', 'rdm'])).toEqual([120, -0.25]);
    expect(objectivesOf(s, 'b', ['rdm'])).toEqual([MSE_NAS_PENALTY]);
    expect(objectivesOf({ fitness: { a: 1 }, spikes: NaN }, 'a', ['spikes'])).toEqual([MSE_NAS_PENALTY]);
  });

  it('the chosen network is the front member with the highest fitness, fewer spikes breaking ties', () => {
    const m = (fitness: number, spikes: number): ScoredGenome => ({ genome: `${fitness}/${spikes}`, fitness, spikes, objectives: [], x: [] });
    expect(chooseFromFront([m(0.1, 5), m(0.3, 9), m(-Infinity, 1)]).genome).toBe('0.3/9');
    expect(chooseFromFront([m(0.3, 9), m(0.3, 4)]).genome).toBe('0.3/4');
    expect(() => chooseFromFront([])).toThrow(/empty front/);
  });
});

describe('training-free scoring', () => {
  it('a genome scores the same whenever it is scored (seeded weights, batch statistics, nothing updated)', async () => {
    const seed = fixedSeed('mse-nas scoring', 11);
    const batch = await scoringBatch(train, 16, seed, 2);
    const [g1, g2] = [randomGenome(2, mulberry32(seed)), randomGenome(2, mulberry32(seed + 1))];
    const shape = { T: 2, C: 4, seed };
    const names = RDM_FITNESSES.map((f) => f.name);
    const first = await scoreGenome(g1, batch, shape, names);
    await scoreGenome(g2, batch, shape, names);
    const again = await scoreGenome(g1, batch, shape, names);
    expect(again).toEqual(first);
    expect(first.spikes).toBeGreaterThan(0);
    expect(Object.keys(first.fitness).sort()).toEqual([...names].sort());
    releaseScoringBatch(batch);
    await expect(scoringBatch(train, 33, seed, 2)).rejects.toThrow(/33 images asked for, the training set \(train\) has 32/);
  });
});

describe('MSE-NAS search', () => {
  it('runs end to end: front per generation, every genome scored, pareto.svg, a genotype.json that parses as a spiking genotype', async () => {
    const dir = tempDir();
    const { r, job } = await search(config(), dir);
    expect(r.stopped).toBe(false);
    const fronts = lines(dir, 'front.jsonl');
    expect(fronts.map((f) => f.generation)).toEqual([1, 2]);
    const scores = lines(dir, 'scores.jsonl');
    expect(scores.length).toBe(fronts[1].evaluations);
    expect(scores.filter((s) => s.generation === 1)).toHaveLength(6);
    // The front is non-dominated in (-fitness, spikes) among the population, and the chosen member has its highest fitness.
    const front = fronts[1].front as { fitness: number; spikes: number; objectives: number[] }[];
    for (const a of front) for (const b of front) expect(b.objectives[0] <= a.objectives[0] && b.objectives[1] <= a.objectives[1] && (b.objectives[0] < a.objectives[0] || b.objectives[1] < a.objectives[1])).toBe(false);
    for (const m of front) expect(m.objectives).toEqual([-m.fitness, m.spikes]);
    const file = JSON.parse(readFileSync(join(dir, 'genotype.json'), 'utf8'));
    expect(file.fitness['rsa-spearman']).toBe(Math.max(...front.map((m) => m.fitness)));
    const genome = parseSpikingGenotype(file.genotype, 'genotype.json');
    expect(genome.cells).toHaveLength(2);
    expect(job.front.map((m) => m.genome)).toContain(file.genotype ? chooseFromFront(job.front).genome : '');
    const svg = readFileSync(join(dir, 'pareto.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<circle /g)!.length).toBeGreaterThanOrEqual(fronts[0].front.length + front.length);
    expect(paretoSvg(fronts, 'rsa-spearman')).toBe(svg);
  }, 60_000);

  it('stopped inside a generation, or killed, and resumed: the same fronts, scores and genotype as uninterrupted', async () => {
    const c = config();
    const whole = tempDir();
    await search(c, whole);
    // A stop at genome 2 of generation 2 (its scores so far and NSGA-II's pending offspring in the checkpoint).
    const stopped = tempDir();
    expect((await search(c, stopped, { stopAfterSteps: 8 })).r.stopped).toBe(true);
    expect(lines(stopped, 'front.jsonl')).toHaveLength(1);
    await search(c, stopped, { resume: true });
    // A kill after 9 genomes: the records past the last checkpoint are dropped and scored again.
    const killed = tempDir();
    await expect(search(c, killed, { kill: 9 })).rejects.toThrow(SimulatedKill);
    await search(c, killed, { resume: true });
    for (const dir of [stopped, killed]) {
      for (const name of ['front.jsonl', 'scores.jsonl', 'genotype.json', 'pareto.svg']) {
        expect(readFileSync(join(dir, name), 'utf8'), `${dir}/${name}`).toBe(readFileSync(join(whole, name), 'utf8'));
      }
    }
  }, 90_000);

  it('--objectives spikes: the front is the population\'s fewest spikes; rdm alone: its highest fitness', async () => {
    for (const objectives of [['spikes'], ['rdm']] as const) {
      const dir = tempDir();
      await search(config({ objectives: [...objectives], generations: 1 }), dir);
      const scores = lines(dir, 'scores.jsonl');
      const front = lines(dir, 'front.jsonl')[0].front as { fitness: number; spikes: number; objectives: number[] }[];
      for (const m of front) expect(m.objectives).toHaveLength(1);
      if (objectives[0] === 'spikes') for (const m of front) expect(m.spikes).toBe(Math.min(...scores.map((s) => s.spikes)));
      else for (const m of front) expect(m.fitness).toBe(Math.max(...scores.map((s) => s.fitness)));
    }
  }, 60_000);
});

describe('rdm-check', () => {
  const checkConfig = (): RdmCheckConfig => ({
    genomes: 4, cells: 2, timesteps: 2, C: 4, scoreBatch: 16, trainEpochs: 1, trainBatch: 32, lr: 5e-3, seed: fixedSeed('rdm-check', 2), logEvery: 1,
  });
  async function check(dir: string, o: { stopAfterSteps?: number; resume?: boolean } = {}) {
    const c = checkConfig();
    const batch = await scoringBatch(train, c.scoreBatch, c.seed, c.timesteps);
    try {
      return await runJob(new RdmCheckJob(c, batch, { train, test }, { dataset: 'synthetic', train: 32, test: 16 }), { runDir: dir, checkpointMinutes: 1e-9, log: () => {}, ...o });
    } finally {
      releaseScoringBatch(batch);
    }
  }

  it('4 genomes, 1 training step each: a tau per variant; stopped after 2 and resumed, the first 2 are not redone', async () => {
    const dir = tempDir();
    expect((await check(dir, { stopAfterSteps: 2 })).stopped).toBe(true);
    const firstTwo = lines(dir, 'genomes.jsonl');
    expect(firstTwo.map((e) => e.index)).toEqual([0, 1]);
    const r = await check(dir, { resume: true });
    const records = r.history<CheckRecord>('genomes');
    expect(records.map((e) => e.index)).toEqual([0, 1, 2, 3]);
    // The resumed process ran genomes 2 and 3 only: the first two records are the stopped run's, seconds included.
    expect(lines(dir, 'genomes.jsonl').slice(0, 2)).toEqual(firstTwo);
    expect(records.map((e) => e.genome)).toEqual(checkGenomes(4, 2, checkConfig().seed).map((_, i) => records[i].genome));
    const rows = checkTable(records);
    expect(rows.map((row) => row.name)).toEqual([...RDM_FITNESSES.map((f) => f.name), 'spikes']);
    // With 16 test images the accuracies may tie; the losses differ, so tau against -loss is defined wherever scores vary.
    for (const row of rows) if (new Set(records.map((e) => (row.name === 'spikes' ? e.spikes : e.fitness[row.name]))).size > 1) expect(Number.isFinite(row.tauLoss), row.name).toBe(true);
    const report = readFileSync(join(dir, 'report.md'), 'utf8');
    for (const f of RDM_FITNESSES) expect(report).toMatch(new RegExp(`\\| ${f.name} \\| (yes|no) \\|`));
    expect(existsSync(join(dir, 'check.svg'))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'check.json'), 'utf8')).genomes).toHaveLength(4);
  }, 90_000);
});

describe('the CLI (built)', () => {
  const cli = (args: string[]) => spawnSync('node', ['dist/bionas.mjs', ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
  it('bionas search --method mse-nas writes its outputs, and bionas train --genotype trains the network it found', () => {
    const dir = tempDir();
    const data = ['--dataset', 'synthetic', '--synthetic-size', '32', '--image-size', '8'];
    const s = cli(['search', '--method', 'mse-nas', ...data, '--cells', '2', '--C', '4', '--timesteps', '2', '--population', '6', '--offspring', '6',
      '--generations', '2', '--score-batch', '16', '--objectives', 'rdm,spikes', '--run', join(dir, 's')]);
    expect(s.status, s.stdout + s.stderr).toBe(0);
    expect(s.stdout).toMatch(/generation 2\/2: front of \d+/);
    for (const f of ['genotype.json', 'front.jsonl', 'scores.jsonl', 'pareto.svg', 'summary.json', 'checkpoint.bin']) expect(existsSync(join(dir, 's', f)), f).toBe(true);
    const bad = cli(['search', '--method', 'mse-nas', '--objectives', 'rdm,speed', '--run', join(dir, 'bad')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/'speed' is not an objective/);
    const t = cli(['train', '--genotype', join(dir, 's', 'genotype.json'), '--preset', 'mse_nas', '--timesteps', '2', '--C', '4', '--epochs', '1', '--batch', '8', ...data, '--run', join(dir, 't')]);
    expect(t.status, t.stdout + t.stderr).toBe(0);
    expect(t.stdout).toMatch(/model: spiking, /);
    expect(JSON.parse(readFileSync(join(dir, 't', 'summary.json'), 'utf8')).config).toMatchObject({ optimizer: 'adamw', weightDecay: 0.01, labelSmoothing: 0.1 });
  }, 90_000);

  it('bionas rdm-check on 4 genomes, 1 training step each, prints a tau per variant', () => {
    const dir = tempDir();
    const r = cli(['rdm-check', '--dataset', 'synthetic', '--synthetic-size', '16', '--image-size', '8', '--cells', '2', '--C', '4', '--timesteps', '2',
      '--genomes', '4', '--score-batch', '16', '--train-batch', '16', '--run', dir]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    for (const f of RDM_FITNESSES) expect(r.stdout).toMatch(new RegExp(`  ${f.name} +(-?[\\d.]+|n/a) \\(`));
    expect(lines(dir, 'genomes.jsonl')).toHaveLength(4);
  }, 60_000);
});

describe('event-camera data (2T channels, one frame per step)', () => {
  /** A DVS128 Gesture folder: 2 recordings of random events, 3 labelled segments each (classes 0, 0, 1 and 1, 2, 2). */
  async function gestureFolder(): Promise<string> {
    const dir = tempDir();
    const next = mulberry32(fixedSeed('dvs folder', 4));
    for (const [name, labels] of [['user01_led', [1, 1, 2]], ['user02_led', [2, 3, 3]]] as const) {
      const n = 1500;
      const e = emptyStream(n);
      for (let i = 0; i < n; i++) {
        e.x[i] = Math.floor(next() * 128);
        e.y[i] = Math.floor(next() * 128);
        e.t[i] = i * 20;
        e.p[i] = next() < 0.5 ? 1 : 0;
      }
      await writeFile(join(dir, `${name}.aedat`), encodeAedat31(e, { packetSize: 256 }));
      await writeFile(join(dir, `${name}_labels.csv`), encodeGestureLabels(labels.map((l, k) => ({ label: l - 1, start: k * 10_000, end: (k + 1) * 10_000 }))));
    }
    await writeFile(join(dir, 'trials_to_train.txt'), 'user01_led.aedat\nuser02_led.aedat\n');
    await writeFile(join(dir, 'trials_to_test.txt'), 'user02_led.aedat\n');
    return dir;
  }

  it('a search scores and rdm-check trains spiking networks on event frames; T must match the frames', async () => {
    const dir = await gestureFolder();
    const events = await loadDvsGesture(dir, 'train', { frames: 2, mode: 'count', height: 8, width: 8 });
    expect(events.channels).toBe(4);
    const c = config({ generations: 1, population: 2, offspring: 2, scoreBatch: 6 });
    const batch = await scoringBatch(events, 6, c.seed, 2);
    expect([batch.encoding, batch.inChannels]).toEqual(['frames', 2]);
    const runDir = tempDir();
    await runJob(new MseNasJob(c, batch), { runDir, checkpointMinutes: 0, log: () => {} });
    expect(lines(runDir, 'scores.jsonl').every((s) => s.spikes > 0)).toBe(true);
    const check = { genomes: 2, cells: 2, timesteps: 2, C: 4, scoreBatch: 6, trainEpochs: 1, trainBatch: 3, lr: 5e-3, seed: 1, logEvery: 1 };
    const r = await runJob(new RdmCheckJob(check, batch, { train: events, test: events }, {}), { log: () => {} });
    expect(r.history<CheckRecord>('genomes').map((g) => Number.isFinite(g.testLoss))).toEqual([true, true]);
    releaseScoringBatch(batch);
    await expect(scoringBatch(events, 6, 1, 3)).rejects.toThrow(/event samples of 2 frames, but the network has T = 3 steps/);
  }, 60_000);

  it('bionas train --dataset dvs128 trains a spiking genotype on frames (built CLI)', async () => {
    const dir = await gestureFolder();
    const g = join(dir, 'g.json');
    await writeFile(g, JSON.stringify(genotypeJson(randomGenome(2, mulberry32(3)))));
    const r = spawnSync('node', ['dist/bionas.mjs', 'train', '--genotype', g, '--dataset', 'dvs128', '--data', dir, '--timesteps', '2', '--event-size', '8',
      '--C', '4', '--epochs', '1', '--batch', '3', '--preset', 'mse_nas', '--run', join(dir, 'run')], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/data: 6 train, 0 valid, 3 test \(dvs128/);
    expect(JSON.parse(readFileSync(join(dir, 'run', 'summary.json'), 'utf8')).model).toMatchObject({ encoding: 'frames', inChannels: 4, timesteps: 2 });
    const bad = spawnSync('node', ['dist/bionas.mjs', 'train', '--genotype', g, '--dataset', 'dvs128', '--data', dir, '--timesteps', '2', '--event-frames', '3', '--event-size', '8',
      '--run', join(dir, 'bad')], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/event samples of 3 frames, but the network has T = 2 steps/);
  }, 60_000);
});
