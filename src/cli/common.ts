// What train, eval and search share: loading a dataset from flags, and the run folder.

import { loadCifar } from '../data/cifar.js';
import { syntheticDataset } from '../data/synthetic.js';
import { split, subset, permutation, type ImageDataset } from '../data/dataset.js';
import { UsageError, type FlagTable, type FlagValues } from './flags.js';

export const DATASETS = ['synthetic', 'cifar10', 'cifar100', 'imagenet16', 'dvs128', 'cifar10dvs'] as const;

/** Event-camera sets: samples binned into T frames of 2 polarity channels (src/data/events.ts). */
export const EVENT_DATASETS: readonly string[] = ['dvs128', 'cifar10dvs'];
/**
 * Side of the binned event frames (bionas choice: the 128 x 128 sensor summed onto 64 x 64,
 * a quarter of the bytes and of a spiking network's work; flag --event-size).
 */
export const EVENT_FRAME_SIZE = 64;
/** Frames per event sample when the command has no --timesteps (bionas choice). */
export const EVENT_FRAMES = 8;

export const DATA_FLAGS: FlagTable = {
  dataset: { type: 'string', default: 'synthetic', choices: DATASETS, help: 'dataset; synthetic is generated from --seed and needs no files' },
  data: { type: 'string', help: 'folder with the dataset files (CIFAR binary version, or ImageNet16 pickles); see docs/DATA.md' },
  'train-size': { type: 'int', min: 0, default: 0, help: 'use only this many training images (0: all) — for quick runs' },
  'test-size': { type: 'int', min: 0, default: 0, help: 'use only this many test images (0: all)' },
  'synthetic-size': { type: 'int', min: 16, default: 2000, help: 'images in the synthetic training set (a quarter as many test images)' },
  'image-size': { type: 'int', min: 8, help: 'synthetic data: image side in pixels (default 32; search --preset tiny: 16)' },
  'event-frames': { type: 'int', min: 1, max: 1024, help: `event data (dvs128, cifar10dvs): frames T per sample, 2T channels (default: --timesteps where the command has it, else ${EVENT_FRAMES})` },
  'event-size': { type: 'int', min: 1, max: 128, default: EVENT_FRAME_SIZE, help: 'event data: frame side; the 128 x 128 sensor is summed onto it' },
  'event-binning': { type: 'string', default: 'count', choices: ['count', 'time'], help: 'event data: frames of equal event counts, or of equal time spans (docs/DATA.md)' },
};

/** The synthetic set is RGB bytes, generated in memory at once. */
const SYNTHETIC_CHANNELS = 3;
/** 2 GiB of synthetic images: the default 32x32 set at --synthetic-size's ceiling fits (SIZE_LIMITS). */
export const MAX_SYNTHETIC_BYTES = 2 * 2 ** 30;

export interface LoadedData {
  train: ImageDataset;
  test: ImageDataset;
}

async function loadImageNet16(dir: string, part: 'train' | 'valid'): Promise<ImageDataset> {
  const mod = await import('../data/imagenet16.js');
  return mod.loadImageNet16(dir, { part, classes: 120 });
}

export async function loadData(f: FlagValues, seed: number): Promise<LoadedData> {
  const name = f.dataset as string;
  let train: ImageDataset, test: ImageDataset;
  if (name === 'synthetic') {
    const n = f['synthetic-size'] as number;
    const size = (f['image-size'] as number | undefined) ?? 32;
    const count = n + Math.max(10, Math.floor(n / 4));
    const bytes = count * SYNTHETIC_CHANNELS * size * size;
    if (bytes > MAX_SYNTHETIC_BYTES) {
      throw new UsageError(`--synthetic-size ${n} with --image-size ${size} needs ${(bytes / 2 ** 30).toFixed(1)} GiB of images (with the test quarter); ` +
        `at most ${MAX_SYNTHETIC_BYTES / 2 ** 30} GiB: lower one of them`);
    }
    // One draw, cut in two: the test images share the class patterns but not the noise or shifts.
    const all = syntheticDataset({ count, seed, size });
    train = subset(all, Array.from({ length: n }, (_, i) => i), `${all.name}-train`);
    test = subset(all, Array.from({ length: all.count - n }, (_, i) => n + i), `${all.name}-test`);
  } else {
    const dir = f.data as string | undefined;
    if (!dir) throw new UsageError(`--dataset ${name} needs --data DIR (the folder holding its files; see docs/DATA.md)`);
    if (EVENT_DATASETS.includes(name)) {
      const frames = (f['event-frames'] as number | undefined) ?? (f.timesteps as number | undefined) ?? EVENT_FRAMES;
      const size = f['event-size'] as number;
      const o = { frames, mode: f['event-binning'] as 'count' | 'time', height: size, width: size };
      if (name === 'dvs128') {
        const { loadDvsGesture } = await import('../data/dvs128.js');
        [train, test] = await Promise.all([loadDvsGesture(dir, 'train', o), loadDvsGesture(dir, 'test', o)]);
      } else {
        const { loadCifar10Dvs } = await import('../data/cifar10dvs.js');
        [train, test] = await Promise.all([loadCifar10Dvs(dir, 'train', o), loadCifar10Dvs(dir, 'test', o)]);
      }
    } else if (name === 'imagenet16') {
      [train, test] = await Promise.all([loadImageNet16(dir, 'train'), loadImageNet16(dir, 'valid')]);
    } else {
      const variant = name as 'cifar10' | 'cifar100';
      [train, test] = await Promise.all([loadCifar(dir, variant, 'train'), loadCifar(dir, variant, 'test')]);
    }
  }
  const take = (d: ImageDataset, n: number) => (n > 0 && n < d.count ? subset(d, permutation(d.count, seed + 17).subarray(0, n)) : d);
  return { train: take(train, f['train-size'] as number), test: take(test, f['test-size'] as number) };
}

/** Held-out validation from the training set by seed (--valid-size images). */
export function holdOut(d: ImageDataset, validCount: number, seed: number): [ImageDataset, ImageDataset | null] {
  if (validCount <= 0) return [d, null];
  if (validCount >= d.count) throw new UsageError(`--valid-size ${validCount} leaves no training images (the set has ${d.count})`);
  return split(d, d.count - validCount, seed);
}

export function defaultRunDir(kind: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `runs/${kind}-${stamp}`;
}
