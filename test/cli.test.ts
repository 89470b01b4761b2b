import { describe, it, expect } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, existsSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { decodeState } from '../src/run/state.js';
import { writeCheckpoint, CHECKPOINT_FORMAT, type CheckpointMeta } from '../src/run/checkpoint.js';
import { givenFlags, resumeFlags } from '../src/cli/resume.js';
import { parseFlags } from '../src/cli/flags.js';
import { searchFlags } from '../src/cli/search.js';

// These run the built CLI (npm test builds dist/ first).
const CLI = 'dist/bionas.mjs';

function run(args: string[]): { code: number | null; out: string } {
  const r = spawnSync('node', [CLI, ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
  return { code: r.status, out: r.stdout + r.stderr };
}

const tmp = (what: string) => mkdtempSync(join(tmpdir(), `bionas-cli-${what}-`));

describe('bionas command line', () => {
  it('documents every flag with its default, and rejects bad flags clearly', () => {
    const help = run(['train', '--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--model', '--rule', '--genotype', '--epochs', '--batch', '--lr', '--resume', '--data', '--cutout', '--checkpoint-minutes']) expect(help.out).toContain(flag);
    expect(help.out).toMatch(/--rule <bp\|fa\|dfa\|usf\|brsf\|frsf>\n\s+learning rule .*\(default: bp\)/);
    const bad = run(['train', '--rule', 'hebb']);
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/--rule hebb: must be one of bp, fa, dfa, usf, brsf, frsf/);
    const unknown = run(['train', '--epoch', '3']);
    expect(unknown.out).toMatch(/unknown flag --epoch \(did you mean --epochs\?\)/);
    const noData = run(['train', '--dataset', 'cifar10']);
    expect(noData.out).toMatch(/--dataset cifar10 needs --data DIR/);
    const search = run(['search', '--help']).out;
    expect(search).toContain('--second-order');
    // --method lists the registered strategies, each with its line.
    expect(search).toMatch(/--method <darts\|eg>/);
    expect(search).toMatch(/darts: gradient, bi-level[\s\S]*eg: evolutionary/);
    for (const flag of ['--eg-step', '--eg-momentum', '--generations', '--warmup']) expect(search).toContain(flag);
    expect(help.out).toContain('--alignment, --no-alignment');
    expect(run(['search', '--method', 'darts', '--population', '8']).out).toMatch(/--population is a flag of --method eg, not of --method darts/);
  });

  it('refuses at once what cannot run: --rule with a genotype, a run folder that cannot be made, a resume without a checkpoint, a locked folder', () => {
    const rule = run(['train', '--genotype', 'darts_v2', '--rule', 'usf']);
    expect(rule.code).toBe(2);
    expect(rule.out).toMatch(/--rule sets the rule of every layer of a ResNet .* so --rule would be ignored: leave it out/);
    const started = Date.now();
    const proc = run(['train', '--run', '/proc/bionas-test/x']);
    expect(proc.code).toBe(1);
    expect(proc.out).toMatch(/cannot create the run folder \/proc\/bionas-test\/x: mkdir \/proc\/bionas-test failed/);
    expect(Date.now() - started).toBeLessThan(10_000);
    const empty = tmp('empty');
    const noCheckpoint = run(['train', '--resume', empty]);
    expect(noCheckpoint.code).toBe(2);
    expect(noCheckpoint.out).toMatch(/--resume .*: no checkpoint\.bin there, so nothing to resume/);
    // A live process (this one) holds the folder.
    const locked = tmp('locked');
    writeFileSync(join(locked, 'lock'), JSON.stringify({ pid: process.pid, hostname: hostname(), started: new Date().toISOString() }));
    const busy = run(['train', '--run', locked]);
    expect(busy.code).toBe(1);
    expect(busy.out).toMatch(new RegExp(`the run folder .* is in use by another run \\(pid ${process.pid}`));
  });

  it('--resume takes the flags a run started with; a flag that makes it another run is an error naming it', async () => {
    const dir = tmp('resume-flags');
    const table = searchFlags();
    const original = parseFlags(['--method', 'darts', '--space', 'bionas', '--seed', '3', '--dataset', 'synthetic', '--epochs', '4'], table, 'search');
    const meta = {
      format: CHECKPOINT_FORMAT, kind: 'search-darts', position: { epoch: 1, phase: 0, step: 0 }, epoch: 1, config: {}, job: {}, streams: {},
      elapsed: 0, describe: null, invocation: { command: 'search', flags: original }, savedAt: '',
    } as CheckpointMeta;
    await writeCheckpoint(join(dir, 'checkpoint.bin'), [], meta);
    const resume = (args: string[]) => {
      const argv = ['--resume', dir, ...args];
      return resumeFlags('search', parseFlags(argv, table, 'search'), givenFlags(argv, table), ['epochs']);
    };
    const f = await resume([]);
    expect([f.method, f.space, f.seed, f.epochs, f.run]).toEqual(['darts', 'bionas', 3, 4, dir]);
    expect((await resume(['--epochs', '6', '--seed', '3'])).epochs).toBe(6);
    await expect(resume(['--seed', '4'])).rejects.toThrow(/--seed 4 conflicts with the run in .*, which has --seed 3; leave --seed out to continue that run/);
    await expect(resume(['--method', 'eg'])).rejects.toThrow(/--method eg conflicts .* which has --method darts/);
    await expect(resume(['--space', 'darts'])).rejects.toThrow(/--space darts conflicts .* which has --space bionas/);
    await expect(resume(['--dataset', 'cifar10'])).rejects.toThrow(/--dataset cifar10 conflicts .* which has --dataset synthetic/);
    await expect(resume(['--run', tmpdir()])).rejects.toThrow(/name different folders/);
    await expect(resumeFlags('train', { resume: dir }, new Set(['resume']), [])).rejects.toThrow(/holds a 'bionas search' run; continue it with bionas search --resume/);
  });

  it('a training run stopped by SIGTERM within a step exits 143 after saving, and `--resume DIR` alone ends where an uninterrupted run ends', async () => {
    // 12 batches per epoch, metrics read back only at epoch ends (--log-every 1000): a stop is
    // acted on at the next step, not at the next read-back.
    const base = ['train', '--model', 'resnet20', '--rule', 'brsf', '--dataset', 'synthetic', '--synthetic-size', '192', '--image-size', '8',
      '--batch', '16', '--epochs', '3', '--seed', '3', '--preset', 'quick', '--log-every', '1000'];
    const whole = tmp('whole');
    expect(run([...base, '--run', whole]).code).toBe(0);

    const killed = tmp('killed');
    const child = spawn('node', [CLI, ...base, '--run', killed], { env: { ...process.env, CI: '1' } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    // Kill once training has begun ("model:" is printed at its start).
    let killedAt = 0;
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (out.includes('model:')) {
          clearInterval(poll);
          setTimeout(() => { killedAt = Date.now(); child.kill('SIGTERM'); resolve(); }, 1500);
        }
      }, 20);
    });
    let stoppingAt = 0;
    child.stdout.on('data', () => (stoppingAt ||= out.includes('stopping (SIGTERM)') ? Date.now() : 0));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, out).toBe(143);
    expect(out).toMatch(/stopping \(SIGTERM\): saving a checkpoint/);
    // A step on a 2-core llvmpipe machine takes ~0.2 s; a whole epoch ~3 s.
    if (stoppingAt) expect(stoppingAt - killedAt, out).toBeLessThan(2000);
    expect(out).toMatch(/stopped at epoch [123], batch \d+\/12; continue with bionas train --resume /);
    expect(existsSync(join(killed, 'checkpoint.bin'))).toBe(true);
    expect(existsSync(join(killed, 'lock'))).toBe(false);
    const resumed = run(['train', '--resume', killed]);
    expect(resumed.code, resumed.out).toBe(0);
    expect(resumed.out).toMatch(/resumed from/);
    const conflict = run(['train', '--resume', killed, '--seed', '4']);
    expect(conflict.code).toBe(2);
    expect(conflict.out).toMatch(/--seed 4 conflicts with the run in .*, which has --seed 3/);

    const a = decodeState(new Uint8Array(readFileSync(join(whole, 'checkpoint.bin'))));
    const b = decodeState(new Uint8Array(readFileSync(join(killed, 'checkpoint.bin'))));
    const names = [...a.tensors.keys()].filter((n) => n.startsWith('model.'));
    expect(names.length).toBeGreaterThan(50);
    for (const n of names) expect(Array.from(b.tensors.get(n)!.data), n).toEqual(Array.from(a.tensors.get(n)!.data));
    const epochs = (d: string) => readFileSync(join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).epoch);
    expect(epochs(killed)).toEqual([1, 2, 3]);
  }, 300_000);
});
