// `bionas attack`: the evaluation runner on a real network with test attacks registered here
// (the real attacks are tested in their own files), its invariant checks, the results folder,
// the Table 4 suite built by name, and the command line's refusals of bad input.

import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useGpu, freshSeed } from './util.js';
import { Tensor } from '../src/tensor.js';
import { Generator } from '../src/ops/random.js';
import { crossEntropy } from '../src/ops/loss.js';
import { syntheticDataset } from '../src/data/synthetic.js';
import { BatchLoader } from '../src/data/loader.js';
import { CifarResNet } from '../src/models/resnet.js';
import { registerAttack, type Attack, type AttackInput } from '../src/attack/attack.js';
import { attackTarget, inputGradient, targetLogits, type AttackTarget } from '../src/attack/target.js';
import { attackedImages, runAttacks, type AttackRecord, type AttackSetting } from '../src/attack/run.js';
import { attackSetting, suiteSettings, TABLE4_ROWS } from '../src/attack/suite.js';
import { epsCharts, jsonLines, markdownTable } from '../src/attack/report.js';
import { writeResnetCheckpoint } from './train_checkpoint.js';
import type { RuleName } from '../src/rules/rule.js';
import type { FlagTable } from '../src/options.js';

useGpu();

const clip01 = (v: number) => Math.min(1, Math.max(0, v));

/** FGSM computed on the CPU from the engine's input gradient: a real white-box attack, independent of src/attack/fgsm.ts. */
async function cpuSignStep(input: AttackInput, scaleEps = 1): Promise<Tensor> {
  const { grad, logits } = inputGradient(input.target, input.x, (z) => crossEntropy(z, input.y), input.gradient);
  const [x, g] = [(await input.x.data()) as Float32Array, (await grad.data()) as Float32Array];
  grad.release();
  logits.release();
  return Tensor.fromData(x.map((v, i) => clip01(v + scaleEps * input.eps * Math.sign(g[i]))), input.x.shape);
}

const testAttack = (name: string, kind: Attack['kind'], run: Attack['run']): Attack =>
  registerAttack({ name, title: name.toUpperCase(), help: `test attack ${name}`, kind, describe: () => `${name} settings`, run });

// A deterministic white-box attack, a seeded black-box one that reports queries, and a transfer.
const sign = testAttack('test-sign', 'white-box', (input) => cpuSignStep(input).then((adv) => ({ adv })));
const noise = testAttack('test-noise', 'black-box', async (input) => {
  const u = input.draws.uniform(input.x.shape, -input.eps, input.eps);
  const [x, d] = [(await input.x.data()) as Float32Array, (await u.data()) as Float32Array];
  u.release();
  return { adv: Tensor.fromData(x.map((v, i) => clip01(v + d[i])), input.x.shape), queries: new Float32Array(input.x.shape[0]).fill(3) };
});
// A transfer attack crafts on input.source (here the same sign step).
const transfer = testAttack('test-transfer', 'transfer', (input) => cpuSignStep({ ...input, target: input.source! }).then((adv) => ({ adv })));
// Broken on purpose: each must be caught by the runner's checks.
const overshoot = testAttack('test-overshoot', 'white-box', (input) => cpuSignStep(input, 2).then((adv) => ({ adv })));
const outOfRange = testAttack('test-out-of-range', 'black-box', async (input) => {
  const x = (await input.x.data()) as Float32Array;
  return { adv: Tensor.fromData(x.map((v) => v + 1.5), input.x.shape) };
});
const inPlace = testAttack('test-in-place', 'black-box', async (input) => {
  const x = (await input.x.data()) as Float32Array;
  input.x.write(x.map((v) => clip01(v + input.eps)));
  return { adv: Tensor.fromData(x, input.x.shape) };
});
const wrongShape = testAttack('test-wrong-shape', 'black-box', () => ({ adv: Tensor.fromData(new Float32Array(3), [3]) }));

const setting = (attack: Attack, source?: AttackTarget): AttackSetting => ({ label: attack.title, attack, options: {}, source });

function resnet(rule: RuleName, seed: number, name: string): AttackTarget {
  const model = new CifarResNet({ depth: 20, rule, numClasses: 10, inChannels: 3, gen: new Generator(seed) });
  return attackTarget(model, { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], numClasses: 10, name });
}

/** Clean predictions of every image at once (one batch), as an independent count of clean accuracy. */
async function cleanAccuracy(t: AttackTarget, images: ReturnType<typeof attackedImages>): Promise<number> {
  const x = Tensor.fromData(Float32Array.from(images.images, (b) => b / 255), [images.count, images.channels, images.height, images.width]);
  const logits = targetLogits(t, x);
  const z = (await logits.data()) as Float32Array;
  x.release();
  logits.release();
  let right = 0;
  for (let i = 0; i < images.count; i++) {
    const row = Array.from(z.subarray(i * 10, i * 10 + 10));
    if (row.indexOf(Math.max(...row)) === images.labels[i]) right++;
  }
  return right / images.count;
}

describe('attack runner on ResNet-20', () => {
  const test = syntheticDataset({ count: 60, size: 8, seed: 5 });
  let targets: AttackTarget[];
  beforeAll(() => {
    const seed = freshSeed('attack runner weights');
    targets = [resnet('fa', seed, 'fa-net'), resnet('bp', seed + 1, 'bp-net')];
  });

  it('attacks a fixed subset chosen by seed, the same for every model; --n beyond the test set is an error', () => {
    const a = attackedImages(test, 12, 3), b = attackedImages(test, 12, 3), c = attackedImages(test, 12, 4);
    expect(Array.from(a.images)).toEqual(Array.from(b.images));
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    expect(Array.from(a.images)).not.toEqual(Array.from(c.images));
    expect(() => attackedImages(test, 61, 3)).toThrow(/--n 61 is larger than the test set \(.*: 60 images\)/);
  });

  it('the loader yields raw images in [0, 1] with normalize: false (byte / 255, no mean or std)', async () => {
    const [batch] = new BatchLoader(test, { batchSize: 7, normalize: false }).epoch(0);
    const got = (await batch.x.data()) as Float32Array;
    const want = Array.from(test.images.subarray(0, 7 * 3 * 8 * 8), (b) => b / 255);
    expect(got.length).toBe(want.length);
    // WGSL's division may be off by an ulp or two on a GPU.
    expect(Math.max(...want.map((w, i) => Math.abs(got[i] - w)))).toBeLessThan(1e-6);
    batch.x.release();
    batch.y.release();
  });

  it('reports clean accuracy on exactly the attacked images, robust <= clean, success rate, norms within eps, queries; batch size does not change the figures', async () => {
    const images = attackedImages(test, 9, 7);
    const eps = [3 / 255, 8 / 255];
    const settings = [setting(sign), setting(noise), setting(transfer, targets[0])];
    const seen: AttackRecord[] = [];
    let last = [0, 0];
    const run = (batch: number) => runAttacks({
      targets, images, settings, eps, gradients: ['rule', 'exact'], batch, seed: 11,
      onRecord: (r) => seen.push(r), progress: (done, total) => (last = [done, total]),
    });
    const records = await run(5);
    // sign and transfer: 2 eps x 2 gradients x 2 models; noise (black box): 2 eps x 2 models.
    expect(records.length).toBe(8 + 4 + 8);
    expect(seen).toEqual(records);
    expect(last[0]).toBe(last[1]);
    const clean = await Promise.all(targets.map((t) => cleanAccuracy(t, images)));
    for (const r of records) {
      const m = targets.findIndex((t) => t.name === r.model);
      expect(r.images).toBe(9);
      expect(r.cleanAccuracy).toBeCloseTo(clean[m], 10);
      expect(r.robustAccuracy).toBeLessThanOrEqual(r.cleanAccuracy);
      expect(r.robustAccuracy).toBeLessThanOrEqual(r.advAccuracy);
      if (r.cleanAccuracy > 0) expect(r.successRate).toBeCloseTo((r.cleanAccuracy - r.robustAccuracy) / r.cleanAccuracy, 10);
      expect(r.meanLinf).toBeGreaterThan(0);
      expect(r.meanLinf).toBeLessThanOrEqual(r.eps! + 1e-6);
      expect(r.meanL2).toBeLessThanOrEqual(Math.sqrt(3 * 8 * 8) * r.eps! + 1e-6);
      expect(r.eps255).toBeCloseTo(r.eps! * 255, 6);
    }
    const noiseRecords = records.filter((r) => r.attack === 'test-noise');
    expect(noiseRecords.every((r) => r.gradient === null && r.queries === 3)).toBe(true);
    expect(records.filter((r) => r.attack === 'test-sign').every((r) => r.queries === null && r.gradient !== null)).toBe(true);
    // A sign step moves (almost) every pixel by eps: the Linf norm is eps.
    for (const r of records.filter((r) => r.attack === 'test-sign')) expect(r.meanLinf).toBeCloseTo(r.eps!, 6);
    // Transfer crafted on fa-net: on fa-net itself it is the white-box attack.
    for (const r of records.filter((r) => r.attack === 'test-transfer')) {
      expect(r.source).toBe('fa-net');
      if (r.model === 'fa-net') {
        const own = records.find((o) => o.attack === 'test-sign' && o.model === 'fa-net' && o.eps === r.eps && o.gradient === r.gradient)!;
        expect(r.robustAccuracy).toBe(own.robustAccuracy);
      }
    }
    // Another batch size gives the same deterministic figures.
    const whole = await run(9);
    records.forEach((r, i) => {
      expect(whole[i].cleanAccuracy).toBe(r.cleanAccuracy);
      // Batch statistics do not enter (eval mode); only a gradient element at float noise could flip its sign.
      if (r.attack !== 'test-noise') expect(Math.abs(whole[i].robustAccuracy - r.robustAccuracy)).toBeLessThanOrEqual(1 / 9 + 1e-9);
    });
  });

  it('throws when an attack leaves the eps ball or [0, 1], writes into its input, or returns the wrong shape', async () => {
    const images = attackedImages(test, 6, 1);
    const go = (a: Attack) => runAttacks({ targets: [targets[0]], images, settings: [setting(a)], eps: [8 / 255], gradients: ['exact'], batch: 4, seed: 0 });
    await expect(go(overshoot)).rejects.toThrow(/attack invariant broken: TEST-OVERSHOOT eps 8\/255 \(exact gradient\) on fa-net: image \d+ moved .* beyond eps/);
    await expect(go(outOfRange)).rejects.toThrow(/attack invariant broken: .*TEST-OUT-OF-RANGE.*outside \[0, 1\]/);
    await expect(go(inPlace)).rejects.toThrow(/attack invariant broken: .*TEST-IN-PLACE.* changed its input images/);
    await expect(go(wrongShape)).rejects.toThrow(/returned images of shape \[3\] for inputs \[4, 3, 8, 8\]/);
    await expect(runAttacks({ targets, images, settings: [setting(transfer)], eps: [8 / 255], gradients: ['exact'], batch: 4, seed: 0 }))
      .rejects.toThrow(/a transfer attack needs a source model/);
  });
});

describe('results folder', () => {
  const rec = (o: Partial<AttackRecord>): AttackRecord => ({
    attack: 'pgd', title: 'PGD', label: 'PGD-10', settings: 'steps 10', options: { steps: 10 }, kind: 'white-box', eps: 8 / 255, eps255: 8,
    gradient: 'exact', model: 'runs/fa', source: null, images: 100, cleanAccuracy: 0.9, robustAccuracy: 0.1, advAccuracy: 0.12,
    successRate: 0.8 / 0.9, meanLinf: 8 / 255, meanL2: 1.2, meanPixels: 1024, queries: null, seconds: 3, ...o,
  });

  it('table.md has a column per model and both gradient sources side by side; results.jsonl one record per line', () => {
    const records = [
      rec({ gradient: 'rule', robustAccuracy: 0.124 }), rec({ gradient: 'exact', robustAccuracy: 0.031 }),
      rec({ model: 'runs/bp', gradient: 'rule', robustAccuracy: 0.05 }), rec({ model: 'runs/bp', gradient: 'exact', robustAccuracy: 0.05 }),
      rec({ attack: 'square', title: 'Square', label: 'Square', kind: 'black-box', gradient: null, queries: 812.5, settings: 'queries 5000' }),
    ];
    const md = markdownTable(records, { dataset: 'cifar10-test', images: 100, seed: 0 });
    expect(md).toContain('| attack | eps | settings | runs/fa | runs/bp |');
    expect(md).toContain('| clean | - | - | 90.0 % | 90.0 % |');
    expect(md).toContain('| PGD-10 | 8/255 | steps 10 | 12.4 % (rule) / 3.1 % (exact) | 5.0 % (rule) / 5.0 % (exact) |');
    expect(md).toContain('| Square | 8/255 | queries 5000 | 10.0 % | - |');
    expect(md).toMatch(/\| Square \| 8\/255 \| - \| runs\/fa \| 90\.0 % \| 10\.0 % \| 12\.0 % \| 88\.9 % \| 8\.00 \| 1\.200 \| 1024\.0 \| 812\.5 \| 3\.0 \|/);
    expect(jsonLines(records).trim().split('\n').map((l) => JSON.parse(l))).toEqual(records);
  });

  it('draws robust accuracy against eps for every attack run at several eps (one line per model and gradient), none for a single eps', () => {
    const sweep = [2, 4, 8].flatMap((e) => (['rule', 'exact'] as const).map((g) => rec({ eps: e / 255, eps255: e, gradient: g, robustAccuracy: 1 / e })));
    const charts = epsCharts([...sweep, rec({ label: 'FGSM', attack: 'fgsm' })]);
    expect(Object.keys(charts)).toEqual(['robust-vs-eps-pgd-10.svg']);
    const svg = charts['robust-vs-eps-pgd-10.svg'];
    expect(svg).toContain('runs/fa (rule)');
    expect(svg).toContain('runs/fa (exact)');
    expect(svg.match(/<polyline/g)!.length).toBe(2);
  });
});

describe('Table 4 suite', () => {
  it('names the rows whose attack is not registered, and builds every row by name once all are', () => {
    expect(() => suiteSettings()).toThrow(/--attack suite: the Table 4 row\(s\) fgsm, pgd, tpgd, apgd, onepixel, square, transfer need attacks that are not registered/);
    // Stand-ins that declare the options the rows set (the real attacks are tested in their own files).
    for (const row of TABLE4_ROWS) {
      const flags: FlagTable = {};
      for (const [k, v] of Object.entries(row.options)) flags[k] = { type: typeof v === 'boolean' ? 'bool' : typeof v === 'number' ? 'int' : 'string', default: typeof v === 'number' ? 1 : typeof v === 'boolean' ? false : 'x', help: k };
      if (row.attack === 'transfer') flags.source = { type: 'string', default: '', help: 'source name' };
      registerAttack({
        name: row.attack, title: row.label, help: '', kind: row.attack === 'transfer' ? 'transfer' : row.attack === 'square' || row.attack === 'onepixel' ? 'black-box' : 'white-box',
        flags, describe: (o) => JSON.stringify(o), run: () => { throw new Error('not run'); },
      });
    }
    // Without a source the Transfer row is left out; naming the transfer attack without one is an error.
    expect(suiteSettings().map((r) => r.label)).toEqual(['FGSM', 'PGD-10', 'TPGD-7', 'APGD-50', 'One-Pixel', 'Square']);
    expect(() => attackSetting('transfer', {})).toThrow(/a transfer attack needs a source model \(--source CKPT/);
    const source = { name: 'runs/bp' } as AttackTarget;
    const rows = suiteSettings(source);
    expect(rows.map((r) => r.label)).toEqual(['FGSM', 'PGD-10', 'TPGD-7', 'APGD-50', 'One-Pixel', 'Square', 'Transfer from runs/bp']);
    expect(rows.map((r) => r.options)).toEqual([{}, { 'pgd-steps': 10, 'pgd-random-start': true }, { 'tpgd-steps': 7 }, { 'apgd-steps': 50, 'apgd-restarts': 1 }, { preset: 'paper' }, {}, { source: 'runs/bp' }]);
    expect(rows.find((r) => r.attack.name === 'onepixel')!.l0).toBe(true);
    expect(rows.find((r) => r.attack.kind === 'transfer')!.source).toBe(source);
    expect(() => attackSetting('nosuch', {})).toThrow(/unknown attack 'nosuch'; known: .*fgsm.*, suite/);
    expect(() => attackSetting('pgd', { restarts: 2 })).toThrow(/attack pgd: unknown option\(s\) restarts; it takes: pgd-steps, pgd-random-start/);
  });
});

// ---- the command line: the built bundle (npm test builds dist/ first; alone: node build.mjs) ------

const CLI = 'dist/bionas.mjs';
const cli = (args: string[]) => {
  const r = spawnSync('node', [CLI, ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
  return { code: r.status, out: r.stdout + r.stderr };
};

describe('bionas attack: bad input gives clear errors', () => {
  let synthetic: string, cifar100: string, small: string;
  beforeAll(async () => {
    const root = mkdtempSync(join(tmpdir(), 'bionas-attack-cli-'));
    synthetic = await writeResnetCheckpoint(join(root, 'syn'), { dataset: 'synthetic', numClasses: 10, imageSize: 8 });
    cifar100 = await writeResnetCheckpoint(join(root, 'c100'), { dataset: 'cifar100', numClasses: 100 });
    small = await writeResnetCheckpoint(join(root, 'small'), { dataset: 'synthetic', numClasses: 10, imageSize: 16 });
  });
  const base = () => ['attack', '--checkpoint', synthetic, '--dataset', 'synthetic', '--synthetic-size', '64', '--image-size', '8'];

  it('names the flag, the value and what would be right', () => {
    const unknown = cli([...base(), '--attack', 'nosuch', '--n', '8']);
    expect(unknown.code, unknown.out).toBe(2);
    expect(unknown.out).toMatch(/bionas attack: --attack: unknown attack 'nosuch'; known: .*suite/);
    for (const eps of ['0', '300']) {
      const r = cli([...base(), '--eps', eps]);
      expect(r.code, r.out).toBe(2);
      expect(r.out).toContain(`bionas attack: --eps is in /255 and must be in (0, 255], got ${eps}`);
    }
    // 64 training images give 16 test images.
    const n = cli([...base(), '--n', '17']);
    expect(n.code, n.out).toBe(2);
    expect(n.out).toMatch(/--n 17 is larger than the test set \(synthetic.*: 16 images\)/);
    const other = cli(['attack', '--checkpoint', cifar100, '--dataset', 'cifar10', '--data', '/nonexistent']);
    expect(other.code, other.out).toBe(2);
    expect(other.out).toContain(`${cifar100} was trained on cifar100 (100 classes), --dataset cifar10 has 10; pass --dataset cifar100`);
    const mixed = cli([...base(), '--checkpoint', cifar100]);
    expect(mixed.code, mixed.out).toBe(2);
    expect(mixed.out).toMatch(/was trained on synthetic, .* on cifar100: models of one table must share a data set/);
    const size = cli([...base(), '--checkpoint', small]);
    expect(size.out).toMatch(/was trained on 16x16 images, --image-size is 8; pass --image-size 16/);
    expect(cli(['attack', '--eps', '8']).out).toMatch(/--checkpoint RUN\/checkpoint\.bin is required/);
    expect(cli([...base(), '--checkpoint', synthetic]).out).toMatch(/a --checkpoint is given twice/);
  });
});

describe('bionas attack end to end', () => {
  it('offers every built-in attack', () => {
    const help = cli(['attack', '--help']).out;
    for (const name of ['fgsm', 'pgd', 'tpgd', 'apgd', 'square', 'onepixel', 'transfer']) expect(help).toMatch(new RegExp(`Attacks: .*\\b${name}\\b`));
  });

  it('two models, an eps sweep, both gradient sources: results.jsonl, table.md with a column per model, the FGSM SVG; transfer needs a source', async () => {
    const root = mkdtempSync(join(tmpdir(), 'bionas-attack-e2e-'));
    const a = await writeResnetCheckpoint(join(root, 'fa'), { dataset: 'synthetic', numClasses: 10, rule: 'fa', imageSize: 8 });
    const b = await writeResnetCheckpoint(join(root, 'bp'), { dataset: 'synthetic', numClasses: 10, rule: 'bp', imageSize: 8, seed: 2 });
    const data = ['--dataset', 'synthetic', '--synthetic-size', '64', '--image-size', '8'];
    const out = join(root, 'out');
    const r = cli(['attack', '--checkpoint', a, '--checkpoint', b, ...data, '--attack', 'fgsm', '--eps', '4,8', '--gradient', 'both', '--n', '6', '--batch', '4', '--run', out]);
    expect(r.code, r.out).toBe(0);
    const lines = readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as AttackRecord);
    expect(lines.length).toBe(2 * 2 * 2);
    for (const rec of lines) {
      expect(rec.robustAccuracy).toBeLessThanOrEqual(rec.cleanAccuracy);
      expect(rec.meanLinf).toBeLessThanOrEqual(rec.eps! + 1e-6);
    }
    const md = readFileSync(join(out, 'table.md'), 'utf8');
    expect(md).toContain(`| attack | eps | settings | ${join(root, 'fa')} | ${join(root, 'bp')} |`);
    expect(md).toMatch(/\| FGSM \| 8\/255 \| .* \| [\d.]+ % \(rule\) \/ [\d.]+ % \(exact\) \|/);
    expect(readdirSync(out).sort()).toEqual(['results.jsonl', 'robust-vs-eps-fgsm.svg', 'summary.json', 'table.md']);
    const noSource = cli(['attack', '--checkpoint', a, ...data, '--attack', 'transfer', '--n', '4']);
    expect(noSource.code, noSource.out).toBe(2);
    expect(noSource.out).toMatch(/a transfer attack needs a source model \(--source CKPT, or several --checkpoint: the first is the source\)/);
    const notFgsm = cli(['attack', '--checkpoint', a, ...data, '--attack', 'fgsm', '--pgd-steps', '3', '--n', '4']);
    expect(notFgsm.out).toMatch(/--pgd-steps is a flag of --attack pgd, not of --attack fgsm/);
  });
});
