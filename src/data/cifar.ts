// CIFAR-10 and CIFAR-100 in the official binary layout.
//   CIFAR-10:  data_batch_1.bin .. data_batch_5.bin, test_batch.bin; records of 1 label byte
//              + 3072 pixel bytes (1024 R, 1024 G, 1024 B, row-major 32x32).
//   CIFAR-100: train.bin, test.bin; records of 1 coarse label byte, 1 fine label byte, 3072 pixels.
// A folder may hold only some CIFAR-10 training batches (a subset): those present are read.

import { CIFAR10_MEAN, CIFAR10_STD, CIFAR100_MEAN, CIFAR100_STD, type ImageDataset } from './dataset.js';

const PIXELS = 3 * 32 * 32;

export type CifarVariant = 'cifar10' | 'cifar100';

export interface RecordLayout {
  labelBytes: number;
  labelIndex: number;
  classes: number;
}

const LAYOUT: Record<CifarVariant, RecordLayout> = {
  cifar10: { labelBytes: 1, labelIndex: 0, classes: 10 },
  cifar100: { labelBytes: 2, labelIndex: 1, classes: 100 },
};

/** Parses one binary file's bytes; `file` names it in errors. */
export function parseCifarRecords(bytes: Uint8Array, variant: CifarVariant, file: string): { images: Uint8Array; labels: Int32Array } {
  const { labelBytes, labelIndex, classes } = LAYOUT[variant];
  const record = labelBytes + PIXELS;
  if (bytes.length === 0) throw new Error(`${file}: empty file`);
  if (bytes.length % record !== 0) {
    throw new Error(`${file}: ${bytes.length} bytes is not a whole number of ${variant} records of ${record} bytes ` +
      `(${Math.floor(bytes.length / record)} records and ${bytes.length % record} bytes left over: truncated or not a ${variant} binary file)`);
  }
  const n = bytes.length / record;
  const images = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const at = i * record;
    const label = bytes[at + labelIndex];
    if (label >= classes) throw new Error(`${file}: record ${i} has label ${label}, but ${variant} has ${classes} classes (corrupt file or wrong dataset)`);
    labels[i] = label;
    images.set(bytes.subarray(at + labelBytes, at + record), i * PIXELS);
  }
  return { images, labels };
}

export async function loadCifar(dir: string, variant: CifarVariant, part: 'train' | 'test'): Promise<ImageDataset> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    throw new Error(`${variant}: data folder ${dir} cannot be read`);
  }
  // Also accept the parent of the official archive's folder.
  const nested = variant === 'cifar10' ? 'cifar-10-batches-bin' : 'cifar-100-binary';
  if (names.includes(nested)) return loadCifar(path.join(dir, nested), variant, part);
  let files: string[];
  if (variant === 'cifar10') {
    files = part === 'test' ? ['test_batch.bin'] : names.filter((n) => /^data_batch_[1-5]\.bin$/.test(n)).sort();
  } else {
    files = [part === 'test' ? 'test.bin' : 'train.bin'];
  }
  const missing = files.filter((f) => !names.includes(f));
  if (files.length === 0 || missing.length) {
    const want = variant === 'cifar10' ? (part === 'test' ? 'test_batch.bin' : 'data_batch_1.bin .. data_batch_5.bin') : files.join(', ');
    throw new Error(`${variant} ${part}: ${dir} has no ${missing.join(', ') || want} (the official binary version; see README "Data")`);
  }
  const parts = await Promise.all(files.map(async (f) => parseCifarRecords(new Uint8Array(await fs.readFile(path.join(dir, f))), variant, path.join(dir, f))));
  const count = parts.reduce((n, p) => n + p.labels.length, 0);
  const images = new Uint8Array(count * PIXELS);
  const labels = new Int32Array(count);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * PIXELS);
    labels.set(p.labels, at);
    at += p.labels.length;
  }
  let classNames: string[] | undefined;
  const meta = variant === 'cifar10' ? 'batches.meta.txt' : 'fine_label_names.txt';
  if (names.includes(meta)) {
    classNames = (await fs.readFile(path.join(dir, meta), 'utf8')).split('\n').map((s) => s.trim()).filter(Boolean);
  }
  const c10 = variant === 'cifar10';
  return {
    name: `${variant}-${part}`, images, labels, count, channels: 3, height: 32, width: 32,
    numClasses: LAYOUT[variant].classes, classNames,
    mean: c10 ? CIFAR10_MEAN : CIFAR100_MEAN, std: c10 ? CIFAR10_STD : CIFAR100_STD,
  };
}

/** Serialises a dataset in the CIFAR binary layout (tests write their own small files). */
export function encodeCifarRecords(images: Uint8Array, labels: ArrayLike<number>, variant: CifarVariant): Uint8Array {
  const { labelBytes, labelIndex } = LAYOUT[variant];
  const record = labelBytes + PIXELS;
  const out = new Uint8Array(labels.length * record);
  for (let i = 0; i < labels.length; i++) {
    out[i * record + labelIndex] = labels[i];
    if (labelBytes === 2) out[i * record] = Math.floor(labels[i] / 5); // a coarse label
    out.set(images.subarray(i * PIXELS, (i + 1) * PIXELS), i * record + labelBytes);
  }
  return out;
}
