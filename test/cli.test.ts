import { describe, it, expect } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeState } from '../src/nn/state.js';
import { readFileSync } from 'node:fs';

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
