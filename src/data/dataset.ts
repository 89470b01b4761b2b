// A dataset in memory: uint8 images in CHW order (as the CIFAR files store them) and labels.
// Images stay uint8 on the CPU and are uploaded to the GPU in chunks; the GPU turns them
// into normalised float batches (src/data/augment.ts).

export interface ImageDataset {
  name: string;
  /** N * channels * height * width bytes, image-major, each image CHW. */
  images: Uint8Array;
  labels: Int32Array;
  count: number;
  channels: number;
  height: number;
  width: number;
  numClasses: number;
  classNames?: string[];
  /** Per-channel mean and std used to normalise (on the 0..1 scale). */
  mean: number[];
  std: number[];
}

export const CIFAR10_MEAN = [0.4914, 0.4822, 0.4465]; // DARTS' normalisation (SPEC 4)
export const CIFAR10_STD = [0.247, 0.2435, 0.2616];
export const CIFAR100_MEAN = [0.5071, 0.4865, 0.4409]; // DARTS' CIFAR-100 values
export const CIFAR100_STD = [0.2673, 0.2564, 0.2762];
export const IMAGENET16_MEAN = [0.481, 0.4574, 0.4078]; // NAS-Bench-201's ImageNet16-120 values
export const IMAGENET16_STD = [63.22 / 255, 61.26 / 255, 65.09 / 255];

export function imageBytes(d: ImageDataset): number {
  return d.channels * d.height * d.width;
}

/** The images and labels at the given indices, as a new dataset. */
export function subset(d: ImageDataset, indices: ArrayLike<number>, name = d.name): ImageDataset {
  const size = imageBytes(d);
  const images = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    if (!(j >= 0 && j < d.count)) throw new Error(`subset of ${d.name}: index ${j} out of range 0..${d.count - 1}`);
    images.set(d.images.subarray(j * size, (j + 1) * size), i * size);
    labels[i] = d.labels[j];
  }
  return { ...d, name, images, labels, count: indices.length };
}

/** Deterministic permutation of 0..n-1 from a seed (Fisher-Yates on a small PRNG). */
export function permutation(n: number, seed: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  const next = splitmix32(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/** mulberry32: another small seeded generator of [0, 1), for the CPU sampling that uses it. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

/**
 * Two disjoint parts by a seeded shuffle: `firstCount` images, then the rest (or `secondCount`).
 * DARTS search: 50/50 of the train set (weights / architecture). Baselines: 45k/5k.
 */
export function split(d: ImageDataset, firstCount: number, seed: number, secondCount?: number): [ImageDataset, ImageDataset] {
  if (!(firstCount > 0 && firstCount < d.count)) throw new Error(`split of ${d.name}: first part of ${firstCount} images out of ${d.count}`);
  const p = permutation(d.count, seed);
  const rest = secondCount ?? d.count - firstCount;
  if (firstCount + rest > d.count) throw new Error(`split of ${d.name}: ${firstCount} + ${rest} images asked, ${d.count} available`);
  return [subset(d, p.subarray(0, firstCount), `${d.name}[train]`), subset(d, p.subarray(firstCount, firstCount + rest), `${d.name}[valid]`)];
}
