// A synthetic image-classification set made from a seed, for tests and demos: each class is
// a smooth random colour pattern; an image is its class pattern, shifted by a few pixels,
// plus noise. A small CNN learns it in a few hundred steps; chance is 1/classes.

import { splitmix32, type ImageDataset } from './dataset.js';

export interface SyntheticOptions {
  count: number;
  classes?: number;
  size?: number;
  channels?: number;
  seed?: number;
  /** Pixel noise, 0..255 scale. */
  noise?: number;
  /** Largest shift of the pattern, in pixels. */
  shift?: number;
}

export function syntheticDataset(opts: SyntheticOptions): ImageDataset {
  const { count, classes = 10, size = 32, channels = 3, seed = 0, noise = 40, shift = 3 } = opts;
  const rand = splitmix32(seed);
  const patternRand = splitmix32(seed ^ 0x5eed); // class patterns depend on the seed only
  // Per class and channel: a sum of 3 random plane waves.
  const waves = Array.from({ length: classes * channels * 3 }, () => ({
    fx: (patternRand() - 0.5) * 0.6, fy: (patternRand() - 0.5) * 0.6, phase: patternRand() * 6.283, amp: 30 + patternRand() * 40,
  }));
  const px = channels * size * size;
  const images = new Uint8Array(count * px);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = i % classes;
    labels[i] = label;
    const sx = Math.round((rand() * 2 - 1) * shift), sy = Math.round((rand() * 2 - 1) * shift);
    for (let c = 0; c < channels; c++) {
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          let v = 128;
          for (let k = 0; k < 3; k++) {
            const w = waves[(label * channels + c) * 3 + k];
            v += w.amp * Math.sin(w.fx * (x + sx) * 6.283 / 4 + w.fy * (y + sy) * 6.283 / 4 + w.phase);
          }
          v += (rand() * 2 - 1) * noise;
          images[i * px + (c * size + y) * size + x] = Math.max(0, Math.min(255, Math.round(v)));
        }
      }
    }
  }
  return {
    name: `synthetic-${classes}c-${size}px-seed${seed}`, images, labels, count, channels, height: size, width: size,
    numClasses: classes, mean: new Array(channels).fill(0.5), std: new Array(channels).fill(0.25),
  };
}
