import { describe, it, expect } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, existsSync, writeFileSync, readFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { decodeState } from '../src/run/state.js';
import { writeCheckpoint, CHECKPOINT_FORMAT, type CheckpointMeta } from '../src/run/checkpoint.js';
import { givenFlags, resumeFlags } from '../src/cli/resume.js';
import { parseFlags } from '../src/cli/flags.js';
import { searchFlags } from '../src/cli/search.js';
import { DawnNoticeFilter, isVerbose, probesVulkan, unusedGpuMessage } from '../src/gpu/device.js';
import { findGpus } from '../src/gpu/host.js';

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
    expect(bad.out).toMatch(/--rule must be one of bp, fa, dfa, usf, brsf, frsf \(got 'hebb'\)/);
    const unknown = run(['train', '--epoch', '3']);
    expect(unknown.out).toMatch(/unknown flag --epoch \(did you mean --epochs\?\)/);
    const noData = run(['train', '--dataset', 'cifar10']);
    expect(noData.out).toMatch(/--dataset cifar10 needs --data DIR/);
    const search = run(['search', '--help']).out;
    expect(search).toContain('--second-order');
    // --method lists the registered strategies, each with its line.
    expect(search).toMatch(/--method <darts\|eg\|gicso\|mse-nas>/);
    expect(search).toMatch(/mse-nas: NSGA-II over spiking genomes/);
    expect(search).toMatch(/darts: gradient, bi-level[\s\S]*eg: evolutionary[\s\S]*gicso: warm-up, competitive-swarm/);
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

describe('first contact: a quiet start, strict flags', () => {
  // Lines Dawn printed at start-up on a 2-core llvmpipe machine without a Vulkan loader.
  const DAWN_START = [
    "Warning: Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file: No such file or directory",
    '    at operator() (/home/runner/work/node-webgpu/node-webgpu/third_party/dawn/src/dawn/native/vulkan/BackendVk.cpp:368)',
    '',
    'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 90 to 16 to fit dynamic offset allocation limit.',
    'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 80 to 16 to fit dynamic offset allocation limit.',
    'Warning: eglInitialize failed with EGL_NOT_INITIALIZED',
    'error: XDG_RUNTIME_DIR is invalid or not set in the environment.',
  ];

  it("Dawn's known start-up notices are hidden, anything else is shown", () => {
    const filter = new DawnNoticeFilter();
    expect(DAWN_START.filter((line) => filter.shows(line))).toEqual(DAWN_START.slice(5));
    expect(filter.hidden).toHaveLength(5);
  });

  it('--verbose or BIONAS_VERBOSE=1 asks for them', () => {
    const saved = process.env.BIONAS_VERBOSE;
    delete process.env.BIONAS_VERBOSE;
    try {
      expect(isVerbose(['node', 'bionas', 'info'])).toBe(false);
      expect(isVerbose(['node', 'bionas', 'info', '--verbose'])).toBe(true);
      expect(isVerbose(['node', 'bionas', 'train', '--verbose=no'])).toBe(false);
      process.env.BIONAS_VERBOSE = '1';
      expect(isVerbose(['node', 'bionas', 'info'])).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.BIONAS_VERBOSE;
      else process.env.BIONAS_VERBOSE = saved;
    }
  });

  it('Vulkan is probed only where it can succeed; a GPU without a loader names the package to install', () => {
    const nvidia = { vendor: 'NVIDIA' as const, path: '/dev/nvidia0' };
    expect(probesVulkan({ loader: null, gpus: [] })).toBe(false);
    expect(probesVulkan({ loader: '/usr/lib/x86_64-linux-gnu/libvulkan.so.1', gpus: [] })).toBe(true);
    expect(probesVulkan({ loader: null, gpus: [nvidia] })).toBe(true);
    expect(unusedGpuMessage({ loader: null, gpus: [] })).toBeNull();
    const m = unusedGpuMessage({ loader: null, gpus: [nvidia] })!;
    expect(m.warning).toMatch(/NVIDIA GPU \(\/dev\/nvidia0\) present but no Vulkan loader \(libvulkan\.so\.1; Debian\/Ubuntu: apt-get install libvulkan1\)/);
    expect(m.note).toBe('NVIDIA GPU (/dev/nvidia0) unused: install libvulkan1');
  });

  it('GPUs are found by their device nodes and PCI vendor', () => {
    const files: Record<string, string> = { '/sys/class/drm/renderD128/device/vendor': '0x1002\n', '/sys/class/drm/renderD129/device/vendor': '0x1af4\n' };
    const fakeFs = {
      existsSync: () => false,
      readdirSync: () => ['card0', 'renderD128', 'renderD129'],
      readFileSync: (p: string) => {
        if (!(p in files)) throw new Error('ENOENT');
        return files[p];
      },
    } as unknown as typeof import('node:fs');
    // 0x1af4 is virtio: not a GPU Dawn drives through Vulkan.
    expect(findGpus(fakeFs)).toEqual([{ vendor: 'AMD', path: '/dev/dri/renderD128' }]);
  });

  it('`bionas info` prints no Dawn noise, says which packages are there, and --verbose shows the noise', () => {
    const r = run(['info']);
    expect(r.code, r.out).toBe(0);
    expect(r.out).not.toMatch(/BackendVk\.cpp|artificially reduced|Couldn't load Vulkan/);
    expect(r.out).toMatch(/^adapter: /m);
    expect(r.out).toMatch(/^packages: /m);
    for (const p of ['libegl1', 'libegl-mesa0', 'libgl1-mesa-dri', 'chromium']) expect(r.out).toMatch(new RegExp(`^  ${p} +(present|missing) `, 'm'));
    expect(r.out).toMatch(/^dawn messages: known start-up notices .* hidden/m);
    const v = run(['info', '--verbose']);
    expect(v.code, v.out).toBe(0);
    expect(v.out).toMatch(/^dawn messages: shown as Dawn prints them/m);
    // Dawn clamps these limits on every adapter whose driver allows more than 16 (llvmpipe: 90 and 80).
    if (/^backend: +opengl/m.test(r.out)) expect(v.out).toMatch(/artificially reduced/);
  }, 60_000);

  it('bad flag values stop the command with exit code 2 and a message naming the flag', () => {
    const cases: [string[], string][] = [
      [['train', '--epochs', '1.5'], "bionas train: --epochs must be an integer written in digits (got '1.5')"],
      [['train', '--lr='], 'bionas train: --lr needs a value, got an empty one'],
      [['train', '--run', '--seed', '3'], 'bionas train: --run needs a value (to pass one starting with --, write --run=--seed)'],
      [['train', '--auxiliary=maybe'], "bionas train: --auxiliary must be true, false, 1, 0, yes or no (got 'maybe')"],
      [['search', '--synthetic-size', '100000000000000000000'], "bionas search: --synthetic-size must be <= 500000 (got '100000000000000000000')"],
      [['eval', '--batch', '0x10'], "bionas eval: --batch must be an integer written in digits (got '0x10')"],
    ];
    for (const [args, message] of cases) {
      const r = run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.out.trim(), args.join(' ')).toBe(message);
    }
  });

  it('`bionas eval` refuses a checkpoint whose model holds NaN or Inf, naming the tensor', () => {
    // A checkpoint in the file format of src/nn/state.ts, written by hand: a diverged classifier.
    const tensors = [
      { name: 'model.conv1.weight', shape: [2, 2], dtype: 'f32', data: [0.5, -0.25, 1, 2] },
      { name: 'model.fc.weight', shape: [3], dtype: 'f32', data: [1, NaN, Infinity] },
      { name: 'optimizer.momentum.0', shape: [1], dtype: 'f32', data: [NaN] },
    ];
    let offset = 0;
    const entries = tensors.map(({ data, ...t }) => {
      offset += 4 * data.length;
      return { ...t, offset: offset - 4 * data.length };
    });
    const json = JSON.stringify({ meta: { epoch: 3, nextBatch: 0 }, tensors: entries });
    const header = Buffer.from(json.padEnd(Math.ceil(json.length / 4) * 4));
    const length = Buffer.alloc(4);
    length.writeUInt32LE(header.length);
    const data = Buffer.from(new Float32Array(tensors.flatMap((t) => t.data)).buffer);
    const file = join(mkdtempSync(join(tmpdir(), 'bionas-cli-nan-')), 'checkpoint.bin');
    writeFileSync(file, Buffer.concat([Buffer.from('BIONAS01'), length, header, data]));
    const r = run(['eval', '--checkpoint', file]);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toContain(`${file}: refusing to evaluate: 1 model tensor(s) hold NaN or Inf: 'model.fc.weight': 1 NaN, 1 Inf of 3 (first at index 1)`);
  });
});

describe('scripts/setup.sh', () => {
  it('stops with what a maintainer must run when package-lock.json is out of sync, and writes no lock file', () => {
    // A project whose package.json needs a local package its lock file lacks: npm ci sees the
    // mismatch without the registry (npm_config_offline), in under a second.
    const dir = mkdtempSync(join(tmpdir(), 'bionas-setup-'));
    mkdirSync(join(dir, 'scripts'));
    mkdirSync(join(dir, 'local'));
    copyFileSync('scripts/setup.sh', join(dir, 'scripts/setup.sh'));
    writeFileSync(join(dir, 'local/package.json'), JSON.stringify({ name: 'local', version: '1.0.0' }));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'x', version: '1.0.0', dependencies: { local: 'file:./local' } }));
    const lock = JSON.stringify({ name: 'x', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'x', version: '1.0.0' } } });
    writeFileSync(join(dir, 'package-lock.json'), lock);
    const r = spawnSync('bash', [join(dir, 'scripts/setup.sh')], {
      encoding: 'utf8', env: { ...process.env, npm_config_offline: 'true', npm_config_update_notifier: 'false' },
    });
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toContain('bionas setup: npm ci refused: package-lock.json does not match package.json.');
    expect(r.stderr).toContain('Missing: local@1.0.0 from lock file');
    expect(r.stderr).toContain('npm install --package-lock-only');
    expect(readFileSync(join(dir, 'package-lock.json'), 'utf8')).toBe(lock);
    expect(existsSync(join(dir, 'node_modules'))).toBe(false);
  }, 60_000);
});
