// ImageNet16 pickles: the reader against files our writer makes, against pickles spelled out
// opcode by opcode here (Python 2 and 3 styles), and, where python3 with numpy is installed,
// against files pickle.dump writes itself (and our writer against pickle.dumps, byte for byte).

import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rng, freshSeed } from './util.js';
import { unpickle, pickleDump, NdArray, type PyDict } from '../src/data/pickle.js';
import { loadImageNet16, encodeImageNet16Pickle, parseImageNet16Batch } from '../src/data/imagenet16.js';
import { IMAGENET16_MEAN, IMAGENET16_STD } from '../src/data/dataset.js';

const PX = 768;

/** Images whose pixel (c, y, x) of image i is a known function, so the CHW order can be checked. */
function patterned(n: number, salt: number): Uint8Array {
  const out = new Uint8Array(n * PX);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) {
    out[i * PX + c * 256 + y * 16 + x] = pixel(i + salt, c, y, x);
  }
  return out;
}
const pixel = (i: number, c: number, y: number, x: number) => (i * 31 + c * 85 + y * 16 + x * 3) & 255;

/** Byte equality without a slow element-wise diff of big arrays. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function tempDir(what: string): string {
  return mkdtempSync(join(tmpdir(), `bionas-in16-${what}-`));
}

// ---- pickles spelled out opcode by opcode (independent of pickleDump)

class Ops {
  parts: number[] = [];
  raw(...b: number[]): this { this.parts.push(...b); return this; }
  text(s: string): this { for (let i = 0; i < s.length; i++) this.parts.push(s.charCodeAt(i) & 255); return this; }
  u32(v: number): this { return this.raw(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255); }
  bytes(b: Uint8Array): this { for (const x of b) this.parts.push(x); return this; }
  done(): Uint8Array { return Uint8Array.from(this.parts); }
}

/** Python 2's repr of a str (how protocol 0 STRING writes it). */
function py2repr(b: Uint8Array): string {
  let s = "'";
  for (const c of b) {
    if (c === 0x5c) s += '\\\\';
    else if (c === 0x27) s += "\\'";
    else if (c === 0x09) s += '\\t';
    else if (c === 0x0a) s += '\\n';
    else if (c === 0x0d) s += '\\r';
    else if (c < 0x20 || c >= 0x7f) s += `\\x${c.toString(16).padStart(2, '0')}`;
    else s += String.fromCharCode(c);
  }
  return s + "'";
}

/** A batch as Python 2's cPickle.dumps(d) (protocol 0) writes it, numpy 1.x arrays. */
function py2Protocol0(images: Uint8Array, labels: number[]): Uint8Array {
  const n = labels.length;
  const o = new Ops().text("(dp1\nS'labels'\np2\n(lp3\n");
  for (const l of labels) o.text(`I${l}\na`);
  o.text("sS'data'\np4\ncnumpy.core.multiarray\n_reconstruct\np5\n(cnumpy\nndarray\np6\n(I0\ntp7\nS'b'\np8\ntp9\nRp10\n");
  o.text(`(I1\n(I${n}\nI768\ntp11\ncnumpy\ndtype\np12\n(S'u1'\np13\nI0\nI1\ntp14\nRp15\n(I3\nS'|'\np16\nNNNI-1\nI-1\nI0\ntp17\nbI00\n`);
  o.text(`S${py2repr(images)}\np18\ntp19\nbs.`);
  return o.done();
}

/** The same as Python 2's cPickle.dumps(d, 2): BINSTRING data, SHORT_BINSTRING keys. */
function py2Protocol2(images: Uint8Array, labels: number[]): Uint8Array {
  const o = new Ops().raw(0x80, 2, 0x7d, 0x71, 1, 0x28); // PROTO 2, EMPTY_DICT, BINPUT 1, MARK
  o.raw(0x55, 4).text('data').raw(0x71, 2); // SHORT_BINSTRING 'data'
  o.text('cnumpy.core.multiarray\n_reconstruct\n').raw(0x71, 3);
  o.text('cnumpy\nndarray\n').raw(0x71, 4).raw(0x4b, 0, 0x85, 0x71, 5).raw(0x55, 1).text('b').raw(0x87, 0x52, 0x71, 6);
  o.raw(0x28, 0x4b, 1).raw(0x4d).raw(labels.length & 255, labels.length >> 8).raw(0x4d, 0, 3, 0x86, 0x71, 7); // (1, (n, 768)
  o.text('cnumpy\ndtype\n').raw(0x71, 8).raw(0x55, 2).text('u1').raw(0x4b, 0, 0x4b, 1, 0x87, 0x52, 0x71, 9);
  o.raw(0x28, 0x4b, 3, 0x55, 1).text('|').raw(0x4e, 0x4e, 0x4e, 0x4a).u32(-1).raw(0x4a).u32(-1).raw(0x4b, 0, 0x74, 0x62);
  o.raw(0x89, 0x54).u32(images.length).bytes(images).raw(0x74, 0x62); // NEWFALSE, BINSTRING data, TUPLE, BUILD
  o.raw(0x55, 6).text('labels').raw(0x5d, 0x28);
  for (const l of labels) l < 256 ? o.raw(0x4b, l) : o.raw(0x4d, l & 255, l >> 8);
  o.raw(0x65, 0x75, 0x2e); // APPENDS, SETITEMS, STOP
  return o.done();
}

describe('ImageNet16 batch files', () => {
  it('loads a folder in the published layout: 120 classes kept, labels shifted, CHW pixels', async () => {
    const next = rng(freshSeed('imagenet16 folder'));
    const dir = tempDir('folder');
    const batches: { images: Uint8Array; labels: number[] }[] = [];
    for (let b = 0; b < 3; b++) {
      // Labels across 1..200, always including both sides of the 120 cut.
      const labels = Array.from({ length: 20 }, (_, i) => (i === 0 ? 120 : i === 1 ? 121 : i === 2 ? 1 : 1 + Math.floor(next() * 200)));
      const images = patterned(20, b * 20);
      batches.push({ images, labels });
      writeFileSync(join(dir, `train_data_batch_${b + 1}`), encodeImageNet16Pickle(images, labels, { withMean: true }));
    }
    const valLabels = [5, 200, 119, 120, 121, 1, 150, 60];
    const valImages = patterned(valLabels.length, 100);
    writeFileSync(join(dir, 'val_data'), encodeImageNet16Pickle(valImages, valLabels));

    const train = await loadImageNet16(dir, { part: 'train', classes: 120 });
    const keptRows = batches.flatMap((b, bi) => b.labels.map((l, i) => ({ l, row: bi * 20 + i })).filter((x) => x.l <= 120));
    expect(train.count).toBe(keptRows.length);
    expect([...train.labels]).toEqual(keptRows.map((x) => x.l - 1));
    expect(Math.max(...train.labels)).toBeLessThanOrEqual(119);
    expect(Math.min(...train.labels)).toBe(0);
    expect(train).toMatchObject({ name: 'imagenet16-120-train', channels: 3, height: 16, width: 16, numClasses: 120, mean: IMAGENET16_MEAN, std: IMAGENET16_STD });
    expect(train.images.length).toBe(train.count * PX);
    keptRows.forEach(({ row }, k) => {
      for (const [c, y, x] of [[0, 0, 0], [1, 5, 9], [2, 15, 15], [2, 0, 15], [0, 15, 0]]) {
        expect(train.images[k * PX + (c * 16 + y) * 16 + x]).toBe(pixel(row, c, y, x));
      }
    });

    const valid = await loadImageNet16(dir, { part: 'valid' });
    expect([...valid.labels]).toEqual([4, 118, 119, 0, 59]);
    expect(valid.images.subarray(2 * PX, 3 * PX)).toEqual(valImages.subarray(3 * PX, 4 * PX)); // the third kept is the fourth written
    const all = await loadImageNet16(dir, { part: 'valid', classes: 1000 });
    expect([...all.labels]).toEqual(valLabels.map((l) => l - 1));
    expect(all.numClasses).toBe(1000);

    await expect(loadImageNet16(dir, { part: 'train', requireAllBatches: true }))
      .rejects.toThrow(/lacks train_data_batch_4, train_data_batch_5, .*train_data_batch_10 \(the Downsampled-ImageNet/);
    // NAS-Bench-201 keeps its files in a folder named ImageNet16: its parent works too.
    const parent = tempDir('parent');
    mkdirSync(join(parent, 'ImageNet16'));
    writeFileSync(join(parent, 'ImageNet16', 'val_data'), readFileSync(join(dir, 'val_data')));
    expect((await loadImageNet16(parent, { part: 'valid' })).count).toBe(5);
  });

  it('reads pickles spelled out by hand in Python 2 protocol 0 and 2 (STRING / BINSTRING)', () => {
    const labels = [3, 1000, 120, 121, 77];
    const images = new Uint8Array(labels.length * PX);
    for (let i = 0; i < images.length; i++) images[i] = (i * 7 + (i >> 8)) & 255; // every byte value, quotes and backslashes included
    for (const [what, bytes] of [['protocol 0', py2Protocol0(images, labels)], ['protocol 2', py2Protocol2(images, labels)]] as const) {
      const b = parseImageNet16Batch(bytes, what);
      expect([...b.labels], what).toEqual(labels);
      expect(sameBytes(b.images, images), what).toBe(true);
    }
    // Protocol 0 details: escapes other than \xNN, I00/I01 booleans, L longs, F floats.
    const d = unpickle(new Ops().text("(dp0\nS'a\\n\\t\\\\\\'\\101\"'\np1\nI01\nsS\"q'\"\nL12345678901234567890L\nsVx\\u00e9\nF-0.25\ns.").done(), 'p0') as PyDict;
    expect([...d.entries()]).toEqual([["a\n\t\\'A\"", true], ["q'", 12345678901234567890n], ['x\u00e9', -0.25]]);
  });

  it('reads a protocol 4 pickle spelled out by hand (FRAME, MEMOIZE, STACK_GLOBAL, bytes, tuples)', () => {
    const body = new Ops()
      .raw(0x7d, 0x94, 0x28) // EMPTY_DICT, MEMOIZE 0, MARK
      .raw(0x8c, 1).text('a').raw(0x94) // 'a' (memo 1)
      .raw(0x5d, 0x94, 0x28) // [ (memo 2)
      .raw(0x4b, 7, 0x4d, 0x34, 0x12, 0x4a).u32(-5).raw(0x8a, 2, 0x00, 0x80) // 7, 0x1234, -5, LONG1 -32768
      .raw(0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x4e, 0x88, 0x89) // 1.5, None, True, False
      .raw(0x8c, 2, 0xc3, 0xa9).raw(0x43, 2, 0x00, 0xff) // 'é' (UTF-8), b'\x00\xff'
      .raw(0x65) // APPENDS
      .raw(0x8c, 1).text('t').raw(0x68, 1, 0x4b, 2, 0x29, 0x87) // 't': ('a', 2, ())
      .raw(0x8c, 1).text('n') // 'n': a 2x2 int16 array, big-endian, Fortran order
      .raw(0x8c, 21).text('numpy.core.multiarray').raw(0x94).raw(0x8c, 12).text('_reconstruct').raw(0x93, 0x94)
      .raw(0x8c, 5).text('numpy').raw(0x94).raw(0x8c, 7).text('ndarray').raw(0x93)
      .raw(0x4b, 0, 0x85, 0x43, 1).text('b').raw(0x87, 0x52, 0x94)
      .raw(0x28, 0x4b, 1, 0x4b, 2, 0x4b, 2, 0x86)
      .raw(0x68, 5).raw(0x8c, 5).text('dtype').raw(0x93).raw(0x8c, 2).text('i2').raw(0x89, 0x88, 0x87, 0x52) // BINGET 5: 'numpy'
      .raw(0x28, 0x4b, 3, 0x8c, 1).text('>').raw(0x4e, 0x4e, 0x4e, 0x4a).u32(-1).raw(0x4a).u32(-1).raw(0x4b, 0, 0x74, 0x62)
      .raw(0x88, 0x43, 8, 0, 1, 0, 2, 0, 3, 0xff, 0xfc, 0x74, 0x62) // is_fortran, data [1, 2, 3, -4] column-major
      .raw(0x75, 0x2e) // SETITEMS, STOP
      .done();
    const bytes = new Ops().raw(0x80, 4, 0x95).u32(body.length).u32(0).bytes(body).done();
    const d = unpickle(bytes, 'p4') as PyDict;
    expect(d.get('a')).toEqual([7, 0x1234, -5, -32768, 1.5, null, true, false, 'é', Uint8Array.from([0, 255])]);
    expect(d.get('t')).toEqual(['a', 2, []]);
    const n = d.get('n') as NdArray;
    expect(n).toBeInstanceOf(NdArray);
    expect(n.dtype).toBe('int16');
    expect(n.shape).toEqual([2, 2]);
    expect([...n.data as Int16Array]).toEqual([1, 3, 2, -4]); // C order
  });

  it('a truncated file, a foreign GLOBAL and other bad files are clear errors naming the file', async () => {
    const labels = [1, 2, 3];
    const good = encodeImageNet16Pickle(patterned(3, 0), labels);
    const dir = tempDir('bad');
    writeFileSync(join(dir, 'train_data_batch_1'), good);
    writeFileSync(join(dir, 'train_data_batch_2'), good.subarray(0, good.length - 700));
    await expect(loadImageNet16(dir, { part: 'train' })).rejects.toThrow(/train_data_batch_2: truncated pickle: .* the file ends at byte \d+ \(incomplete download/);
    expect(() => unpickle(good.subarray(0, good.length - 1), 'cut')).toThrow(/cut: truncated pickle: no STOP opcode/);
    await expect(loadImageNet16(dir, { part: 'valid' })).rejects.toThrow(/imagenet16-120 valid: .* lacks val_data/);
    await expect(loadImageNet16(join(dir, 'nope'), { part: 'train' })).rejects.toThrow(/cannot be read/);

    // os.system('echo hi') as a pickle: refused by name, never run.
    const evil = new Ops().raw(0x80, 2).text('cos\nsystem\n').raw(0x8c, 7).text('echo hi').raw(0x85, 0x52, 0x2e).done();
    expect(() => unpickle(evil, 'evil.pkl')).toThrow(/evil\.pkl: the pickle refers to os\.system, which this reader does not load/);
    const evil4 = new Ops().raw(0x80, 4, 0x8c, 8).text('builtins').raw(0x8c, 4).text('eval').raw(0x93, 0x2e).done();
    expect(() => unpickle(evil4, 'e4')).toThrow(/refers to builtins\.eval/);
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0xff]), 'junk')).toThrow(/junk: unknown pickle opcode 0xff .* at byte 2/);
    expect(() => unpickle(new Uint8Array(0), 'empty')).toThrow(/empty: empty file/);

    expect(() => parseImageNet16Batch(pickleDump([1, 2]), 'list')).toThrow(/list: the pickle holds a list of 2, not a dict with 'data' and 'labels'/);
    expect(() => parseImageNet16Batch(pickleDump({ data: 1 }), 'nolabels')).toThrow(/nolabels: the dict has no 'labels' \(its keys: "data"/);
    const f32 = new NdArray('float32', [1, PX], new Float32Array(PX));
    expect(() => parseImageNet16Batch(pickleDump({ data: f32, labels: [1] }), 'f')).toThrow(/f: 'data' has dtype float32, not uint8/);
    const big = new NdArray('uint8', [1, 3072], new Uint8Array(3072));
    expect(() => parseImageNet16Batch(pickleDump({ data: big, labels: [1] }), 'b')).toThrow(/b: 'data' has shape \[1, 3072\], not \[N, 768\] .*Imagenet32/);
    expect(() => encodeImageNet16Pickle(patterned(2, 0), [1])).toThrow(/encodeImageNet16Pickle: 1536 bytes of images for 1 labels/);
    const twoImages = new NdArray('uint8', [2, PX], patterned(2, 0));
    expect(() => parseImageNet16Batch(pickleDump({ data: twoImages, labels: [1] }), 'n')).toThrow(/n: 1 labels for 2 images/);
    expect(() => parseImageNet16Batch(pickleDump({ data: twoImages, labels: [1, 0] }), 'z')).toThrow(/z: label 1 is 0, not an ImageNet class 1\.\.1000/);
    expect(() => parseImageNet16Batch(pickleDump({ data: twoImages, labels: [1001, 1] }), 'h')).toThrow(/h: label 0 is 1001/);
  });
});

// ---- against Python itself, where python3 with numpy is installed

const python = spawnSync('python3', ['-c', 'import numpy, sys; sys.stdout.write(numpy.arange(1).__reduce__()[0].__module__)'], { encoding: 'utf8' });
const hasNumpy = python.status === 0;
if (!hasNumpy) console.log('[imagenet16] python3 with numpy not found: the cases against Python are skipped');

describe('ImageNet16 pickles against Python', () => {
  let dir = '';
  const n = 1203; // over 1000 labels: the writer's APPENDS batching is exercised
  let images: Uint8Array, labels: number[];
  beforeAll(() => {
    if (!hasNumpy) return;
    const next = rng(freshSeed('imagenet16 python'));
    dir = tempDir('python');
    images = Uint8Array.from({ length: n * PX }, () => Math.floor(next() * 256));
    labels = Array.from({ length: n }, () => 1 + Math.floor(next() * 1000));
    writeFileSync(join(dir, 'images.raw'), images);
    writeFileSync(join(dir, 'labels.txt'), labels.join(' '));
    const script = `
import pickle, sys, numpy as np
d = sys.argv[1]
x = np.fromfile(d + '/images.raw', dtype=np.uint8).reshape(-1, 768)
y = [int(v) for v in open(d + '/labels.txt').read().split()]
open(d + '/expected_p2', 'wb').write(pickle.dumps({'data': x, 'labels': y}, protocol=2))
open(d + '/expected_p2_mean', 'wb').write(pickle.dumps({'data': x, 'labels': y, 'mean': np.mean(x, axis=0)}, protocol=2))
for i, p in enumerate([0, 1, 2, 3, 4, 5]):
    part = slice(i * 200, (i + 1) * 200)
    with open(d + '/train_data_batch_%d' % (i + 1), 'wb') as f:
        pickle.dump({'data': x[part], 'labels': y[part], 'mean': np.mean(x[part], axis=0)}, f, protocol=p)
with open(d + '/val_data', 'wb') as f:
    pickle.dump({'data': x[1200:], 'labels': y[1200:]}, f)
m = {'f': np.asfortranarray(np.arange(6, dtype='>i4').reshape(2, 3)), 'i8': np.array([-3, 2**40], dtype=np.int64),
     'f4': np.array([1.5, -2], dtype=np.float32), 'b': np.array([True, False]), 's': np.int64(-5), 'by': b'\\x00\\xff',
     'e': b'', 't': (1, 'x', None), 'big': -2**70, 'fl': 0.1, 'u': 'h\\u00e9llo\\n\\\\u \\u2603',
     'long': '\\u00e9\\u2603\\\\' * 30000}
for p in range(6):
    open(d + '/misc_%d' % p, 'wb').write(pickle.dumps(m, protocol=p))
`;
    const r = spawnSync('python3', ['-c', script, dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  });

  it.skipIf(!hasNumpy)('our writer gives the bytes of pickle.dumps(d, protocol=2)', () => {
    const core = python.stdout.startsWith('numpy._core') ? 'numpy._core' : 'numpy.core';
    expect(Buffer.from(encodeImageNet16Pickle(images, labels, { numpyCore: core })).equals(readFileSync(join(dir, 'expected_p2')))).toBe(true);
    expect(Buffer.from(encodeImageNet16Pickle(images, labels, { numpyCore: core, withMean: true })).equals(readFileSync(join(dir, 'expected_p2_mean')))).toBe(true);
  });

  it.skipIf(!hasNumpy)('loads files pickle.dump wrote in protocols 0 to 5, and other numpy values', async () => {
    for (let p = 0; p < 6; p++) {
      const f = join(dir, `train_data_batch_${p + 1}`);
      const d = unpickle(new Uint8Array(readFileSync(f)), f) as PyDict;
      const mean = d.get('mean') as NdArray;
      expect(mean.dtype).toBe('float64');
      let s = 0;
      for (let i = 0; i < 200; i++) s += images[(p * 200 + i) * PX + 5];
      expect(mean.data[5], `protocol ${p}`).toBe(s / 200);
    }
    const train = await loadImageNet16(dir, { part: 'train', classes: 1000 });
    expect(train.count).toBe(1200);
    expect([...train.labels]).toEqual(labels.slice(0, 1200).map((l) => l - 1));
    expect(sameBytes(train.images, images.subarray(0, 1200 * PX))).toBe(true);
    const kept = labels.slice(0, 1200).map((l, i) => ({ l, i })).filter((x) => x.l <= 120);
    const t120 = await loadImageNet16(dir, { part: 'train' });
    expect([...t120.labels]).toEqual(kept.map((x) => x.l - 1));
    expect(sameBytes(t120.images.subarray(-PX), images.subarray(kept.at(-1)!.i * PX, (kept.at(-1)!.i + 1) * PX))).toBe(true);
    const valid = await loadImageNet16(dir, { part: 'valid', classes: 1000 });
    expect([...valid.labels]).toEqual(labels.slice(1200).map((l) => l - 1));

    for (let p = 0; p < 6; p++) {
      const m = unpickle(new Uint8Array(readFileSync(join(dir, `misc_${p}`))), `misc_${p}`) as PyDict;
      const f = m.get('f') as NdArray;
      expect([f.dtype, f.shape, [...f.data as Int32Array]], `protocol ${p}`).toEqual(['int32', [2, 3], [0, 1, 2, 3, 4, 5]]);
      expect([...(m.get('i8') as NdArray).data as BigInt64Array]).toEqual([-3n, 2n ** 40n]);
      expect([...(m.get('f4') as NdArray).data as Float32Array]).toEqual([1.5, -2]);
      expect((m.get('b') as NdArray).dtype).toBe('bool');
      expect([m.get('s'), m.get('by'), m.get('e'), m.get('t'), m.get('big'), m.get('fl'), m.get('u')])
        .toEqual([-5, Uint8Array.from([0, 255]), new Uint8Array(0), [1, 'x', null], -(2n ** 70n), 0.1, 'h\u00e9llo\n\\u \u2603']);
      expect(m.get('long') === '\u00e9\u2603\\'.repeat(30000), `protocol ${p}: a long string`).toBe(true);
    }
  });
});
