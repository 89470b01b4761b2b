// Peak GPU memory of a search step per batch size, measured without waiting for the GPU.
// The pool counts bytes as tensors are created and released while a step is encoded, so one
// first-order search step encoded at each batch size gives its peak exactly, however slow the
// adapter is to run it. The largest batches a CPU machine cannot hold are extrapolated from
// the two largest measured: activations grow linearly with the batch, weights and optimizer
// state do not.

import { gpu } from '../gpu/runtime.js';
import { Tensor } from '../tensor.js';
import { Generator, randomNormal } from '../ops/random.js';
import { searchStep, makeOptimizers, newStats, releaseStats, type DartsConfig } from './darts.js';
import type { Supernet } from './supernet.js';

export interface MemoryPoint {
  batch: number;
  bytes: number;
  measured: boolean;
}

/**
 * Peak pool bytes of one search step (alpha step and weight step, weights, optimizer state and
 * both batches included) at each of `batches`, for images [channels, size, size]. The GPU runs
 * the encoded steps in the background: call this in a process that exits afterwards, or sync.
 */
export function measureSearchMemory(model: Supernet, config: DartsConfig, batches: number[], image: { channels: number; size: number; classes: number }): MemoryPoint[] {
  const rt = gpu();
  const gen = new Generator(config.seed);
  const { wOpt, aOpt } = makeOptimizers(model, config);
  const stats = newStats();
  const points: MemoryPoint[] = [];
  for (const batch of batches) {
    rt.pool.resetPeak();
    const make = () => ({
      x: randomNormal([batch, image.channels, image.size, image.size], gen),
      y: Tensor.fromData(Int32Array.from({ length: batch }, (_, i) => i % image.classes), [batch], 'i32'),
      index: 0,
    });
    const train = make(), valid = make();
    // searchStep only awaits in second order (one norm read back); first order encodes at once.
    void searchStep(model, train, valid, { ...config, secondOrder: false }, config.lr, wOpt, aOpt, stats);
    points.push({ batch, bytes: rt.pool.peakLiveBytes, measured: true });
    for (const t of [train.x, train.y, valid.x, valid.y]) t.release();
  }
  releaseStats(stats);
  wOpt.dispose();
  aOpt.dispose();
  return points;
}

/** Bytes per image between the two largest measured batches, and the largest point. */
export function memoryPerImage(points: MemoryPoint[]): { perImage: number; largest: MemoryPoint } {
  const sorted = [...points].sort((a, b) => a.batch - b.batch);
  if (sorted.length < 2) throw new Error('memoryPerImage: needs two measured batch sizes');
  const [p, q] = sorted.slice(-2);
  return { perImage: (q.bytes - p.bytes) / (q.batch - p.batch), largest: q };
}

/** Peak bytes at `batch`, linear through the two largest measured points (or the point itself). */
export function extrapolateMemory(points: MemoryPoint[], batch: number): MemoryPoint {
  const exact = points.find((p) => p.batch === batch);
  if (exact) return exact;
  const { perImage, largest } = memoryPerImage(points);
  return { batch, bytes: Math.round(largest.bytes + (batch - largest.batch) * perImage), measured: false };
}
