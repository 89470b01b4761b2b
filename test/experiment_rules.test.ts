import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useGpu } from './util.js';
import { Tensor, scope } from '../src/tensor.js';
import { backward } from '../src/autograd.js';
import { Generator, randomNormal } from '../src/ops/random.js';
import { crossEntropy } from '../src/ops/loss.js';
import { add, scale } from '../src/ops/elementwise.js';
import { clearOutputError } from '../src/rules/dfa.js';
import { NetworkCIFAR, auxPoolFor } from '../src/models/network.js';
import { loadGenotype, type Genotype } from '../src/models/genotype.js';
import { overrideRules, parseRuleOverride, rulesOfOp } from '../src/models/rule_override.js';
import { OP_RULE_USE } from '../src/models/operations.js';
import { SPACE_PRESETS } from '../src/search/space.js';
import { ruleLayers } from '../src/nn/layers.js';
import { readCheckpointMeta } from '../src/run/checkpoint.js';

useGpu();

const edges = (g: Genotype) => [...g.normal, ...g.reduce];

describe('rule overrides of a genotype (train --rules)', () => {
  it('as-found keeps the rules; single:RULE puts RULE on every op with weights and bp on pools', async () => {
    const g = await loadGenotype('biodarts');
    expect(overrideRules(g, parseRuleOverride('as-found'))).toEqual(g);
    for (const rule of ['bp', 'fa', 'usf', 'brsf', 'frsf']) {
      const s = overrideRules(g, parseRuleOverride(`single:${rule}`));
      for (const [i, e] of edges(s).entries()) {
        expect(e.op).toBe(edges(g)[i].op);
        expect(e.input).toBe(edges(g)[i].input);
        expect(e.rule).toBe(OP_RULE_USE[e.op] === 'none' ? 'bp' : rule);
      }
    }
    // DFA cannot drive skip_connect (a FactorizedReduce at stride 2), which BIODARTS holds.
    expect(() => overrideRules(g, parseRuleOverride('single:dfa'))).toThrow(/single:dfa: normal\[0\] \(skip_connect\).*DFA/);
    expect(() => parseRuleOverride('single:hebb')).toThrow(/unknown learning rule 'hebb'/);
    expect(() => parseRuleOverride('mixed')).toThrow(/as-found\|single:RULE\|random/);
  });

  it('random draws only pairs of the space, is reproducible by seed, and differs between seeds', async () => {
    const g = await loadGenotype('biodarts');
    const space = SPACE_PRESETS.bionas;
    const draws = [0, 1, 2, 3].map((seed) => overrideRules(g, { mode: 'random' }, { space, seed }));
    for (const d of draws) {
      for (const e of edges(d)) expect(space.pairs.some((p) => p.op === e.op && p.rule === e.rule)).toBe(true);
    }
    expect(overrideRules(g, { mode: 'random' }, { space, seed: 2 })).toEqual(draws[2]);
    const key = (d: Genotype) => edges(d).map((e) => e.rule).join();
    expect(new Set(draws.map(key)).size).toBeGreaterThan(1);
    // Over many seeds every allowed rule of a conv edge turns up (normal[2] is a sep_conv_3x3).
    const seen = new Set(Array.from({ length: 64 }, (_, seed) => overrideRules(g, { mode: 'random' }, { space, seed }).normal[2].rule));
    expect([...seen].sort()).toEqual(rulesOfOp(space, 'sep_conv_3x3').sort());
    // An op the space lacks is an error naming it.
    expect(() => overrideRules(g, { mode: 'random' }, { space: SPACE_PRESETS.nb201, seed: 0 })).toThrow(/op 'skip_connect'|op 'sep_conv_3x3'|op 'max_pool_3x3'/);
    const darts = overrideRules(g, { mode: 'random' }, { space: SPACE_PRESETS.darts, seed: 5 });
    expect(edges(darts).every((e) => e.rule === 'bp')).toBe(true);
  });

  it('--rules-everywhere (bodyRule) moves the stem, preprocessing, classifier and auxiliary head off BP; without it they stay BP', async () => {
    const g = overrideRules(await loadGenotype('biodarts'), { mode: 'single', rule: 'fa' });
    const plain = new NetworkCIFAR(g, { C: 4, layers: 3, numClasses: 3, auxiliary: true, gen: new Generator(0) });
    const every = new NetworkCIFAR(g, { C: 4, layers: 3, numClasses: 3, auxiliary: true, gen: new Generator(0), bodyRule: 'fa' });
    for (const [net, rule] of [[plain, 'bp'], [every, 'fa']] as const) {
      expect(net.stem.rule.name).toBe(rule);
      expect(net.classifier.rule.name).toBe(rule);
      expect(net.auxHead!.fc.rule.name).toBe(rule);
      expect(ruleLayers(net.cells[0].preprocess1).map((l) => l.rule.name)).toEqual([rule]);
      // The edges' convs carry the genotype's rule either way.
      expect(ruleLayers(net.cells[0].ops[2]).every((l) => l.rule.name === 'fa')).toBe(true);
    }
    plain.dispose();
    every.dispose();
  });
});

describe('auxiliary head on small inputs', () => {
  it('pools every map side to 2x2: DARTS 5/3 on 8x8, window 3 stride 1 on 4x4', () => {
    expect(auxPoolFor(8)).toEqual({ kernel: 5, stride: 3 });
    expect(auxPoolFor(4)).toEqual({ kernel: 3, stride: 1 });
    for (const h of [2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 28]) {
      const { kernel, stride } = auxPoolFor(h);
      expect(Math.floor((h - kernel) / stride) + 1).toBe(2);
    }
    expect(() => auxPoolFor(1)).toThrow(/at least 2x2/);
  });

  it('a NetworkCIFAR with the auxiliary head trains a step on 16x16 inputs (ImageNet16-120)', async () => {
    const g = await loadGenotype('biodarts');
    const gen = new Generator(4);
    const net = new NetworkCIFAR(g, { C: 4, layers: 3, numClasses: 5, auxiliary: true, gen });
    const x = randomNormal([2, 3, 16, 16], gen);
    const y = Tensor.fromData([1, 4], [2], 'i32');
    let auxShape: readonly number[] = [];
    scope(() => {
      const { logits, aux } = net.forwardTrain(x);
      auxShape = aux!.shape;
      backward(add(crossEntropy(logits, y), scale(crossEntropy(aux!, y), 0.4)));
      clearOutputError();
    });
    expect(auxShape).toEqual([2, 5]);
    const g2 = net.auxHead!.conv2.weight.grad;
    expect(g2).toBeTruthy();
    const data = await g2!.data();
    expect(data.every(Number.isFinite)).toBe(true);
    expect(data.some((v) => v !== 0)).toBe(true);
    net.dispose();
  });
});

describe('train --rules through the command line', () => {
  it('writes the drawn rules into the run, and eval rebuilds the same network from the checkpoint', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bionas-rules-'));
    const data = ['--dataset', 'synthetic', '--synthetic-size', '32', '--image-size', '8', '--seed', '1'];
    const r = spawnSync('node', ['dist/bionas.mjs', 'train', '--genotype', 'biodarts', '--rules', 'random', '--rules-seed', '7', '--C', '4', '--layers', '3',
      '--epochs', '1', '--batch', '16', '--no-alignment', ...data, '--run', dir], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/rules \(--rules random, stem\/preprocess\/classifier bp\): normal: /);
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
    expect(summary.model.rules).toBe('random');
    const expected = overrideRules(summary.model.genotype, { mode: 'random' }, { space: SPACE_PRESETS.bionas, seed: 7 });
    expect(summary.model.genotype).toEqual(expected);
    const trainAcc = /test: loss [\d.]+, accuracy ([\d.]+)%/.exec(r.stdout)![1];
    const e = spawnSync('node', ['dist/bionas.mjs', 'eval', '--checkpoint', join(dir, 'checkpoint.bin'), ...data], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
    expect(e.status, e.stdout + e.stderr).toBe(0);
    expect(/accuracy ([\d.]+)%/.exec(e.stdout)![1]).toBe(trainAcc);
    return readCheckpointMeta(join(dir, 'checkpoint.bin')).then((meta) => expect((meta.describe as { genotype: unknown }).genotype).toEqual(summary.model.genotype));
  }, 120_000);
});

describe('train preset imagenet16 (SPEC 5)', () => {
  it('sets C=48, 14 cells, the auxiliary head, batch 1024, lr 0.5 linear, 250 epochs, label smoothing 0.1, no drop path; flags win', async () => {
    const { TRAIN_FLAGS, trainConfig, applyPresetModel } = await import('../src/cli/train.js');
    const { parseFlags } = await import('../src/cli/flags.js');
    const { givenFlags } = await import('../src/cli/resume.js');
    const argv = ['--preset', 'imagenet16', '--genotype', 'biodarts', '--layers', '8'];
    const f = parseFlags(argv, TRAIN_FLAGS, 'train');
    applyPresetModel(f, givenFlags(argv, TRAIN_FLAGS));
    expect([f.C, f.layers, f.auxiliary]).toEqual([48, 8, true]);
    const c = trainConfig(f);
    expect(c).toMatchObject({ epochs: 250, batchSize: 1024, lr: 0.5, schedule: 'linear', minLr: 0, labelSmoothing: 0.1, dropPath: 0, auxWeight: 0.4 });
  });
});
