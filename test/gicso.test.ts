import { describe, it, expect } from 'vitest';
import { mkdtempSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useGpu, fixedSeed } from './util.js';
import { Generator } from '../src/ops/random.js';
import { SPACE_PRESETS, parseSpace } from '../src/search/space.js';
import { DartsSupernet, Nb201Supernet } from '../src/search/supernet.js';
import { syntheticDataset } from '../src/data/synthetic.js';
import { BatchLoader } from '../src/data/loader.js';
import { split } from '../src/data/dataset.js';
import { parseGenotype } from '../src/models/genotype.js';
import { CSO, ICSO, type SwarmState } from '../src/search/optimizers/cso.js';
import { GICSO_STRATEGY, runGicsoSearch, type GicsoConfig } from '../src/search/strategies/index.js';
import {
  initialPhaseState, observeGeneration, endEpochSignals, checkPhaseConfig,
  type PhaseControllerConfig, type PhaseControllerState, type PhaseSwitch,
} from '../src/search/strategies/gicso_phases.js';
import { diversityFitness, rowCosineDistance, swarmSpread } from '../src/search/strategies/gicso_fitness.js';
import { swarmGeneration } from '../src/search/strategies/gicso_swarm.js';
import { SimulatedKill } from '../src/run/loop.js';
import { readCheckpointMeta } from '../src/run/checkpoint.js';
import { rowSoftmax } from '../src/search/strategies/eg_fitness.js';

useGpu();

const CONFIG: PhaseControllerConfig = {
  epochs: 40, stallGenerations: 3, stallMinDelta: 0.01, diversityThreshold: 0.2, plateauPatience: 2, plateauMinDelta: 0.01,
  warmup: { min: 1, max: 10 }, exploration: { min: 1, max: 10 }, stability: { min: 1, max: 10 }, reexplore: true,
};

/** Feeds epoch-end validation losses from `from` on; returns the state and the switches. */
function feed(s: PhaseControllerState, losses: number[], c = CONFIG, from = 0) {
  const switches: PhaseSwitch[] = [];
  losses.forEach((validLoss, i) => {
    const r = endEpochSignals(s, { epoch: from + i, validLoss }, c);
    s = r.state;
    if (r.switched) switches.push(r.switched);
  });
  return { s, switches };
}

const inPhase = (phase: PhaseControllerState['phase']): PhaseControllerState => ({ ...initialPhaseState(), phase });

describe('the G-ICSO phase controller', () => {
  it('ends the warm-up when, and only when, the validation loss has not decreased by min delta for `patience` epochs', () => {
    // Decreasing by more than 0.01 each epoch: never a switch (until max).
    expect(feed(initialPhaseState(), [2, 1.9, 1.8, 1.7, 1.6]).switches).toEqual([]);
    // A decrease of 0.005 (< delta) is no improvement: stale 1 after epoch 3, stale 2 after epoch 4 -> switch then.
    const r = feed(initialPhaseState(), [2, 1.9, 1.895, 1.9]);
    expect(r.switches).toHaveLength(1);
    expect(r.switches[0]).toMatchObject({ epoch: 4, from: 'warmup', to: 'exploration', signal: 'plateau' });
    expect(r.s.phase).toBe('exploration');
    // One stale epoch then an improvement: the count starts again.
    expect(feed(initialPhaseState(), [2, 2, 1.5, 1.5]).switches).toEqual([]);
  });

  it('respects min and max epochs per phase', () => {
    const c = { ...CONFIG, warmup: { min: 4, max: 6 } };
    // The plateau is there after epoch 3, but the minimum is 4 epochs.
    const r = feed(initialPhaseState(), [1, 1, 1, 1], c);
    expect(r.switches.map((s) => [s.epoch, s.signal])).toEqual([[4, 'plateau']]);
    const before = feed(initialPhaseState(), [1, 1, 1], c);
    expect(before.switches).toEqual([]);
    // Always improving: the maximum ends it after 6 epochs, not earlier.
    const m = feed(initialPhaseState(), [6, 5, 4, 3, 2, 1, 0.5], c);
    expect(m.switches.map((s) => [s.epoch, s.signal, s.to])).toEqual([[6, 'max-epochs', 'exploration']]);
  });

  it('ends exploration when the best fitness stalls for P generations, not P - 1; a better best resets the count', () => {
    let s = inPhase('exploration');
    for (const f of [2, 1.5, 1.495, 1.6]) s = observeGeneration(s, { bestFitness: f, diversity: 0.9 }, CONFIG);
    // Best 1.5 then two generations without a 0.01 improvement: stale 2 < 3.
    expect(s.fitnessStale).toBe(2);
    expect(endEpochSignals(s, { epoch: 5, validLoss: 1 }, CONFIG).switched).toBeNull();
    s = observeGeneration(s, { bestFitness: 1.499, diversity: 0.9 }, CONFIG);
    const r = endEpochSignals(s, { epoch: 5, validLoss: 1 }, CONFIG);
    expect(r.switched).toMatchObject({ epoch: 6, from: 'exploration', to: 'stability', signal: 'stall' });
    // An improvement at generation 3 resets: [2, 1.5, 1.4, 1.45, 1.45] has stale 2.
    let t = inPhase('exploration');
    for (const f of [2, 1.5, 1.4, 1.45, 1.45]) t = observeGeneration(t, { bestFitness: f, diversity: 0.9 }, CONFIG);
    expect(t.fitnessStale).toBe(2);
    expect(t.fitnessBest).toBe(1.4);
  });

  it("ends exploration when the swarm's diversity falls under the threshold of its initial spread, and not at the threshold", () => {
    const at = (d: number) => endEpochSignals(observeGeneration(inPhase('exploration'), { bestFitness: 1, diversity: d }, CONFIG), { epoch: 2, validLoss: 1 }, CONFIG).switched;
    expect(at(0.2)).toBeNull();
    expect(at(0.19)).toMatchObject({ signal: 'diversity', to: 'stability' });
    // Only the last generation's diversity counts: a dip that recovers does not switch.
    let s = observeGeneration(inPhase('exploration'), { bestFitness: 1, diversity: 0.1 }, CONFIG);
    s = observeGeneration(s, { bestFitness: 0.5, diversity: 0.5 }, CONFIG);
    expect(endEpochSignals(s, { epoch: 2, validLoss: 1 }, CONFIG).switched).toBeNull();
  });

  it("stability's early stopping hands back to exploration while enough epochs remain, else the search is done", () => {
    const back = feed(inPhase('stability'), [1, 1, 1], CONFIG, 10);
    expect(back.switches.map((s) => [s.epoch, s.from, s.to, s.signal])).toEqual([[13, 'stability', 'exploration', 'plateau']]);
    expect(back.s.explorations).toBe(1);
    expect(back.s.fitnessBest).toBeNull();
    // Early stop after epoch 38 of 40: 2 epochs left, exactly the minimum exploration + stability -> explore again.
    expect(feed(inPhase('stability'), [1, 1, 1], CONFIG, 35).switches[0]).toMatchObject({ epoch: 38, to: 'exploration' });
    // After epoch 39: 1 epoch left -> done, and nothing happens after.
    const done = feed(inPhase('stability'), [1, 1, 1, 0.1], CONFIG, 36);
    expect(done.switches.map((s) => s.to)).toEqual(['done']);
    expect(done.s.phase).toBe('done');
    expect(feed(inPhase('stability'), [1, 1, 1], { ...CONFIG, reexplore: false }, 0).switches[0].to).toBe('done');
  });

  it('keeps the last epochs for the phases still to come (budget), and never switches otherwise', () => {
    const c = { ...CONFIG, epochs: 6, stability: { min: 2, max: 10 } };
    // Improving warm-up: ends after epoch 3 (3 epochs left = 1 exploration + 2 stability).
    const r = feed(initialPhaseState(), [6, 5, 4], c);
    expect(r.switches.map((s) => [s.epoch, s.signal, s.to])).toEqual([[3, 'budget', 'exploration']]);
    // An exploration that keeps improving: ends after epoch 4, leaving 2 for stability.
    let s = r.s;
    s = observeGeneration(s, { bestFitness: 1, diversity: 1 }, c);
    const e = endEpochSignals(s, { epoch: 3, validLoss: 3 }, c);
    expect(e.switched).toMatchObject({ epoch: 4, signal: 'budget', to: 'stability' });
    expect(() => checkPhaseConfig({ ...c, epochs: 3 })).toThrow(/6 epochs|cannot hold the minimum/);
    expect(() => checkPhaseConfig({ ...c, warmup: { min: 3, max: 2 } })).toThrow(/warmup needs 1 <= min epochs \(3\) <= max epochs \(2\)/);
    expect(() => checkPhaseConfig({ ...c, diversityThreshold: 1.5 })).toThrow(/diversity threshold/);
    expect(() => observeGeneration(initialPhaseState(), { bestFitness: 1, diversity: 1 }, c)).toThrow(/observed in the warmup phase/);
    expect(() => endEpochSignals(initialPhaseState(), { epoch: 0, validLoss: NaN }, c)).toThrow(/validation loss after epoch 1 is NaN/);
  });

  it('on a fake supernet whose loss is |alpha - a*|^2 plus a weight term, switches exactly where its measured signals say, and ends near a*', async () => {
    // Weights: the loss term w halves per training epoch down to 0.05. Alphas: D = 6 (3 edges x 2 ops).
    const aStar = [1, -1, 0.5, 0, -0.5, 2];
    const cols = 2;
    let w = 1;
    let alpha = new Array(6).fill(0);
    const loss = (x: ArrayLike<number>) => w + aStar.reduce((s, a, i) => s + (x[i] - a) ** 2, 0);
    const c: PhaseControllerConfig = { ...CONFIG, epochs: 30, stallGenerations: 8, reexplore: false };
    let s = initialPhaseState();
    let swarm: SwarmState | null = null, spread0 = 0;
    const valid: number[] = [], phases: string[] = [], switches: PhaseSwitch[] = [], gens: { epoch: number; best: number; div: number }[] = [];
    for (let epoch = 0; epoch < c.epochs; epoch++) {
      phases.push(s.phase);
      if (s.phase === 'warmup' || s.phase === 'exploration') w = Math.max(0.05, w / 2);
      if (s.phase === 'exploration') {
        for (let g = 0; g < 5; g++) {
          if (!swarm) {
            const positions = Array.from({ length: 6 }, (_, i) => alpha.map((v, d) => v + (i === 0 ? 0 : 1.5 * Math.sin(7 * i + 3 * d))));
            spread0 = swarmSpread(positions);
            swarm = new CSO(6, { particles: 6, positions, seed: 11, phi: 0.1 }).state();
          }
          const r = await swarmGeneration(swarm, async (xs) => ({ loss: xs.map(loss), acc: xs.map(() => 0) }), { rescore: true, diversityWeight: 0, cols });
          swarm = r.state;
          let bi = 0;
          swarm.f.forEach((f, i) => (f < swarm!.f[bi] ? (bi = i) : 0));
          alpha = [...swarm.x[bi]];
          const div = swarmSpread(swarm.x) / spread0;
          gens.push({ epoch, best: swarm.f[bi], div });
          s = observeGeneration(s, { bestFitness: swarm.f[bi], diversity: div }, c);
        }
      }
      // Stability: gradient steps on |alpha - a*|^2.
      if (s.phase === 'stability') for (let k = 0; k < 5; k++) alpha = alpha.map((v, i) => v - 0.1 * 2 * (v - aStar[i]));
      const v = loss(alpha);
      valid.push(v);
      const r = endEpochSignals(s, { epoch, validLoss: v }, c);
      if (r.switched) {
        switches.push(r.switched);
        if (r.switched.from === 'exploration') swarm = null;
      }
      s = r.state;
    }
    // The reference: the same rules, read off the recorded signals.
    const plateauEpoch = (start: number) => {
      let best = Infinity, stale = 0;
      for (let e = start; e < c.epochs; e++) {
        if (valid[e] < best - c.plateauMinDelta) [best, stale] = [valid[e], 0];
        else stale++;
        if (stale >= c.plateauPatience) return e + 1;
      }
      return -1;
    };
    const warmEnd = plateauEpoch(0);
    expect(switches[0]).toMatchObject({ epoch: warmEnd, from: 'warmup', to: 'exploration', signal: 'plateau' });
    let best = Infinity, stale = 0, exploreEnd = -1;
    for (const g of gens) {
      if (g.best < best - c.stallMinDelta) [best, stale] = [g.best, 0];
      else stale++;
      const last = gens.filter((h) => h.epoch === g.epoch).pop()!;
      if (g === last && (stale >= c.stallGenerations || g.div < c.diversityThreshold)) {
        exploreEnd = g.epoch + 1;
        break;
      }
    }
    expect(exploreEnd).toBeGreaterThan(warmEnd);
    expect(switches[1]).toMatchObject({ epoch: exploreEnd, from: 'exploration', to: 'stability' });
    expect(['stall', 'diversity']).toContain(switches[1].signal);
    // Stability's early stop: the plateau counted from the switch (its loss is the new baseline).
    let sb = valid[exploreEnd - 1], ss = 0, stabEnd = -1;
    for (let e = exploreEnd; e < c.epochs; e++) {
      if (valid[e] < sb - c.plateauMinDelta) [sb, ss] = [valid[e], 0];
      else ss++;
      if (ss >= c.plateauPatience) {
        stabEnd = e + 1;
        break;
      }
    }
    expect(switches[2]).toMatchObject({ epoch: stabEnd, from: 'stability', to: 'done', signal: 'plateau' });
    expect(switches).toHaveLength(3);
    // Every epoch ran the phase the switches say.
    phases.forEach((p, e) => expect(p, `epoch ${e + 1}`).toBe(e < warmEnd ? 'warmup' : e < exploreEnd ? 'exploration' : e < stabEnd ? 'stability' : 'done'));
    expect(Math.hypot(...alpha.map((v, i) => v - aStar[i]))).toBeLessThan(0.05);
  });
});

describe("G-ICSO's swarm generation and fitness", () => {
  it('fitness = CE - lambda * mean over edges of (1 - cos) between a particle\'s op weights and the swarm mean\'s', () => {
    expect(rowCosineDistance([1, 0, 0, 1], [1, 0, 1, 0], 2)).toBeCloseTo(0.5, 15);
    expect(rowCosineDistance([1, 1, 2, 0], [2, 2, 1, 0], 2)).toBeCloseTo(0, 15);
    const xs = [[0, 0, 3, 0], [2, 0, 0, 1], [0, 2, 1, 1]];
    const mean = rowSoftmax([2 / 3, 2 / 3, 4 / 3, 2 / 3], 2);
    const want = xs.map((x) => rowCosineDistance(rowSoftmax(x, 2), mean, 2));
    const r = diversityFitness([1, 2], [2, 0], xs, 2, 0.4);
    expect(r.distance).toEqual([want[2], want[0]]);
    expect(r.fitness[0]).toBeCloseTo(1 - 0.4 * want[2], 15);
    expect(r.fitness[1]).toBeCloseTo(2 - 0.4 * want[0], 15);
    // lambda 0: the plain cross-entropy.
    expect(diversityFitness([1, 2], [2, 0], xs, 2, 0).fitness).toEqual([1, 2]);
  });

  it('scoring a generation in one call moves, evaluates and keeps the best exactly as a direct CSO / L-ICSO step with the same fitness', async () => {
    const f = (x: ArrayLike<number>) => Array.from(x).reduce((s, v, i) => s + (v - i / 3) ** 2, 0);
    const kinds: [string, () => CSO | ICSO][] = [
      ['cso', () => new CSO(6, { particles: 8, seed: 3 })],
      // A budget the run overruns: the last generation evaluates only part of its learners, then the swarm stops.
      ['icso', () => new ICSO(6, { maxParticles: 9, minParticles: 3, budget: 40, seed: 5 })],
    ];
    for (const [kind, make] of kinds) {
      const direct = make();
      let s = make().state();
      let calls = 0;
      for (let g = 0; g < 8; g++) {
        direct.step(f);
        const r = await swarmGeneration(s, async (xs) => (calls++, { loss: xs.map(f), acc: xs.map(() => 0) }), { rescore: false, diversityWeight: 0, cols: 2 });
        s = r.state;
        expect(s, `${kind}, generation ${g}`).toEqual(direct.state());
      }
      expect(calls).toBe(8);
    }
  });

  it('with rescore, every particle carries the fitness of this generation, winners too', async () => {
    let shift = 0;
    const f = (x: ArrayLike<number>) => shift + Array.from(x).reduce((s, v) => s + v * v, 0);
    let s = new CSO(4, { particles: 6, seed: 9 }).state();
    for (let g = 0; g < 3; g++) {
      shift = 10 * g; // the network changes between generations
      s = (await swarmGeneration(s, async (xs) => ({ loss: xs.map(f), acc: xs.map(() => 0) }), { rescore: true, diversityWeight: 0, cols: 2 })).state;
      s.x.forEach((x, i) => expect(s.f[i]).toBe(f(x)));
    }
  });
});

describe('G-ICSO-NAS search', () => {
  const seed = fixedSeed('gicso search', 20251);
  const data = syntheticDataset({ count: 48, classes: 3, size: 8, seed });
  const [a, b] = split(data, 24, seed);
  const loaders = () => ({
    train: new BatchLoader(a, { batchSize: 8, shuffle: true, seed, dropLast: true }),
    valid: new BatchLoader(b, { batchSize: 8, shuffle: true, seed: seed + 1, dropLast: true }),
  });
  // 4 epochs: warm-up 1, exploration 1-2 (3 generations an epoch, one per weight step), stability 1.
  const config: GicsoConfig = {
    ...GICSO_STRATEGY.presets.tiny, epochs: 4, batchSize: 8, swarmSize: 4, optimizer: 'cso', phi: 0.1, signalBatches: 1, logEvery: 3, seed,
    warmupEpochs: [1, 1], explorationEpochs: [1, 2], stabilityEpochs: [1, 1], stallGenerations: 4,
  };
  const build = () => {
    const gen = new Generator(seed);
    const space = parseSpace([{ op: 'none' }, { op: 'avg_pool_3x3' }, { op: 'skip_connect', rule: 'frsf' }, { op: 'sep_conv_3x3', rule: 'usf' }], 'test space');
    return { gen, model: new DartsSupernet(space, { C: 2, layers: 3, steps: 2, numClasses: 3, gen }) };
  };
  const quiet = () => {};
  const lines = (d: string, f: string) => readFileSync(join(d, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

  it('a tiny search runs its phases, writes its outputs, and stopped or killed mid-exploration resumes to the same alphas, swarm and switches', async () => {
    const dirFull = mkdtempSync(join(tmpdir(), 'bionas-gicso-'));
    const full = build();
    const r = await runGicsoSearch(full.model, loaders(), config, { runDir: dirFull, gen: full.gen, log: quiet });
    expect(r.stopped).toBe(false);
    const phases = r.history.map((h) => h.phase);
    expect(phases[0]).toBe('warmup');
    expect(phases).toContain('exploration');
    expect(phases).toContain('stability');
    expect(r.switches.map((s) => `${s.from}->${s.to}`)).toEqual(['warmup->exploration', 'exploration->stability', 'stability->done']);
    // Exploration ended by its signal (the best fitness stalled for 4 generations) before its 2-epoch maximum.
    expect(r.switches[1].signal).toBe('stall');
    r.switches.forEach((s) => expect(s.reason.length).toBeGreaterThan(0));
    // One generation per exploration step, the whole swarm scored each time.
    const explorationEpochs = phases.filter((p) => p === 'exploration').length;
    expect(r.generations.length).toBe(3 * explorationEpochs);
    r.generations.forEach((g) => expect(g.particles).toBe(4));
    for (const f of ['genotype.json', 'normal.svg', 'alphas_normal.svg', 'phases.svg', 'swarm.svg', 'swarm.jsonl', 'phases.jsonl', 'metrics.jsonl', 'alphas.jsonl', 'checkpoint.bin']) {
      expect(existsSync(join(dirFull, f)), f).toBe(true);
    }
    expect(() => parseGenotype(JSON.parse(readFileSync(join(dirFull, 'genotype.json'), 'utf8')).genotype)).not.toThrow();
    expect(lines(dirFull, 'phases.jsonl').map((p) => p.to)).toEqual(r.switches.map((s) => s.to));
    const want = await Promise.all(full.model.alphas.map((t) => t.data()));
    full.model.dispose();

    // 3 steps per epoch: stop after 5 steps (2 generations into the exploration), then after 2 more.
    const dir = mkdtempSync(join(tmpdir(), 'bionas-gicso-resume-'));
    const first = build();
    expect((await runGicsoSearch(first.model, loaders(), config, { runDir: dir, gen: first.gen, log: quiet, stopAfterSteps: 5 })).stopped).toBe(true);
    first.model.dispose();
    const second = build();
    expect((await runGicsoSearch(second.model, loaders(), config, { runDir: dir, gen: second.gen, log: quiet, resume: true, stopAfterSteps: 2 })).stopped).toBe(true);
    second.model.dispose();
    const third = build();
    const resumed = await runGicsoSearch(third.model, loaders(), config, { runDir: dir, gen: third.gen, log: quiet, resume: true });
    expect(resumed.stopped).toBe(false);
    expect(await Promise.all(third.model.alphas.map((t) => t.data()))).toEqual(want);
    expect(resumed.generations).toEqual(r.generations);
    expect(resumed.switches).toEqual(r.switches);
    expect(resumed.history.map((h) => [h.phase, h.signalLoss, h.genotype])).toEqual(r.history.map((h) => [h.phase, h.signalLoss, h.genotype]));
    expect(lines(dir, 'swarm.jsonl').map((g) => g.generation)).toEqual(lines(dirFull, 'swarm.jsonl').map((g) => g.generation));
    third.model.dispose();

    // A kill (no checkpoint at the kill): a checkpoint after every step, killed after step 5;
    // the last checkpoint is the one after step 4, one generation into the exploration.
    const dirKill = mkdtempSync(join(tmpdir(), 'bionas-gicso-kill-'));
    const killed = build();
    await expect(runGicsoSearch(killed.model, loaders(), config, { runDir: dirKill, gen: killed.gen, log: quiet, checkpointMinutes: 1e-9, simulateKill: { afterSteps: 5 } })).rejects.toThrow(SimulatedKill);
    expect((await readCheckpointMeta(join(dirKill, 'checkpoint.bin'))).position).toEqual({ epoch: 1, phase: 0, step: 1 });
    killed.model.dispose();
    const revived = build();
    const after = await runGicsoSearch(revived.model, loaders(), config, { runDir: dirKill, gen: revived.gen, log: quiet, resume: true });
    expect(await Promise.all(revived.model.alphas.map((t) => t.data()))).toEqual(want);
    expect(after.generations).toEqual(r.generations);
    expect(lines(dirKill, 'phases.jsonl')).toEqual(lines(dirFull, 'phases.jsonl'));
    revived.model.dispose();
  }, 120_000);

  it('searches the NAS-Bench-201 space (one alpha matrix) with L-ICSO', async () => {
    const gen = new Generator(seed);
    const model = new Nb201Supernet(SPACE_PRESETS.nb201, { C: 2, layers: 1, numClasses: 3, gen });
    const r = await runGicsoSearch(model, loaders(), { ...config, epochs: 3, optimizer: 'icso', swarmSize: 6, phi: 0.15, explorationEpochs: [1, 1] }, { gen, log: quiet });
    expect(r.history.map((h) => h.phase)).toEqual(['warmup', 'exploration', 'stability']);
    expect(r.derived.nb201).toBeTruthy();
    expect(r.generations).toHaveLength(3);
    model.dispose();
  }, 60_000);
});
