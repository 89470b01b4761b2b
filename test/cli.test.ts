import { describe, it, expect } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, existsSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeState } from '../src/nn/state.js';
import { readFileSync } from 'node:fs';
import { DawnNoticeFilter, isVerbose, probesVulkan, unusedGpuMessage } from '../src/gpu/device.js';
import { findGpus } from '../src/gpu/host.js';

// These run the built CLI (npm test builds dist/ first).
const CLI = 'dist/bionas.mjs';

function run(args: string[]): { code: number | null; out: string } {
  const r = spawnSync('node', [CLI, ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('bionas command line', () => {
  it('documents every flag with its default, and rejects bad flags clearly', () => {
    const help = run(['train', '--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--model', '--rule', '--genotype', '--epochs', '--batch', '--lr', '--resume', '--data', '--cutout']) expect(help.out).toContain(flag);
    expect(help.out).toMatch(/--rule <bp\|fa\|dfa\|usf\|brsf\|frsf>\n\s+learning rule .*\(default: bp\)/);
    const bad = run(['train', '--rule', 'hebb']);
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/--rule must be one of bp, fa, dfa, usf, brsf, frsf \(got 'hebb'\)/);
    const unknown = run(['train', '--epoch', '3']);
    expect(unknown.out).toMatch(/unknown flag --epoch \(did you mean --epochs\?\)/);
    const noData = run(['train', '--dataset', 'cifar10']);
    expect(noData.out).toMatch(/--dataset cifar10 needs --data DIR/);
    expect(run(['search', '--help']).out).toContain('--second-order');
    expect(help.out).toContain('--alignment, --no-alignment');
  });

  it('a training run killed with SIGTERM and resumed ends where an uninterrupted run ends', async () => {
    const base = ['train', '--model', 'resnet20', '--rule', 'brsf', '--dataset', 'synthetic', '--synthetic-size', '96', '--image-size', '8',
      '--batch', '16', '--epochs', '3', '--seed', '3', '--preset', 'quick', '--log-every', '1'];
    const whole = mkdtempSync(join(tmpdir(), 'bionas-cli-whole-'));
    expect(run([...base, '--run', whole]).code).toBe(0);

    const killed = mkdtempSync(join(tmpdir(), 'bionas-cli-killed-'));
    const child = spawn('node', [CLI, ...base, '--run', killed], { env: { ...process.env, CI: '1' } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    // Kill once training has begun: "model:" is printed at its start. Each epoch took ~5 s on a
    // 2-core llvmpipe machine, so the signal lands in epoch 1 there, or later on a faster one.
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (out.includes('model:')) {
          clearInterval(poll);
          setTimeout(() => { child.kill('SIGTERM'); resolve(); }, 2500);
        }
      }, 50);
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, out).toBe(0);
    expect(out).toMatch(/stopped at epoch [123], batch \d+\/6|stopped after epoch [12]/);
    expect(existsSync(join(killed, 'checkpoint.bin'))).toBe(true);
    const resumed = run([...base, '--run', killed, '--resume']);
    expect(resumed.code, resumed.out).toBe(0);
    expect(resumed.out).toMatch(/resumed from/);

    const a = decodeState(new Uint8Array(readFileSync(join(whole, 'checkpoint.bin'))));
    const b = decodeState(new Uint8Array(readFileSync(join(killed, 'checkpoint.bin'))));
    const names = [...a.tensors.keys()].filter((n) => n.startsWith('model.'));
    expect(names.length).toBeGreaterThan(50);
    for (const n of names) expect(Array.from(b.tensors.get(n)!.data), n).toEqual(Array.from(a.tensors.get(n)!.data));
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
      [['train', '--resume=maybe'], "bionas train: --resume must be true, false, 1, 0, yes or no (got 'maybe')"],
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
