// `bionas export`: the safetensors file is read back by a minimal reader written here from the
// format's description (not by the writer's code), and every tensor equals the checkpoint's.

import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useGpu, freshSeed, rng, randomArray } from './util.js';
import { Generator } from '../src/ops/random.js';
import { CifarResNet } from '../src/models/resnet.js';
import { readState } from '../src/run/state.js';
import { encodeSafetensors } from '../src/export/safetensors.js';
import { writeResnetCheckpoint } from './train_checkpoint.js';

useGpu();

interface ReadTensor {
  dtype: string;
  shape: number[];
  data: number[];
}

/** A safetensors reader from the format's description: u64 LE header size, JSON header, packed data. */
function readSafetensors(bytes: Uint8Array): { tensors: Map<string, ReadTensor>; metadata: Record<string, string> | null; order: string[] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  expect(8 + n).toBeLessThanOrEqual(bytes.length);
  expect((8 + n) % 8, 'data starts 8-byte aligned').toBe(0);
  const text = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
  expect(text[0]).toBe('{');
  expect(text.slice(text.trimEnd().length), 'padding is spaces').toMatch(/^ *$/);
  const header = JSON.parse(text) as Record<string, unknown>;
  const metadata = (header.__metadata__ as Record<string, string> | undefined) ?? null;
  const entries = Object.entries(header).filter(([k]) => k !== '__metadata__') as [string, { dtype: string; shape: number[]; data_offsets: [number, number] }][];
  const base = 8 + n;
  const sizes: Record<string, number> = { F32: 4, I32: 4, U32: 4 };
  const tensors = new Map<string, ReadTensor>();
  // The data section is covered exactly, with no holes and no overlaps.
  const spans = entries.map(([, e]) => e.data_offsets).sort((a, b) => a[0] - b[0]);
  let at = 0;
  for (const [b, e] of spans) {
    expect(b).toBe(at);
    at = e;
  }
  expect(base + at).toBe(bytes.length);
  for (const [name, e] of entries) {
    const size = sizes[e.dtype];
    expect(size, `dtype ${e.dtype}`).toBeDefined();
    const count = e.shape.reduce((a, b) => a * b, 1);
    expect(e.data_offsets[1] - e.data_offsets[0]).toBe(count * size);
    const data: number[] = [];
    for (let i = 0; i < count; i++) {
      const p = base + e.data_offsets[0] + i * 4;
      data.push(e.dtype === 'F32' ? view.getFloat32(p, true) : e.dtype === 'I32' ? view.getInt32(p, true) : view.getUint32(p, true));
    }
    tensors.set(name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata, order: entries.map(([k]) => k) };
}

describe('safetensors writer', () => {
  it('writes f32, i32, u32, scalar and empty tensors that an independent reader reads back exactly', () => {
    const r = rng(freshSeed('safetensors'));
    const f = Float32Array.from(randomArray(3 * 5 * 7, r));
    const tensors = [
      { name: 'a.weight', dtype: 'f32' as const, shape: [3, 5, 7], data: f },
      { name: 'a.count', dtype: 'i32' as const, shape: [3], data: Int32Array.from([-1, 0, 2 ** 31 - 1]) },
      { name: 'b.bits', dtype: 'u32' as const, shape: [2], data: Uint32Array.from([0, 2 ** 32 - 1]) },
      { name: 'scalar', dtype: 'f32' as const, shape: [], data: Float32Array.from([Math.PI]) },
      { name: 'empty', dtype: 'f32' as const, shape: [0, 4], data: new Float32Array(0) },
    ];
    // Header lengths of every residue mod 8 (the padding must be right for each).
    for (let pad = 0; pad < 8; pad++) {
      const got = readSafetensors(encodeSafetensors(tensors, { format: 'pt', note: 'x'.repeat(pad) }));
      expect(got.metadata).toEqual({ format: 'pt', note: 'x'.repeat(pad) });
      expect(got.order).toEqual(tensors.map((t) => t.name));
      for (const t of tensors) {
        const g = got.tensors.get(t.name)!;
        expect(g.shape).toEqual(t.shape);
        expect(g.dtype).toBe(t.dtype.toUpperCase());
        expect(g.data).toEqual(Array.from(t.data));
      }
    }
    expect(() => encodeSafetensors([tensors[0], tensors[0]])).toThrow(/two tensors named 'a.weight'/);
    expect(() => encodeSafetensors([{ ...tensors[0], shape: [3, 5] }])).toThrow(/shape \[3, 5\] \(15 elements\) but 105 values/);
    expect(() => encodeSafetensors([{ ...tensors[0], name: '__metadata__' }])).toThrow(/cannot name a tensor/);
  });
});

describe('bionas export', () => {
  // The built bundle (npm test builds dist/ first; alone: node build.mjs).
  const CLI = 'dist/bionas.mjs';
  const cli = (args: string[]) => {
    const r = spawnSync('node', [CLI, ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
    return { code: r.status, out: r.stdout + r.stderr };
  };
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'bionas-export-'));
  });

  it('writes every model tensor of the checkpoint (feedback matrices too) under its module path, and the architecture JSON', async () => {
    const seed = freshSeed('export weights');
    const checkpoint = await writeResnetCheckpoint(join(root, 'fa'), { dataset: 'synthetic', numClasses: 10, rule: 'fa', imageSize: 8, seed });
    const out = join(root, 'out', 'fa.safetensors');
    const r = cli(['export', '--checkpoint', checkpoint, '--format', 'safetensors', '--out', out]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/fa\.safetensors: \d+ tensors \(20 feedback matrices\)/);
    const file = readSafetensors(new Uint8Array(readFileSync(out)));
    const saved = await readState(checkpoint);
    const modelNames = [...saved.tensors.keys()].filter((k) => k.startsWith('model.'));
    expect(file.order).toEqual(modelNames.map((k) => k.slice('model.'.length)));
    for (const name of modelNames) {
      const want = saved.tensors.get(name)!;
      const got = file.tensors.get(name.slice('model.'.length))!;
      expect(got.shape).toEqual(want.shape);
      expect(got.data).toEqual(Array.from(want.data));
    }
    // The names are the module paths of the network bionas builds from the description.
    const model = new CifarResNet({ depth: 20, rule: 'fa', numClasses: 10, inChannels: 3, gen: new Generator(seed) });
    expect(file.order).toEqual(model.namedTensors().map(([n]) => n));
    model.dispose();
    expect(file.tensors.get('conv1.rule.B')!.shape).toEqual([16, 3, 3, 3]);
    expect(file.tensors.has('bn1.runningMean')).toBe(true);
    const arch = JSON.parse(readFileSync(join(root, 'out', 'fa.json'), 'utf8'));
    expect(arch).toMatchObject({
      format: 'bionas-architecture/1', weights: 'fa.safetensors', model: 'resnet20', rule: 'fa', numClasses: 10, inChannels: 3,
      input: { dataset: 'synthetic', height: 8, width: 8, range: [0, 1], normalisation: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] } },
    });
    expect(arch.tensors.find((t: { name: string }) => t.name === 'conv1.rule.B').role).toBe('feedback');
    expect(arch.tensors.find((t: { name: string }) => t.name === 'bn1.runningVar').role).toBe('running-stat');
    expect(JSON.parse(file.metadata!.bionas).model).toBe('resnet20');
    expect(readdirSync(join(root, 'out')).sort()).toEqual(['fa.json', 'fa.safetensors']);
  });

  it('refuses what it cannot do, naming it', () => {
    expect(cli(['export', '--out', 'x.safetensors']).out).toMatch(/--checkpoint RUN\/checkpoint\.bin is required/);
    expect(cli(['export', '--checkpoint', 'c.bin']).out).toMatch(/--out FILE is required/);
    expect(cli(['export', '--checkpoint', 'c.bin', '--out', 'x', '--format', 'onnx']).out).toMatch(/--format must be one of safetensors \(got 'onnx'\)/);
    const missing = cli(['export', '--checkpoint', join(root, 'none.bin'), '--out', join(root, 'x.safetensors')]);
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/none\.bin: cannot read the state file \(no such file\)/);
    expect(existsSync(join(root, 'x.safetensors'))).toBe(false);
  });
});
