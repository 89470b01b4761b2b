// The robustness recipe: its jobs at both scales (train jobs shared with single-vs-mixed, one
// attack job per seed whose flags the attack command accepts), its report on hand-made attack
// records, and a tiny run end to end (two 1-epoch trainings and the attack on synthetic data)
// through the built CLI (node build.mjs first).

import { describe, it, expect } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECIPES, SCALES, type RecipeOptions, type JobResult } from '../src/experiment/recipe.js';
import { jobArgv, checkJobs, jobStatus, type ExperimentJob } from '../src/experiment/job.js';
import { runExperiment, collectResults } from '../src/experiment/experiment.js';
import { runJobs } from '../src/experiment/runner.js';
import { parseFlags } from '../src/cli/flags.js';
import { TRAIN_FLAGS } from '../src/cli/train.js';
import { attackFlags, splitCheckpoints } from '../src/cli/attack.js';
import { ruleKind, PROXY_EPS_255, PROXY_SQUARE_QUERIES, PROXY_APGD_STEPS } from '../src/experiment/recipes/robustness.js';
import { GENOTYPE_PRESETS } from '../src/models/genotype.js';
import type { AttackRecord } from '../src/attack/run.js';
import { writeResnetCheckpoint } from './train_checkpoint.js';
import { readCheckpointMeta, loadCheckpoint } from '../src/run/checkpoint.js';
import { saveTensors } from '../src/run/state.js';
import { Tensor } from '../src/tensor.js';
import { useGpu } from './util.js';
import { spawnSync } from 'node:child_process';
import '../src/experiment/recipes/index.js';

const BIN = 'dist/bionas.mjs';
const robustness = RECIPES.get('robustness');
const o = (scale: 'proxy' | 'paper', extra: Partial<RecipeOptions> = {}): RecipeOptions => ({ scale, seeds: 2, genotype: 'biodarts', dataset: 'cifar10', data: '/data/cifar10', ...extra });

describe('robustness jobs', () => {
  const { table: attackTable, routes } = attackFlags();

  it('per seed: the single-vs-mixed trainings, then one attack over their checkpoints; every job parses with its command\'s flags', () => {
    for (const scale of SCALES) {
      const jobs = robustness.jobs(o(scale));
      checkJobs(jobs, 'robustness');
      const variants = ['mixed', 'bp', 'usf', 'frsf', 'brsf', 'fa'];
      expect(jobs.map((j) => j.id)).toEqual([0, 1].flatMap((s) => [...variants.map((v) => `${v}-s${s}`), `attack-s${s}`]));
      // The very same train jobs as single-vs-mixed: one experiment's runs serve the other.
      expect(jobs.filter((j) => j.command === 'train')).toEqual(RECIPES.get('single-vs-mixed').jobs(o(scale)));
      for (const j of jobs) {
        const flags = parseFlags(jobArgv(j.args), j.command === 'train' ? TRAIN_FLAGS : attackTable, j.command);
        expect(flags.seed, j.id).toBe(Number(j.id.slice(-1)));
      }
      const attack = jobs.find((j) => j.id === 'attack-s1')!;
      expect(attack).toMatchObject({ command: 'attack', run: 'runs/attack-s1' });
      // Every checkpoint of the seed, as the attack command splits the job's list; the transfer crafts on BP.
      const { checkpoints, rest } = splitCheckpoints(jobArgv(attack.args));
      expect(checkpoints).toEqual(variants.map((v) => `runs/${v}-s1/checkpoint.bin`));
      expect(attack.args).toMatchObject({ source: 'runs/bp-s1/checkpoint.bin', gradient: 'both', dataset: 'cifar10', data: '/data/cifar10' });
      expect(attack.args['train-size']).toBeUndefined();
      const f = parseFlags(rest, attackTable, 'attack');
      if (scale === 'proxy') {
        expect(f).toMatchObject({ n: 100, eps: [PROXY_EPS_255], queries: PROXY_SQUARE_QUERIES, 'apgd-steps': PROXY_APGD_STEPS, 'test-size': 1000 });
        expect((f.attack as string).split(',')).toEqual(['fgsm', 'pgd', 'tpgd', 'apgd', 'onepixel', 'square', 'transfer']);
      } else {
        expect(f).toMatchObject({ n: 1000, eps: [8], attack: 'suite' });
        // The suite refuses an attack's own flag: the paper-scale job passes none.
        expect(Object.keys(attack.args).filter((k) => routes.has(k))).toEqual([]);
      }
    }
  });

  it('with --checkpoint: no training, one attack job per seed over the given networks; --n overrides the images', () => {
    const jobs = robustness.jobs(o('proxy', { checkpoints: ['/a/bp/checkpoint.bin', '/b/fa/checkpoint.bin'], n: 16 }));
    expect(jobs.map((j) => [j.id, j.command])).toEqual([['attack-s0', 'attack'], ['attack-s1', 'attack']]);
    expect(splitCheckpoints(jobArgv(jobs[0].args)).checkpoints).toEqual(['/a/bp/checkpoint.bin', '/b/fa/checkpoint.bin']);
    expect(jobs[1].args).toMatchObject({ n: 16, seed: 1 });
    expect(jobs[0].args.source).toBeUndefined();
    expect(robustness.takesCheckpoints).toBe(true);
  });

  it('tells mixed from single-rule networks by their description', () => {
    expect(ruleKind({ model: 'resnet20', rule: 'fa' })).toEqual({ mixed: false, rule: 'fa' });
    expect(ruleKind({ model: 'genotype', rule: 'bp', rules: 'single:usf', genotype: {} })).toEqual({ mixed: false, rule: 'usf' });
    expect(ruleKind({ model: 'genotype', rule: 'bp', rules: 'as-found', genotype: GENOTYPE_PRESETS.biodarts }).mixed).toBe(true);
    // Pools and skips carry no rule: one rule on every conv is a single-rule network.
    const g = { normal: [{ op: 'sep_conv_3x3', rule: 'frsf', input: 0 }, { op: 'max_pool_3x3', rule: 'bp', input: 1 }, { op: 'skip_connect', rule: 'usf', input: 0 }], reduce: [] };
    expect(ruleKind({ model: 'genotype', rule: 'bp', genotype: g })).toEqual({ mixed: false, rule: 'frsf' });
  });
});

/** A record as src/attack/run.ts writes it (the figures the report reads, the rest plausible). */
function record(o: { attack: string; label: string; kind: AttackRecord['kind']; gradient: 'rule' | 'exact' | null; model: string; clean: number; robust: number; source?: string; eps255?: number | null }): AttackRecord {
  const eps255 = o.eps255 === undefined ? 2 : o.eps255;
  return {
    attack: o.attack, title: o.label.split(/-| from /)[0], label: o.label, settings: `${o.attack} settings`, options: {}, kind: o.kind, eps: eps255 === null ? null : eps255 / 255, eps255,
    gradient: o.gradient, model: o.model, source: o.source ?? null, images: 100, cleanAccuracy: o.clean, robustAccuracy: o.robust, advAccuracy: o.robust,
    successRate: (o.clean - o.robust) / o.clean, meanLinf: 2 / 255, meanL2: 0.1, meanPixels: 3000, queries: o.kind === 'black-box' ? 20 : null, seconds: 1,
  };
}

describe('robustness report', () => {
  // Hand-made results of seeds 0 and 1 for mixed, bp and fa (the other variants not run).
  const clean: Record<string, number> = { mixed: 0.6, bp: 0.62, fa: 0.4 };
  // Exact-gradient robust accuracy: mixed clearly above both single rules on FGSM, below BP on Square.
  const exact: Record<string, number> = { mixed: 0.3, bp: 0.1, fa: 0.05 };
  const rule: Record<string, number> = { mixed: 0.31, bp: 0.1, fa: 0.35 };
  const square: Record<string, number> = { mixed: 0.2, bp: 0.4, fa: 0.3 };
  const jitter = (seed: number) => (seed === 0 ? -0.005 : 0.005);

  function handMade(out: string, opts: RecipeOptions, unfinished = false): JobResult[] {
    const jobs = robustness.jobs(opts);
    return jobs.map((job) => {
      const dir = join(out, job.run);
      const seed = Number(job.args.seed);
      const variant = job.id.replace(/-s\d$/, '');
      if (job.command === 'train') {
        const done = ['mixed', 'bp', 'fa'].includes(variant);
        return { job, status: done ? 'finished' : 'not started', summary: done ? { test: { acc: clean[variant] } } : null, dir, seconds: null };
      }
      const models = ['mixed', 'bp', 'fa'];
      const name = (v: string) => `runs/${v}-s${seed}`;
      const records = models.flatMap((v) => [
        record({ attack: 'fgsm', label: 'FGSM', kind: 'white-box', gradient: 'rule', model: name(v), clean: clean[v], robust: rule[v] + jitter(seed) }),
        record({ attack: 'fgsm', label: 'FGSM', kind: 'white-box', gradient: 'exact', model: name(v), clean: clean[v], robust: exact[v] + jitter(seed) }),
        record({ attack: 'square', label: 'Square', kind: 'black-box', gradient: null, model: name(v), clean: clean[v], robust: square[v] + jitter(seed) }),
        record({ attack: 'transfer', label: `Transfer from ${name('bp')}`, kind: 'transfer', gradient: 'exact', model: name(v), clean: clean[v], robust: (v === 'bp' ? 0.05 : 0.45) + jitter(seed), source: name('bp') }),
      ]);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'results.jsonl'), records.map((r) => JSON.stringify(r) + '\n').join(''));
      const describe = (v: string) => ({ model: 'genotype', rule: 'bp', rules: v === 'mixed' ? 'as-found' : `single:${v}`, genotype: GENOTYPE_PRESETS.biodarts });
      // The job lists all six checkpoints; only three were attacked here, so the hand-made job names those.
      job.args.checkpoint = models.map((v) => `${name(v)}/checkpoint.bin`).join(',');
      const summary = { images: 100, seed, models: models.map((v) => ({ name: name(v), checkpoint: `${name(v)}/checkpoint.bin`, describe: describe(v), epoch: unfinished && v === 'fa' && seed === 1 ? 2 : 3, epochs: 3 })), seconds: 9 };
      return { job, status: 'finished', summary, dir, seconds: null };
    });
  }

  it('tables clean and robust accuracy with rule and exact side by side, and decides both claims per attack', async () => {
    const out = mkdtempSync(join(tmpdir(), 'bionas-robust-report-'));
    const opts = o('proxy');
    const rep = await robustness.report(handMade(out, opts), opts);
    const md = rep.markdown;
    expect(md).toMatch(/\| mixed \| mixed \(as-found\) \| 60\.00 ± 0\.00 \(n=2\) \| — \|/);
    expect(md).toMatch(/\| fa \| single: fa \| 40\.00 ± 0\.00 \(n=2\) \| 65\.8 \|/);
    // FA: the rule's gradient leaves 35 %, the exact one 5 %: a 30-point masking gap.
    expect(md).toMatch(/\| FGSM \| 2\/255 \| fgsm settings \| fa \| 40\.0 ± 0\.0 \(n=2\) \| 35\.0 ± 0\.7 \(n=2\) \| 5\.0 ± 0\.7 \(n=2\) \| 30\.0 ± 0\.0 \(n=2\) \|/);
    expect(md).toMatch(/\| Square \| 2\/255 \| square settings \| bp \| 62\.0 ± 0\.0 \(n=2\) \| — \(black box\) \| 40\.0 ± 0\.7 \(n=2\) \| — \|/);
    // The transfer row is named by the source's variant; BP (the source) is left out of its comparison.
    expect(md).toContain('| Transfer from bp | 2/255 |');
    expect(md).toMatch(/mixed rules resist attacks better than single rules: FGSM 2\/255, exact gradient: \*\*holds\*\*/);
    expect(md).toMatch(/mixed rules resist attacks better than single rules: Square 2\/255: \*\*does not hold\*\* \(robust accuracy %: mixed 20\.0 ± 0\.7 \(n=2\) vs bp 40\.0 ± 0\.7 \(n=2\): does not hold; mixed 20\.0 ± 0\.7 \(n=2\) vs fa 30\.0 ± 0\.7 \(n=2\): does not hold\)/);
    expect(md).toMatch(/Transfer from bp 2\/255, exact gradient: \*\*inconclusive at this scale\*\* \(robust accuracy %: mixed 45\.0 ± 0\.7 \(n=2\) vs fa 45\.0 ± 0\.7 \(n=2\): inconclusive at this scale\)/);
    expect(md).toMatch(/on every attack: \*\*does not hold\*\*/);
    expect(md).toMatch(/FA's rule gradient masks the attack: FGSM 2\/255 on fa: \*\*holds\*\*/);
    // Masking is a white-box question: no line for Square or Transfer.
    expect(md).not.toMatch(/masks the attack: (Square|Transfer)/);
    expect(md).toContain('Square 50 queries instead of 5000');
    expect(md).toContain('Jobs finished: 8 of 14');
    expect(Object.keys(rep.svgs)).toEqual(['clean.svg', 'robust_1_fgsm.svg', 'robust_2_square.svg', 'robust_3_transfer.svg']);
    expect(rep.svgs['robust_1_fgsm.svg']).toContain('fa rule');
    const json = rep.json as { rows: { key: string; cells: { group: string; gap: { mean: number }; values: unknown[] }[] }[]; verdicts: unknown[] };
    expect(json.rows.map((r) => r.key)).toEqual(['fgsm@2', 'square@2', 'transfer@2']);
    expect(json.rows[0].cells.find((c) => c.group === 'fa')!.gap.mean).toBeCloseTo(30, 10);
    const round = (v: Record<string, number>) => Object.fromEntries(Object.entries(v).map(([k, x]) => [k, Math.round(x * 1e6) / 1e6]));
    expect((json.rows[0].cells[0].values as Record<string, number>[]).map(round)).toEqual([{ seed: 0, clean: 60, rule: 30.5, exact: 29.5 }, { seed: 1, clean: 60, rule: 31.5, exact: 30.5 }]);
  });

  it('leaves out an attack folder of other checkpoints, images or seed than its job asks (a changed job list, an old --out)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'bionas-robust-report-'));
    const opts = o('proxy');
    const results = handMade(out, opts);
    const s1 = results.find((r) => r.job.id === 'attack-s1')!;
    s1.job.args.checkpoint += ',runs/usf-s1/checkpoint.bin';
    (s1.summary as { images: number }).images = 50;
    const rep = await robustness.report(results, opts);
    expect(rep.markdown).toContain('`attack-s1` left out: its folder holds another attack (it attacked runs/mixed-s1/checkpoint.bin, runs/bp-s1/checkpoint.bin, runs/fa-s1/checkpoint.bin, the job asks for runs/mixed-s1/checkpoint.bin, runs/bp-s1/checkpoint.bin, runs/fa-s1/checkpoint.bin, runs/usf-s1/checkpoint.bin; 50 images, the job asks for 100)');
    expect(rep.markdown).toMatch(/\| mixed \| mixed \(as-found\) \| 60\.00 ± 0\.00 \(n=1\) \|/);
  });

  it('leaves out an attack of an unfinished training, and with one seed every verdict is inconclusive', async () => {
    const out = mkdtempSync(join(tmpdir(), 'bionas-robust-report-'));
    const opts = o('proxy');
    const rep = await robustness.report(handMade(out, opts, true), opts);
    expect(rep.markdown).toContain('`attack-s1` left out: it attacked runs/fa-s1 after 2 of 3 epochs');
    expect(rep.markdown).toMatch(/\| mixed \| mixed \(as-found\) \| 60\.00 ± 0\.00 \(n=1\) \|/);
    expect(rep.markdown).toMatch(/FGSM 2\/255, exact gradient: \*\*inconclusive at this scale\*\*/);
    expect(rep.markdown).not.toMatch(/\*\*holds\*\*|\*\*does not hold\*\*/);
  });

  it('given checkpoints without a mixed network: the resist claim is named as untested, FA\'s masking still is', async () => {
    const out = mkdtempSync(join(tmpdir(), 'bionas-robust-given-'));
    const opts = o('proxy', { checkpoints: ['/w/runs/resnet20-bp/checkpoint.bin', '/w/runs/resnet20-fa/checkpoint.bin'] });
    const results: JobResult[] = robustness.jobs(opts).map((job) => {
      const dir = join(out, job.run), seed = Number(job.args.seed);
      mkdirSync(dir, { recursive: true });
      const name = (r: string) => `/w/runs/resnet20-${r}`;
      writeFileSync(join(dir, 'results.jsonl'), ['bp', 'fa'].flatMap((r) => (['rule', 'exact'] as const).map((g) => JSON.stringify(record({ attack: 'pgd', label: 'PGD', kind: 'white-box', gradient: g, model: name(r), clean: 0.6, robust: (r === 'fa' && g === 'rule' ? 0.3 : 0.02) + seed * 0.2 })) + '\n')).join(''));
      return { job, status: 'finished', dir, summary: { models: ['bp', 'fa'].map((r) => ({ name: name(r), checkpoint: `${name(r)}/checkpoint.bin`, describe: { model: 'resnet20', rule: r }, epoch: 4, epochs: 4 })) }, seconds: null };
    });
    const rep = await robustness.report(results, opts);
    expect(rep.markdown).toContain('"mixed rules resist attacks better than single rules" is not tested: the attacked networks include no mixed-rule network');
    // The seeds' image sets move rule and exact together (30/50 % vs 2/22 %): unpaired the means would be within 2 se;
    // the per-seed gap, 28 points both times, is what is tested.
    expect(rep.markdown).toMatch(/FA's rule gradient masks the attack: PGD 2\/255 on resnet20-fa: \*\*holds\*\* \(robust accuracy rule 40\.0 ± 14\.1 \(n=2\) vs exact 12\.0 ± 14\.1 \(n=2\) %; rule - exact per seed 28\.0 ± 0\.0 \(n=2\)\)/);
    expect(rep.markdown).toContain('mean ± std is over attack seeds');
    expect(rep.markdown).toMatch(/\| resnet20-bp \| single: bp \| 60\.00 ± 0\.00 \(n=2\) \| 92 \|/);
  });
});

describe('bionas attack for experiments', () => {
  useGpu();

  it('splits comma-separated --checkpoint lists; a file whose name holds a comma stays whole', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bionas-robust-split-'));
    const odd = join(dir, 'a,b.bin');
    writeFileSync(odd, '');
    expect(splitCheckpoints(['--checkpoint=x/1.bin,y/2.bin', '--checkpoint', 'z.bin', '--n', '3'])).toEqual({ checkpoints: ['x/1.bin', 'y/2.bin', 'z.bin'], rest: ['--n', '3'] });
    expect(splitCheckpoints([`--checkpoint=${odd}`]).checkpoints).toEqual([odd]);
    expect(() => splitCheckpoints(['--checkpoint=x.bin,'], 'experiment')).toThrow(/bionas experiment: --checkpoint 'x.bin,' has an empty entry/);
  });

  it('removes an old summary.json when it starts, so a run that then fails leaves none (the experiment reruns it)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bionas-robust-stale-'));
    // A checkpoint whose weights hold NaN: refused after the results folder is opened.
    const good = await writeResnetCheckpoint(join(dir, 'good'), { dataset: 'synthetic', numClasses: 10, imageSize: 8 });
    const { saved } = await loadCheckpoint(good);
    const tensors = [...saved.tensors].map(([name, t]) => [name, Tensor.fromData(Float32Array.from(t.data as Float32Array, (v, i) => (i === 0 ? NaN : v)), t.shape)] as [string, Tensor]);
    mkdirSync(join(dir, 'nan'));
    // (saveTensors without the finite check that writeCheckpoint makes.)
    await saveTensors(join(dir, 'nan/checkpoint.bin'), tensors, { ...(await readCheckpointMeta(good)) });
    for (const [, t] of tensors) t.release();
    const run = join(dir, 'results');
    mkdirSync(run);
    writeFileSync(join(run, 'summary.json'), '{}');
    const r = spawnSync('node', [BIN, 'attack', `--checkpoint=${join(dir, 'nan/checkpoint.bin')}`, '--dataset', 'synthetic', '--synthetic-size', '32', '--image-size', '8', '--n', '2', '--attack', 'fgsm', '--run', run], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
    expect(r.status, r.stderr).not.toBe(0);
    expect(r.stderr).toMatch(/hold NaN or Inf/);
    expect(existsSync(join(run, 'summary.json'))).toBe(false);
  }, 60_000);
});

describe('bionas experiment robustness on the command line', () => {
  const cli = (args: string[]) => spawnSync('node', [BIN, 'experiment', ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' } });

  it('is listed; --checkpoint is refused by a recipe that trains its own networks, and must name existing files', () => {
    expect(cli(['--list']).stdout).toMatch(/robustness +the attack suite \(Table 4\)/);
    const other = cli(['baselines', '--checkpoint', BIN, '--dataset', 'synthetic']);
    expect(other.status).toBe(2);
    expect(other.stderr).toMatch(/--checkpoint is for recipes that attack given networks \(robustness\); baselines trains its own/);
    const missing = cli(['robustness', '--checkpoint', 'nowhere/checkpoint.bin', '--dataset', 'synthetic']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--checkpoint nowhere\/checkpoint\.bin: no such file/);
  });
});

describe('robustness end to end', () => {
  it('trains two tiny networks, attacks both (summary.json last), reports; a rerun skips all, a lost summary.json reruns the attack', async () => {
    const out = mkdtempSync(join(tmpdir(), 'bionas-robust-e2e-'));
    const opts: RecipeOptions = { scale: 'proxy', seeds: 1, genotype: 'biodarts', dataset: 'synthetic', epochs: 1, n: 4 };
    const keep = ['mixed-s0', 'fa-s0', 'attack-s0'];
    const tiny = { 'synthetic-size': 32, 'image-size': 8 };
    // Tiny networks and data; of the variants only mixed and FA; every attack of the list with 2 iterations and 10 Square queries.
    const small = {
      ...robustness,
      jobs: (x: RecipeOptions): ExperimentJob[] => robustness.jobs(x).filter((j) => keep.includes(j.id)).map((j) => {
        if (j.command === 'train') return { ...j, args: { ...j.args, C: 4, layers: 3, batch: 16, ...tiny } };
        const { source: _source, ...args } = j.args;
        return { ...j, args: { ...args, ...tiny, checkpoint: 'runs/mixed-s0/checkpoint.bin,runs/fa-s0/checkpoint.bin', steps: 2, queries: 10, 'apgd-steps': 2 } };
      }),
    };
    const lines: string[] = [];
    const t0 = Date.now();
    const r = await runExperiment(small, opts, out, { bin: BIN, env: { CI: '1' }, log: (l) => lines.push(l) });
    console.log(`robustness end to end: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(r.outcomes.map((x) => [x.job.id, x.after]), lines.slice(-30).join('\n')).toEqual([['mixed-s0', 'finished'], ['fa-s0', 'finished'], ['attack-s0', 'finished']]);
    const dir = join(out, 'runs/attack-s0');
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
    expect(summary.models.map((m: { name: string; epoch: number; epochs: number }) => [m.name, m.epoch, m.epochs])).toEqual([['runs/mixed-s0', 1, 1], ['runs/fa-s0', 1, 1]]);
    const records = readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as AttackRecord);
    // 4 white-box attacks and the transfer (from mixed, the first) with both gradients, 2 black-box once: on 2 models.
    expect(records).toHaveLength(2 * (5 * 2 + 2));
    expect(summary.records).toBe(records.length);
    const md = readFileSync(join(out, 'report/report.md'), 'utf8');
    expect(md).toMatch(/\| fa \| single: fa \| \d+\.\d\d ± 0\.00 \(n=1\) \| 65\.8 \|/);
    expect(md).toMatch(/\| PGD \| 2\/255 \| steps 2, alpha 2\/255, random start \| fa \| /);
    expect(md).toMatch(/mixed rules resist attacks better than single rules: APGD 2\/255, exact gradient: \*\*inconclusive at this scale\*\*/);
    expect(md).toMatch(/FA's rule gradient masks the attack: TPGD 2\/255 on fa: \*\*inconclusive at this scale\*\*/);
    expect(md).toContain('Transfer from mixed');
    expect(existsSync(join(out, 'report/robust_1_fgsm.svg'))).toBe(true);
    const json = JSON.parse(readFileSync(join(out, 'report/report.json'), 'utf8'));
    expect(json.rows.map((x: { attack: string }) => x.attack)).toEqual(['fgsm', 'pgd', 'tpgd', 'apgd', 'onepixel', 'square', 'transfer']);
    // Everything finished: a rerun runs nothing. A lost summary.json (a killed attack) makes the attack job run again, alone.
    const jobs = small.jobs(opts);
    expect((await runJobs(jobs, { outDir: out, bin: BIN, env: { CI: '1' }, log: () => {} })).outcomes.map((x) => x.code)).toEqual([null, null, null]);
    rmSync(join(dir, 'summary.json'));
    expect(jobStatus(jobs[2], out)).toBe('not started');
    const again = await runJobs(jobs, { outDir: out, bin: BIN, env: { CI: '1' }, log: () => {} });
    expect(again.outcomes.map((x) => [x.before, x.after, x.code])).toEqual([['finished', 'finished', null], ['finished', 'finished', null], ['not started', 'finished', 0]]);
    expect(collectResults(small, opts, out).every((x) => x.status === 'finished')).toBe(true);
  }, 180_000);
});
