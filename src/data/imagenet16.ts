// ImageNet16-120 (NAS-Bench-201's downsampled ImageNet) from its published files, with no Python.
//
// Layout (the 16x16 variant of Chrabaszcz, Loshchilov & Hutter 2017, "A Downsampled Variant of
// ImageNet as an Alternative to the CIFAR datasets"): a folder with train_data_batch_1 ..
// train_data_batch_10 and val_data, no extension. Each is a Python pickle of a dict:
//   'data':   numpy uint8 array [N, 768]; a row is 256 R, 256 G, 256 B values, each plane
//             row-major 16x16 (CHW, like CIFAR), so rows are copied as they are;
//   'labels': a list of N ints, 1..1000 (1-based ImageNet class index);
//   'mean':   (train batches) the float64 [768] mean image; not used here, nor by NAS-Bench-201.
// NAS-Bench-201 keeps the images whose 1-based label is <= 120 and trains on label - 1:
// 151,700 train and 6,000 valid images in 120 classes.
//
// Verified by reading the sources (public code search, in the session that wrote this file):
//  - D-X-Y/AutoDL-Projects lib/datasets/DownsampledImageNet.py, class ImageNet16 (the
//    NAS-Bench-201 training code): file names train_data_batch_1..10 and val_data; pickle.load(f,
//    encoding='latin1') under Python 3; np.vstack of entry['data'] then .reshape(-1, 3, 16, 16);
//    targets from entry['labels']; use_num_of_class_only=n keeps `1 <= L <= n`; __getitem__
//    returns target - 1.
//  - same repo, lib/datasets/get_dataset_with_transform.py: 'ImageNet16-120' asserts
//    len(train) == 151700 and len(valid) == 6000 (all 1000 classes: 1281167 and 50000); 120
//    classes; mean [122.68, 116.66, 104.01]/255, std [63.22, 61.26, 65.09]/255.
//  - PatrykChrabaszcz/Imagenet32_Scripts image2numpy_imagenet_{train,val}.py (the authors'
//    generator, shown for Imagenet32/64): rows are list(r) + list(g) + list(b) of the flattened
//    planes as uint8; train files are {'data', 'labels' (list of ints, 1-based), 'mean'
//    (np.mean over the rows)} in 10 shuffled batches; val_data is {'data', 'labels'}; written
//    with pickle.dump's default protocol.
// Not verified (no copy of the release at hand): the pickle protocol of the published files.
// NAS-Bench-201's encoding='latin1' points to Python 2 pickles (protocol 0 by default), so the
// reader takes protocols 0-5, Python 2 and 3 strings, numpy 1.x and 2.x module names.
// Note: dataset.ts's IMAGENET16_MEAN matches the mean above, but its IMAGENET16_STD
// ([0.2471, 0.2435, 0.2616], about CIFAR-10's) does not match NAS-Bench-201's std ([0.2479, 0.2402, 0.2553]).

import { IMAGENET16_MEAN, IMAGENET16_STD, type ImageDataset } from './dataset.js';
import { unpickle, pickleDump, NdArray, type PyDict, type DumpOptions } from './pickle.js';

export const IMAGENET16_PIXELS = 3 * 16 * 16;
export const IMAGENET16_TRAIN_FILES = Array.from({ length: 10 }, (_, i) => `train_data_batch_${i + 1}`);
export const IMAGENET16_VALID_FILE = 'val_data';

export interface ImageNet16Options {
  part: 'train' | 'valid';
  /** Keep the first `classes` ImageNet classes (1-based labels 1..classes): 120 for ImageNet16-120. */
  classes?: number;
  /**
   * Train part: require all ten batches (as NAS-Bench-201 does). Without it, the batches present
   * are read (at least one), like a partial CIFAR-10 folder.
   */
  requireAllBatches?: boolean;
}

/** One file's contents after checking. */
export interface ImageNet16Batch {
  images: Uint8Array;
  /** 1-based, as in the file. */
  labels: Int32Array;
}

/** Parses and checks one batch file's bytes; `file` names it in errors. */
export function parseImageNet16Batch(bytes: Uint8Array, file: string): ImageNet16Batch {
  const d = unpickle(bytes, file);
  if (!(d instanceof Map)) throw new Error(`${file}: the pickle holds ${describe(d)}, not a dict with 'data' and 'labels' (not an ImageNet16 batch file)`);
  const dict = d as PyDict;
  const missing = ['data', 'labels'].filter((k) => !dict.has(k));
  if (missing.length) {
    const keys = [...dict.keys()].map((k) => JSON.stringify(String(k))).join(', ') || 'none';
    throw new Error(`${file}: the dict has no ${missing.map((k) => `'${k}'`).join(' or ')} (its keys: ${keys}; not an ImageNet16 batch file)`);
  }
  const data = dict.get('data');
  if (!(data instanceof NdArray)) throw new Error(`${file}: 'data' is ${describe(data ?? null)}, not a numpy array`);
  if (data.dtype !== 'uint8') throw new Error(`${file}: 'data' has dtype ${data.dtype}, not uint8`);
  const rowSize = data.shape.slice(1).reduce((a, b) => a * b, 1);
  if (data.shape.length < 2 || rowSize !== IMAGENET16_PIXELS) {
    throw new Error(`${file}: 'data' has shape [${data.shape.join(', ')}], not [N, ${IMAGENET16_PIXELS}] (3x16x16 images; ` +
      `${rowSize === 3 * 32 * 32 ? 'this looks like Imagenet32' : rowSize === 3 * 64 * 64 ? 'this looks like Imagenet64' : 'wrong dataset'}?)`);
  }
  const n = data.shape[0];
  const raw = dict.get('labels');
  let list: ArrayLike<number | bigint | boolean | unknown>;
  if (Array.isArray(raw)) list = raw;
  else if (raw instanceof NdArray && /int/.test(raw.dtype) && raw.shape.length === 1) list = raw.data;
  else throw new Error(`${file}: 'labels' is ${describe(raw ?? null)}, not a list of ints`);
  if (list.length !== n) throw new Error(`${file}: ${list.length} labels for ${n} images`);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = list[i];
    const x = typeof v === 'bigint' ? Number(v) : v;
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 1 || x > 1000) {
      throw new Error(`${file}: label ${i} is ${typeof v === 'bigint' ? `${v}` : JSON.stringify(v)}, not an ImageNet class 1..1000`);
    }
    labels[i] = x;
  }
  return { images: data.data as Uint8Array, labels };
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof NdArray) return `a numpy ${v.dtype} array of shape [${v.shape.join(', ')}]`;
  if (v instanceof Uint8Array) return `bytes (${v.length})`;
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (v instanceof Map) return 'a dict';
  return `a ${typeof v} (${String(v).slice(0, 40)})`;
}

export async function loadImageNet16(dir: string, opts: ImageNet16Options): Promise<ImageDataset> {
  const { part, classes = 120, requireAllBatches = false } = opts;
  if (part !== 'train' && part !== 'valid') throw new Error(`imagenet16: part must be 'train' or 'valid', not ${JSON.stringify(part)}`);
  if (!(Number.isInteger(classes) && classes >= 1 && classes <= 1000)) throw new Error(`imagenet16: classes must be an integer 1..1000, not ${classes}`);
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const what = `imagenet16-${classes} ${part}`;
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    throw new Error(`${what}: data folder ${dir} cannot be read`);
  }
  const wanted = part === 'train' ? IMAGENET16_TRAIN_FILES : [IMAGENET16_VALID_FILE];
  // Also accept the parent of NAS-Bench-201's folder name.
  if (!wanted.some((f) => names.includes(f)) && names.includes('ImageNet16')) {
    return loadImageNet16(path.join(dir, 'ImageNet16'), opts);
  }
  const missing = wanted.filter((f) => !names.includes(f));
  const files = wanted.filter((f) => names.includes(f));
  if (files.length === 0 || (missing.length && (part === 'valid' || requireAllBatches))) {
    const npz = names.filter((n) => /^(train_data_batch_\d+|val_data)\.npz$/.test(n));
    const hint = npz.length ? ` (found ${npz.join(', ')}: the .npz release; this reads the pickle release)` : '';
    throw new Error(`${what}: ${dir} lacks ${missing.join(', ')}${hint} (the Downsampled-ImageNet 16x16 pickle files; see docs/DATA.md)`);
  }
  // One file at a time: a real batch is ~100 MB, of which ImageNet16-120 keeps about a tenth.
  const keptImages: Uint8Array[] = [];
  const keptLabels: Int32Array[] = [];
  let count = 0;
  for (const f of files) {
    const full = path.join(dir, f);
    const batch = parseImageNet16Batch(new Uint8Array(await fs.readFile(full)), full);
    let keep = 0;
    for (let i = 0; i < batch.labels.length; i++) if (batch.labels[i] <= classes) keep++;
    const images = new Uint8Array(keep * IMAGENET16_PIXELS);
    const labels = new Int32Array(keep);
    let k = 0;
    for (let i = 0; i < batch.labels.length; i++) {
      if (batch.labels[i] > classes) continue;
      images.set(batch.images.subarray(i * IMAGENET16_PIXELS, (i + 1) * IMAGENET16_PIXELS), k * IMAGENET16_PIXELS);
      labels[k++] = batch.labels[i] - 1;
    }
    keptImages.push(images);
    keptLabels.push(labels);
    count += keep;
  }
  if (count === 0) throw new Error(`${what}: no image in ${files.join(', ')} has a label 1..${classes}`);
  const images = new Uint8Array(count * IMAGENET16_PIXELS);
  const labels = new Int32Array(count);
  let at = 0;
  for (let j = 0; j < keptLabels.length; j++) {
    images.set(keptImages[j], at * IMAGENET16_PIXELS);
    labels.set(keptLabels[j], at);
    at += keptLabels[j].length;
  }
  return {
    name: `imagenet16-${classes}-${part}`, images, labels, count, channels: 3, height: 16, width: 16,
    numClasses: classes, mean: IMAGENET16_MEAN, std: IMAGENET16_STD,
  };
}

export interface EncodeImageNet16Options extends DumpOptions {
  /** Add 'mean' (float64 [768], the mean row) as the published train batches have. */
  withMean?: boolean;
}

/**
 * One batch file in the published layout: {'data': uint8 [N, 768], 'labels': [1-based ints]
 * (, 'mean')}, as the bytes of pickle.dump(d, f, protocol=2) under Python 3 with numpy.
 */
export function encodeImageNet16Pickle(images: Uint8Array, labels1Based: ArrayLike<number>, opts: EncodeImageNet16Options = {}): Uint8Array {
  const n = labels1Based.length;
  if (images.length !== n * IMAGENET16_PIXELS) throw new Error(`encodeImageNet16Pickle: ${images.length} bytes of images for ${n} labels (want ${n * IMAGENET16_PIXELS})`);
  const dict = new Map<string, NdArray | number[]>();
  dict.set('data', new NdArray('uint8', [n, IMAGENET16_PIXELS], images));
  dict.set('labels', Array.from(labels1Based));
  if (opts.withMean) {
    const mean = new Float64Array(IMAGENET16_PIXELS);
    for (let i = 0; i < n; i++) for (let j = 0; j < IMAGENET16_PIXELS; j++) mean[j] += images[i * IMAGENET16_PIXELS + j];
    for (let j = 0; j < IMAGENET16_PIXELS; j++) mean[j] /= n; // integer sums are exact: same as np.mean
    dict.set('mean', new NdArray('float64', [IMAGENET16_PIXELS], mean));
  }
  return pickleDump(dict, opts);
}
