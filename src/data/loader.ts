// Batches from an in-memory dataset, built on the GPU. Per epoch the images are shuffled by
// seed; the uint8 images of a chunk (thousands of images) are uploaded once, and each batch
// uploads only its labels and a few integers per image (crop offset, flip, cutout centre);
// the augment kernel gathers, crops, flips, normalises and cuts out.

import { Tensor, keep } from '../tensor.js';
import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { imageBytes, permutation, splitmix32, type ImageDataset } from './dataset.js';
import augmentSource from '../../shaders/data/augment.wgsl';

const augmentKernel = new Kernel('augment', augmentSource);

export interface AugmentOptions {
  /** Random-crop padding in pixels (0: no crop). */
  cropPadding?: number;
  flip?: boolean;
  /** Cutout square side in pixels (0: none). */
  cutout?: number;
}

export interface LoaderOptions {
  batchSize: number;
  shuffle?: boolean;
  seed?: number;
  augment?: AugmentOptions;
  /** Drop the last incomplete batch (training) or keep it (evaluation). */
  dropLast?: boolean;
  /** Images per GPU upload. */
  chunkImages?: number;
  /**
   * Normalise by the data set's mean and std (default). false yields raw images in [0, 1]:
   * attacks take those and normalise inside the model (src/attack/target.ts).
   */
  normalize?: boolean;
}

export interface Batch {
  /** [B, C, H, W] f32, normalised (or in [0, 1] with normalize: false) */
  x: Tensor;
  /** [B] i32 */
  y: Tensor;
  /** Position of this batch in the epoch. */
  index: number;
}

export class BatchLoader {
  readonly batchSize: number;
  private chunkImages: number;

  constructor(readonly data: ImageDataset, readonly opts: LoaderOptions) {
    if (!(opts.batchSize >= 1 && Number.isInteger(opts.batchSize))) throw new Error(`loader: batch size must be a positive integer, got ${opts.batchSize}`);
    if (!(Number.isInteger(data.channels) && data.channels >= 1)) throw new Error(`loader: channels must be a positive integer, got ${data.channels}`);
    if (data.mean.length !== data.channels || data.std.length !== data.channels) {
      throw new Error(`loader: ${data.name} has ${data.channels} channels but ${data.mean.length} means and ${data.std.length} stds`);
    }
    this.batchSize = opts.batchSize;
    const perBatch = Math.max(1, Math.floor((opts.chunkImages ?? 8192) / opts.batchSize));
    this.chunkImages = perBatch * opts.batchSize;
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.data.count / this.batchSize;
    return this.opts.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  /** The image order of an epoch: a permutation seeded by (seed, epoch), or 0..n-1. */
  order(epoch: number): Int32Array {
    if (!this.opts.shuffle) return Int32Array.from({ length: this.data.count }, (_, i) => i);
    return permutation(this.data.count, ((this.opts.seed ?? 0) * 1000003 + epoch) >>> 0);
  }

  /**
   * Yields the batches of `epoch`, from batch `startBatch` on (resuming mid-epoch gives the
   * same batches as an uninterrupted run). The caller releases each batch's tensors.
   */
  *epoch(epoch: number, startBatch = 0): Generator<Batch> {
    const order = this.order(epoch);
    const size = imageBytes(this.data);
    const aug = this.opts.augment ?? {};
    const total = this.length;
    let chunk: Tensor | null = null;
    let chunkStart = -1;
    // Per channel the mean, then 1/std: any number of channels (event frames carry 2T).
    const C = this.data.channels;
    // normalize: false gives the raw [0, 1] pixels (the attacks normalise inside the model).
    const raw = this.opts.normalize === false;
    const stats = keep(Tensor.fromData(Float32Array.from({ length: 2 * C }, (_, i) => (raw ? (i < C ? 0 : 1) : i < C ? this.data.mean[i] : 1 / this.data.std[i - C])), [2 * C]));
    try {
      for (let b = startBatch; b < total; b++) {
        const first = b * this.batchSize;
        const count = Math.min(this.batchSize, this.data.count - first);
        const cStart = Math.floor(first / this.chunkImages) * this.chunkImages;
        if (cStart !== chunkStart) {
          chunk?.release();
          const n = Math.min(this.chunkImages, this.data.count - cStart);
          const bytes = new Uint8Array(Math.ceil((n * size) / 4) * 4);
          for (let i = 0; i < n; i++) {
            const j = order[cStart + i];
            bytes.set(this.data.images.subarray(j * size, (j + 1) * size), i * size);
          }
          chunk = keep(Tensor.fromData(new Uint32Array(bytes.buffer), [bytes.length / 4], 'u32'));
          chunkStart = cStart;
        }
        // Augmentation draws depend on (seed, epoch, batch) only.
        const rand = splitmix32(((this.opts.seed ?? 0) * 7919 + epoch * 104729 + b * 15485863) >>> 0);
        const items = new Int32Array(count * 6);
        const labels = new Int32Array(count);
        const pad = aug.cropPadding ?? 0;
        for (let i = 0; i < count; i++) {
          items[i * 6] = first + i - cStart;
          items[i * 6 + 1] = pad ? Math.floor(rand() * (2 * pad + 1)) - pad : 0;
          items[i * 6 + 2] = pad ? Math.floor(rand() * (2 * pad + 1)) - pad : 0;
          items[i * 6 + 3] = aug.flip && rand() < 0.5 ? 1 : 0;
          items[i * 6 + 4] = Math.floor(rand() * this.data.height);
          items[i * 6 + 5] = Math.floor(rand() * this.data.width);
          labels[i] = this.data.labels[order[first + i]];
        }
        const x = Tensor.empty([count, this.data.channels, this.data.height, this.data.width], 'f32', 'batch');
        const itemsT = Tensor.fromData(items, [items.length], 'i32');
        gpu().dispatch1d(augmentKernel, { images: chunk!.buffer, items: itemsT.buffer, stats: stats.buffer, out: x.buffer }, {
          n: x.size, channels: C, height: this.data.height, width: this.data.width,
          cut_size: aug.cutout ?? 0, pad0: 0, pad1: 0, pad2: 0,
        }, x.size);
        itemsT.release();
        yield { x, y: Tensor.fromData(labels, [count], 'i32'), index: b };
      }
    } finally {
      chunk?.release();
      stats.release();
    }
  }
}
