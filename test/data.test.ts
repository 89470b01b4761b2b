import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useGpu, rng, freshSeed, expectClose } from './util.js';
import { loadCifar, encodeCifarRecords, parseCifarRecords } from '../src/data/cifar.js';
import { syntheticDataset } from '../src/data/synthetic.js';
import { split, permutation, splitmix32, type ImageDataset } from '../src/data/dataset.js';
import { BatchLoader } from '../src/data/loader.js';

useGpu();

function randomImages(n: number, next: () => number): Uint8Array {
  return Uint8Array.from({ length: n * 3072 }, () => Math.floor(next() * 256));
}

describe('CIFAR binary files', () => {
  it('reads CIFAR-10 batches and CIFAR-100 files written in the official layout', async () => {
    const next = rng(freshSeed('cifar files'));
    const dir = mkdtempSync(join(tmpdir(), 'bionas-cifar-'));
    const imgs1 = randomImages(5, next), imgs2 = randomImages(3, next), test = randomImages(4, next);
    writeFileSync(join(dir, 'data_batch_1.bin'), encodeCifarRecords(imgs1, [0, 1, 2, 3, 9], 'cifar10'));
    writeFileSync(join(dir, 'data_batch_2.bin'), encodeCifarRecords(imgs2, [4, 5, 6], 'cifar10'));
    writeFileSync(join(dir, 'test_batch.bin'), encodeCifarRecords(test, [7, 8, 9, 0], 'cifar10'));
    const train = await loadCifar(dir, 'cifar10', 'train');
    expect(train.count).toBe(8);
    expect([...train.labels]).toEqual([0, 1, 2, 3, 9, 4, 5, 6]);
    expect(train.images.subarray(5 * 3072, 6 * 3072)).toEqual(imgs2.subarray(0, 3072));
    const t = await loadCifar(dir, 'cifar10', 'test');
    expect([...t.labels]).toEqual([7, 8, 9, 0]);

    const dir100 = mkdtempSync(join(tmpdir(), 'bionas-cifar100-'));
    writeFileSync(join(dir100, 'train.bin'), encodeCifarRecords(imgs1, [0, 42, 99, 7, 55], 'cifar100'));
    const c100 = await loadCifar(dir100, 'cifar100', 'train');
    expect([...c100.labels]).toEqual([0, 42, 99, 7, 55]);
    expect(c100.numClasses).toBe(100);
    expect(c100.images).toEqual(imgs1);
  });

  it('a truncated file is named with what is wrong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bionas-bad-'));
    const good = encodeCifarRecords(new Uint8Array(2 * 3072), [1, 2], 'cifar10');
    writeFileSync(join(dir, 'data_batch_1.bin'), good.subarray(0, good.length - 100));
    await expect(loadCifar(dir, 'cifar10', 'train')).rejects.toThrow(/data_batch_1\.bin: 6046 bytes is not a whole number of cifar10 records of 3073 bytes/);
  });

  it('a label out of range, an empty file and a missing folder are clear errors', async () => {
    const bad = encodeCifarRecords(new Uint8Array(3072), [3], 'cifar10');
    bad[0] = 17;
    expect(() => parseCifarRecords(bad, 'cifar10', 'x.bin')).toThrow(/x\.bin: record 0 has label 17, but cifar10 has 10 classes/);
    expect(() => parseCifarRecords(new Uint8Array(0), 'cifar10', 'e.bin')).toThrow(/e\.bin: empty file/);
    await expect(loadCifar('/nonexistent/bionas', 'cifar10', 'train')).rejects.toThrow(/cannot be read/);
    const empty = mkdtempSync(join(tmpdir(), 'bionas-empty-'));
    mkdirSync(join(empty, 'sub'));
    await expect(loadCifar(empty, 'cifar10', 'test')).rejects.toThrow(/has no test_batch\.bin/);
  });
});

describe('splits', () => {
  it('are disjoint, cover the set, and depend only on the seed', () => {
    const d = syntheticDataset({ count: 50, size: 8, seed: 3 });
    const [a, b] = split(d, 30, 7);
    expect(a.count + b.count).toBe(50);
    const [a2] = split(d, 30, 7);
    expect(a2.labels).toEqual(a.labels);
    const p = permutation(50, 7);
    expect(new Set(p).size).toBe(50);
    expect(() => split(d, 60, 1)).toThrow(/split of .*: first part of 60 images out of 50/);
  });
});

/** CPU reference of the augment kernel for one batch. */
function augmentReference(d: ImageDataset, order: Int32Array, first: number, count: number, items: Int32Array, cut: number): Float32Array {
  const { channels: C, height: H, width: W } = d;
  const out = new Float32Array(count * C * H * W);
  for (let b = 0; b < count; b++) {
    const img = order[first + b];
    const [, dx, dy, flip, cy, cx] = items.subarray(b * 6, b * 6 + 6);
    for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const sx = flip ? W - 1 - x + dx : x + dx, sy = y + dy;
      let v = sx >= 0 && sx < W && sy >= 0 && sy < H ? d.images[img * C * H * W + (c * H + sy) * W + sx] / 255 : 0;
      v = (v - d.mean[c]) / d.std[c];
      const lo = Math.floor(cut / 2);
      if (y >= cy - lo && y < cy - lo + cut && x >= cx - lo && x < cx - lo + cut) v = 0;
      out[((b * C + c) * H + y) * W + x] = v;
    }
  }
  return out;
}

describe('GPU batches', () => {
  it('crop, flip, normalise and cutout match the CPU reference, across chunk boundaries', async () => {
    const seed = freshSeed('augment');
    const d = syntheticDataset({ count: 23, size: 9, seed });
    const loader = new BatchLoader(d, { batchSize: 5, shuffle: true, seed, augment: { cropPadding: 2, flip: true, cutout: 4 }, chunkImages: 10 });
    expect(loader.length).toBe(5);
    const order = loader.order(1);
    let seen = 0;
    for (const batch of loader.epoch(1)) {
      const first = batch.index * 5;
      const count = batch.x.shape[0];
      // Recreate the batch's draws the way the loader makes them.
      const rand = splitmix32((seed * 7919 + 1 * 104729 + batch.index * 15485863) >>> 0);
      const items = new Int32Array(count * 6);
      for (let i = 0; i < count; i++) {
        items[i * 6 + 1] = Math.floor(rand() * 5) - 2;
        items[i * 6 + 2] = Math.floor(rand() * 5) - 2;
        items[i * 6 + 3] = rand() < 0.5 ? 1 : 0;
        items[i * 6 + 4] = Math.floor(rand() * 9);
        items[i * 6 + 5] = Math.floor(rand() * 9);
      }
      expectClose(await batch.x.data(), augmentReference(d, order, first, count, items, 4), 1e-5, `batch ${batch.index}`);
      expect([...(await batch.y.data())]).toEqual([...order.subarray(first, first + count)].map((j) => d.labels[j]));
      seen += count;
      batch.x.release();
      batch.y.release();
    }
    expect(seen).toBe(23);
  });

  it('images of more than 4 channels (event frames carry 2T) with per-channel statistics match the CPU reference', async () => {
    const seed = freshSeed('augment 6 channels');
    const next = rng(seed);
    const base = syntheticDataset({ count: 7, size: 5, seed, channels: 6 });
    const d = { ...base, mean: Array.from({ length: 6 }, () => next()), std: Array.from({ length: 6 }, () => 0.1 + next()) };
    const loader = new BatchLoader(d, { batchSize: 7, shuffle: true, seed, augment: { flip: true } });
    const order = loader.order(0);
    const [batch] = [...loader.epoch(0)];
    expect(batch.x.shape).toEqual([7, 6, 5, 5]);
    const rand = splitmix32((seed * 7919) >>> 0);
    const items = new Int32Array(7 * 6);
    for (let i = 0; i < 7; i++) {
      items[i * 6 + 3] = rand() < 0.5 ? 1 : 0;
      items[i * 6 + 4] = Math.floor(rand() * 5);
      items[i * 6 + 5] = Math.floor(rand() * 5);
    }
    expectClose(await batch.x.data(), augmentReference(d, order, 0, 7, items, 0), 1e-5, '6 channels');
    batch.x.release();
    batch.y.release();
    expect(() => new BatchLoader({ ...d, mean: [0.5] }, { batchSize: 2 })).toThrow(/6 channels but 1 means and 6 stds/);
  });

  it('resuming mid-epoch yields the same batches', async () => {
    const d = syntheticDataset({ count: 12, size: 6, seed: 2 });
    const loader = new BatchLoader(d, { batchSize: 4, shuffle: true, seed: 9, augment: { cropPadding: 1, flip: true } });
    const all: Float32Array[] = [];
    for (const b of loader.epoch(3)) { all.push((await b.x.data()) as Float32Array); b.x.release(); b.y.release(); }
    const resumed: Float32Array[] = [];
    for (const b of loader.epoch(3, 1)) { resumed.push((await b.x.data()) as Float32Array); b.x.release(); b.y.release(); }
    expect(resumed).toEqual(all.slice(1));
  });
});
