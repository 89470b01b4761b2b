import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runJobs } from '../src/experiment/runner.js';
import { jobStatus, jobArgv, jobCommandLine, checkJobs, readJobTime, type ExperimentJob } from '../src/experiment/job.js';
import { stat, betterVerdict, similarVerdict, allVerdicts, fmtStat, diffStandardError, barChart } from '../src/experiment/report.js';
import { RECIPES, SCALES, type RecipeOptions } from '../src/experiment/recipe.js';
import { runExperiment, writeReport, collectResults } from '../src/experiment/experiment.js';
import { parseFlags } from '../src/cli/flags.js';
import { TRAIN_FLAGS } from '../src/cli/train.js';
import { searchFlags } from '../src/cli/search.js';
import '../src/experiment/recipes/index.js';

// The runner starts the built CLI (node build.mjs first).
const BIN = 'dist/bionas.mjs';
const env = { CI: '1' };

/** A tiny genotype-network training on synthetic data: about a second. */
const tinyTrain = (id: string, seed: number, epochs = 1): ExperimentJob => ({
  id, command: 'train', run: `runs/${id}`,
  args: { genotype: 'biodarts', C: 4, layers: 3, dataset: 'synthetic', 'synthetic-size': 32, 'image-size': 8, epochs, batch: 16, seed, alignment: false },
});

const metricLines = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').length;

describe('experiment jobs', () => {
  it('turn into command lines: booleans as --flag / --no-flag, a partial train run resumes, the folder comes from the job', () => {
    expect(jobArgv({ epochs: 3, alignment: false, auxiliary: true, rules: 'single:fa' })).toEqual(['--epochs=3', '--no-alignment', '--auxiliary', '--rules=single:fa']);
    const job = tinyTrain('a', 0);
    expect(jobCommandLine(job, '/x', 'not started').slice(-1)).toEqual(['--run=/x/runs/a']);
    expect(jobCommandLine(job, '/x', 'partial').slice(-1)).toEqual(['--resume=/x/runs/a']);
    // An attack has no checkpoint to resume from: a partial one starts again.
    expect(jobCommandLine({ ...job, command: 'attack' }, '/x', 'partial').slice(-1)).toEqual(['--run=/x/runs/a']);
    expect(() => checkJobs([job, { ...job, run: 'other' }], 'r')).toThrow(/job id 'a' appears twice/);
    expect(() => checkJobs([{ ...job, args: { run: 'x' } }], 'r')).toThrow(/--run comes from the job's run folder/);
    expect(() => checkJobs([job, { ...job, id: 'b' }], 'r')).toThrow(/share the run folder/);
  });
});

describe('experiment runner', () => {
  it('stops on SIGTERM with the running job checkpointed and starts no more; a rerun resumes it and runs the rest; a third run skips all; more epochs extend, other settings are refused', async () => {
    const out = mkdtempSync(join(tmpdir(), 'bionas-exp-stop-'));
    // 6 steps an epoch: the stop lands inside epoch 2, well before the run could end.
    const long = tinyTrain('b-s0', 0, 3);
    const jobs = [{ ...long, args: { ...long.args, 'synthetic-size': 96 } }, tinyTrain('b-s1', 1)];
    let sent = false;
    const log = (l: string) => {
      // After epoch 1's line the child is inside epoch 2, with its stop handler installed.
      if (!sent && /^\[b-s0\] epoch 1\/3/.test(l)) {
        sent = true;
        process.emit('SIGTERM', 'SIGTERM');
      }
    };
    const stopped = await runJobs(jobs, { outDir: out, bin: BIN, env, log });
    expect(sent).toBe(true);
    expect(stopped.stopped).toBe('SIGTERM');
    expect(stopped.outcomes).toHaveLength(1);
    expect(stopped.outcomes[0]).toMatchObject({ after: 'partial', code: 143 });
    expect(jobStatus(jobs[1], out)).toBe('not started');
    // Rerun: the stopped job resumes from its checkpoint, the other starts; all finish.
    const lines: string[] = [];
    const rerun = await runJobs(jobs, { outDir: out, bin: BIN, env, log: (l) => lines.push(l) });
    expect(rerun.stopped).toBe(null);
    expect(rerun.outcomes.map((o) => [o.before, o.after, o.code])).toEqual([['partial', 'finished', 0], ['not started', 'finished', 0]]);
    expect(lines.some((l) => l.includes('[b-s0] (1/2) resuming: bionas train') && l.includes('--resume='))).toBe(true);
    expect(lines.some((l) => l.startsWith('[b-s1] test: loss'))).toBe(true);
    expect(metricLines(join(out, 'runs/b-s0'))).toBe(3);
    // The runner's clock: the stopped attempt and the resumed one add up; the other job ran once.
    const t0 = readJobTime(jobs[0], out)!, t1 = readJobTime(jobs[1], out)!;
    expect(t0.attempts.map((a) => a.status)).toEqual(['partial', 'finished']);
    expect(t0.seconds).toBeCloseTo(stopped.outcomes[0].seconds + rerun.outcomes[0].seconds, 6);
    expect(t1.attempts).toHaveLength(1);
    expect(t1.seconds).toBeCloseTo(rerun.outcomes[1].seconds, 6);
    // Once more: everything is finished, nothing runs.
    const again = await runJobs(jobs, { outDir: out, bin: BIN, env, log: () => {} });
    expect(again.outcomes.map((o) => [o.before, o.code])).toEqual([['finished', null], ['finished', null]]);
    // A job list that now asks for more epochs extends the finished run; other settings are refused before anything runs.
    const longer = [jobs[0], tinyTrain('b-s1', 1, 2)];
    const extended = await runJobs(longer, { outDir: out, bin: BIN, env, log: () => {} });
    expect(extended.outcomes[1]).toMatchObject({ before: 'partial', after: 'finished', code: 0 });
    expect(metricLines(join(out, 'runs/b-s1'))).toBe(2);
    await expect(runJobs([jobs[0], { ...longer[1], args: { ...longer[1].args, seed: 5, C: 6 } }], { outDir: out, bin: BIN, env, log: () => {} }))
      .rejects.toThrow(/holds runs of other settings than this job list:\n  b-s1: --C 6 \(the run there has 4\), --seed 5 \(the run there has 1\)/);
  }, 120_000);

  it('runs a recipe end to end into a report (single-vs-mixed, synthetic, 1 seed, 1 epoch)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'bionas-exp-recipe-'));
    const recipe = RECIPES.get('single-vs-mixed');
    // Smaller than proxy scale: tiny networks, and of the single rules only BP (the others are missing from the report).
    const small = { ...recipe, jobs: (o: RecipeOptions) => recipe.jobs(o).map((j) => ({ ...j, args: { ...j.args, C: 4, layers: 3, 'synthetic-size': 32, 'image-size': 8, batch: 16 } })) };
    const two = { ...small, jobs: (o: RecipeOptions) => small.jobs(o).filter((j) => ['mixed-s0', 'bp-s0'].includes(j.id)) };
    const o: RecipeOptions = { scale: 'proxy', seeds: 1, genotype: 'biodarts', dataset: 'synthetic', epochs: 1 };
    const r = await runExperiment(two, o, out, { bin: BIN, env, log: () => {} });
    expect(r.outcomes.map((x) => x.after)).toEqual(['finished', 'finished']);
    // The report is made from the full job list: what is not run is listed as missing.
    await writeReport(small, o, out);
    const md = readFileSync(join(out, 'report/report.md'), 'utf8');
    expect(md).toMatch(/\| as-found \| \d+\.\d\d ± 0\.00 \(n=1\) \| 95\.16 \|/);
    expect(md).toMatch(/mixed beats every single rule: \*\*inconclusive at this scale\*\*/);
    expect(md).toMatch(/Jobs finished: 2 of 6 \(missing: usf-s0 not started/);
    // Each run job's time, from the runner's clock; the jobs never run have none.
    const secs = r.outcomes.map((x) => x.seconds);
    expect(md).toContain(`Time: ${((secs[0] + secs[1]) / 60).toFixed(1)} min of job wall time for the 2 of 6 jobs the runner timed`);
    expect(md).toMatch(new RegExp(`- \`mixed-s0\` \\(finished, ${(secs[0] / 60).toFixed(1)} min\\)`));
    expect(md).toMatch(/- `usf-s0` \(not started\):/);
    expect(md).toMatch(/\| single:usf \| n\/a \(n=0\) \|/);
    expect(existsSync(join(out, 'report/accuracy.svg'))).toBe(true);
    const json = JSON.parse(readFileSync(join(out, 'report/report.json'), 'utf8'));
    expect(json.jobSeconds['bp-s0']).toBeCloseTo(secs[1], 6);
    expect(json.jobSeconds['usf-s0']).toBe(null);
    expect(json.variants.map((v: { name: string }) => v.name)).toEqual(['mixed', 'bp', 'usf', 'frsf', 'brsf', 'fa']);
    expect(JSON.parse(readFileSync(join(out, 'jobs.json'), 'utf8')).jobs).toHaveLength(2);
    // The weights recipe's jobs are the same two runs (mixed and BP): its report reads their checkpoints.
    const weights = RECIPES.get('weights');
    const w = await weights.report(collectResults(weights, o, out), o);
    const rules = (w.json as { rules: { rule: string; count: number }[] }).rules;
    expect(rules.map((r) => r.rule).sort()).toEqual(['bp', 'frsf', 'usf']);
    expect(rules.every((r) => r.count > 0)).toBe(true);
    expect(w.svgs['weights_by_rule.svg']).toContain('<polyline');
  }, 180_000);
});

describe('experiment report', () => {
  it('mean ± std uses the sample std (n-1) and says n', () => {
    const s = stat([94, 95, 96]);
    expect(s).toEqual({ mean: 95, std: 1, n: 3 });
    expect(fmtStat(s)).toBe('95.00 ± 1.00 (n=3)');
    expect(fmtStat(stat([]))).toBe('n/a (n=0)');
    expect(stat([NaN, 2]).n).toBe(1);
    expect(diffStandardError(stat([1, 3]), stat([2, 4]))).toBeCloseTo(Math.sqrt(2 / 2 + 2 / 2), 12);
  });

  it('verdicts: a difference beyond 2 standard errors holds or does not hold; within it, or with n < 2, inconclusive', () => {
    const mixed = stat([95.0, 95.2, 95.1]);
    const clearlyWorse = stat([90.0, 90.3, 89.8]);
    const close = stat([94.9, 95.3, 95.0]);
    expect(betterVerdict(mixed, clearlyWorse)).toBe('holds');
    expect(betterVerdict(clearlyWorse, mixed)).toBe('does not hold');
    expect(betterVerdict(mixed, close)).toBe('inconclusive at this scale');
    expect(betterVerdict(stat([95]), stat([80]))).toBe('inconclusive at this scale');
    // Lower is better (gradient variance).
    expect(betterVerdict(stat([1, 1.1, 0.9]), stat([5, 5.2, 4.8]), 'lower')).toBe('holds');
    // Alike within a tolerance: the whole ±2 se interval inside (holds) or outside (does not hold).
    expect(similarVerdict(mixed, close, 1)).toBe('holds');
    expect(similarVerdict(mixed, clearlyWorse, 1)).toBe('does not hold');
    expect(similarVerdict(stat([95, 97]), stat([94, 96]), 1)).toBe('inconclusive at this scale');
    expect(allVerdicts(['holds', 'holds'])).toBe('holds');
    expect(allVerdicts(['holds', 'inconclusive at this scale'])).toBe('inconclusive at this scale');
    expect(allVerdicts(['holds', 'does not hold', 'inconclusive at this scale'])).toBe('does not hold');
  });

  it('draws bars with whiskers and the paper\'s value', () => {
    const svg = barChart([{ name: 'mixed', stat: stat([95, 96]), paper: 95.16 }, { name: 'fa <x>', stat: stat([70]) }], { title: 't', yLabel: 'y' });
    expect(svg.match(/<rect /g)!.length).toBe(3);
    expect(svg).toContain('stroke-dasharray');
    expect(svg).toContain('fa &lt;x&gt;');
  });
});

describe('recipes', () => {
  const o = (scale: 'proxy' | 'paper'): RecipeOptions => ({ scale, seeds: 2, genotype: 'biodarts', dataset: 'cifar10', data: '/data/cifar10' });
  const tables = { train: TRAIN_FLAGS, search: searchFlags() } as const;

  it('every recipe lists well-formed jobs at both scales whose args parse with the command\'s flags', () => {
    expect(RECIPES.names().length).toBeGreaterThan(0);
    for (const recipe of RECIPES.all()) {
      for (const scale of SCALES) {
        const jobs = recipe.jobs(o(scale));
        expect(jobs.length, `${recipe.name} ${scale}`).toBeGreaterThan(0);
        checkJobs(jobs, recipe.name);
        for (const j of jobs) {
          const table = tables[j.command as keyof typeof tables];
          if (!table) continue;
          expect(() => parseFlags(jobArgv(j.args), table, j.command), `${recipe.name}/${j.id}`).not.toThrow();
          expect(j.args.seed).toBeTypeOf('number');
          if (scale === 'proxy' && j.args.dataset !== 'synthetic') expect(j.args['train-size']).toBeGreaterThan(0);
        }
      }
    }
  });

  it('paper scale trains genotype networks with DARTS\' setting, or the imagenet16 preset on ImageNet16-120', () => {
    const [cifar] = RECIPES.get('single-vs-mixed').jobs(o('paper'));
    expect(cifar.args).toMatchObject({ preset: 'darts', C: 36, layers: 20, auxiliary: true });
    expect(cifar.args.epochs).toBeUndefined();
    const [inet] = RECIPES.get('single-vs-mixed').jobs({ ...o('paper'), dataset: 'imagenet16' });
    expect(inet.args).toMatchObject({ preset: 'imagenet16', dataset: 'imagenet16' });
    expect(inet.args.C).toBeUndefined();
  });

  it('single-vs-mixed: the found rules, each single rule of the paper\'s space and BP, per seed', () => {
    const jobs = RECIPES.get('single-vs-mixed').jobs(o('proxy'));
    expect(jobs.map((j) => j.id)).toEqual(['mixed', 'bp', 'usf', 'frsf', 'brsf', 'fa'].flatMap((v) => [`${v}-s0`]).concat(['mixed', 'bp', 'usf', 'frsf', 'brsf', 'fa'].map((v) => `${v}-s1`)));
    expect(jobs.map((j) => j.args.rules).slice(0, 6)).toEqual(['as-found', 'single:bp', 'single:usf', 'single:frsf', 'single:brsf', 'single:fa']);
  });
});

describe('recipe details', () => {
  const o: RecipeOptions = { scale: 'proxy', seeds: 2, genotype: 'biodarts', dataset: 'cifar10', data: '/d' };
  /** A finished train job's result with a hand-made test accuracy. */
  const done = (job: ExperimentJob, acc: number, extra: Record<string, unknown> = {}) => ({ job, status: 'finished' as const, summary: { test: { acc: acc / 100 }, history: [], ...extra }, dir: '/nowhere', seconds: null });

  it('reassign: K re-assignments, each one --rules-seed for every training seed, beside the found rules', async () => {
    const r = RECIPES.get('reassign');
    const jobs = r.jobs({ ...o, k: 3 });
    expect(jobs.map((j) => j.id)).toEqual(['found-s0', 'random1-s0', 'random2-s0', 'random3-s0', 'found-s1', 'random1-s1', 'random2-s1', 'random3-s1']);
    expect(jobs.filter((j) => j.id.startsWith('random2')).map((j) => [j.args.rules, j.args['rules-seed'], j.args.seed])).toEqual([['random', 2, 0], ['random', 2, 1]]);
    expect(r.jobs(o).length).toBe(2 * 5);
    // Hand-made accuracies: re-assignments within 0.2 points of the found rules, tight over seeds.
    const accs: Record<string, number[]> = { found: [80, 80.2], random1: [80.1, 80.0], random2: [79.9, 80.1], random3: [80.0, 80.2] };
    const results = jobs.map((j) => done(j, accs[j.id.split('-')[0]][Number(j.id.slice(-1))], { model: { genotype: { normal: [{ op: 'sep_conv_3x3', rule: 'fa', input: 0 }], reduce: [] } } }));
    const rep = await r.report(results, { ...o, k: 3 });
    expect(rep.markdown).toMatch(/re-assigning the rules changes accuracy little: \*\*holds\*\*/);
    expect(rep.markdown).toContain('sep_conv_3x3/fa');
  });

  it('baselines: both depths, six rules, Biotorch numbers beside ours; the verdict follows hand-made errors', async () => {
    const r = RECIPES.get('baselines');
    const jobs = r.jobs(o);
    expect(jobs).toHaveLength(2 * 2 * 6);
    expect(jobs[0].args).toMatchObject({ model: 'resnet20', rule: 'bp', preset: 'biotorch', 'train-size': 2000 });
    expect(r.jobs({ ...o, scale: 'paper' })[0].args).toMatchObject({ 'valid-size': 5000, preset: 'biotorch' });
    const acc = (id: string) => (/-(fa|dfa)-/.test(id) ? 60 : 85) + Number(id.slice(-1)) * 0.5;
    const rep = await r.report(jobs.map((j) => done(j, acc(j.id))), o);
    expect(rep.markdown).toMatch(/\| bp \| 14\.75 ± 0\.35 \(n=2\) \| 8\.63 \|/);
    expect(rep.markdown).toMatch(/ResNet-20: every sign-symmetric rule beats FA and DFA: \*\*holds\*\*/);
    expect(rep.markdown).toMatch(/\| dfa \| .* \| 45\.94 \| .* \| — \|/);
  });

  it('grad-variance: runs probed at several epochs with a constant rate; the report reads per-layer variance', async () => {
    const r = RECIPES.get('grad-variance');
    const jobs = r.jobs({ ...o, seeds: 1 });
    expect(jobs.map((j) => j.id).slice(0, 2)).toEqual(['mixed-e1-s0', 'mixed-e3-s0']);
    expect(jobs[1].args).toMatchObject({ epochs: 3, schedule: 'constant', 'grad-variance': 10, rules: 'as-found' });
    const variance = (scale: number) => ({ batches: 10, overall: scale, perTensor: [{ name: 'stem.weight', size: 10, variance: scale }, { name: 'cells.0.ops.1.weight', size: 30, variance: 2 * scale }, { name: 'classifier.weight', size: 5, variance: scale }] });
    const jobs2 = r.jobs(o);
    const rep = await r.report(jobs2.map((j) => done(j, 50, { gradientVariance: variance(j.id.startsWith('mixed') ? 1 + Number(j.id.slice(-1)) * 0.01 : 5 + Number(j.id.slice(-1)) * 0.01) })), o);
    expect(rep.markdown).toMatch(/mixed has lower gradient variance than every single rule: \*\*holds\*\*/);
    expect(rep.markdown).toMatch(/\| cell 0 \| 2\.010e\+0 \|/);
    expect(Object.keys(rep.svgs)).toEqual(['variance_over_training.svg', 'variance_per_layer.svg']);
  });

  it('weights: a checkpoint tensor belongs to its edge\'s rule, other layers to BP', async () => {
    const { weightOwner } = await import('../src/experiment/recipes/weights.js');
    const { GENOTYPE_PRESETS, parseGenotype } = await import('../src/models/genotype.js');
    const g = parseGenotype(GENOTYPE_PRESETS.biodarts);
    const d = { layers: 5, genotype: g };
    expect(weightOwner('model.cells.0.ops.3.first.depthwise.weight', d)).toEqual({ layer: 'cell 0', rule: 'usf' });
    // Cell 1 of 5 is a reduction: reduce[7] is dil_conv_5x5/usf.
    expect(weightOwner('model.cells.1.ops.7.depthwise.weight', d)).toEqual({ layer: 'cell 1', rule: 'usf' });
    expect(weightOwner('model.cells.2.preprocess1.conv.weight', d)).toEqual({ layer: 'cell 2', rule: 'bp' });
    expect(weightOwner('model.stem.weight', { ...d, bodyRule: 'fa' })).toEqual({ layer: 'stem', rule: 'fa' });
  });

  it('skip-dedup: the merged space keeps one skip_connect pair and is a valid space file; the report counts skips', async () => {
    const { dedupSpace, skipShare } = await import('../src/experiment/recipes/skip_dedup.js');
    const { parseSpace, SPACE_PRESETS } = await import('../src/search/space.js');
    const s = parseSpace(dedupSpace(), 'dedup');
    expect(s.pairs.filter((p) => p.op === 'skip_connect')).toHaveLength(1);
    expect(s.pairs).toHaveLength(SPACE_PRESETS.bionas.pairs.length - 2);
    const r = RECIPES.get('skip-dedup');
    expect(Object.keys(r.files!(o))).toEqual(['spaces/bionas-dedup.json']);
    const jobs = r.jobs(o);
    expect(jobs.map((j) => [j.id, j.command, j.args.space])).toEqual([['paper-s0', 'search', 'bionas'], ['dedup-s0', 'search', 'spaces/bionas-dedup.json'], ['paper-s1', 'search', 'bionas'], ['dedup-s1', 'search', 'spaces/bionas-dedup.json']]);
    const cell = (skips: number) => ({ normal: Array.from({ length: 4 }, (_, i) => ({ op: i < skips ? 'skip_connect' : 'sep_conv_3x3', rule: 'usf', input: 0 })), reduce: [] });
    expect(skipShare(cell(3) as never)).toBe(0.75);
    const rep = await r.report(jobs.map((j) => ({ job: j, status: 'finished' as const, dir: '/x', summary: { result: { genotype: cell(j.id.startsWith('paper') ? 3 : 1) } }, seconds: null })), o);
    expect(rep.markdown).toMatch(/\| bionas \| 75\.0 ± 0\.0 \(n=2\) \| 2 of 2 \|/);
    expect(rep.markdown).toMatch(/\| spaces\/bionas-dedup\.json \| 25\.0 ± 0\.0 \(n=2\) \| 0 of 2 \|/);
  });
});

describe('bionas experiment on the command line', () => {
  const cli = (args: string[]) => spawnSync('node', [BIN, 'experiment', ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' } });

  it('lists the recipes, and rejects an unknown recipe or a missing --data with a clear message', () => {
    const list = cli(['--list']);
    expect(list.status).toBe(0);
    for (const name of ['single-vs-mixed', 'reassign', 'baselines', 'grad-variance', 'weights', 'skip-dedup']) expect(list.stdout).toContain(name);
    const unknown = cli(['nope']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown experiment recipe 'nope'; known: single-vs-mixed, reassign/);
    const noData = cli(['baselines']);
    expect(noData.status).toBe(2);
    expect(noData.stderr).toMatch(/--dataset cifar10 needs --data DIR/);
    expect(cli(['reassign', '--scale', 'huge']).stderr).toMatch(/--scale must be one of proxy, paper/);
  });
});
