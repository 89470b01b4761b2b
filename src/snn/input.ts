// How a spiking network of T steps reads a dataset: images repeated over the T steps (direct
// encoding), or event frames (src/data/events.ts: 2T channels, one frame of 2 polarity channels
// per step), whose frame count must be the network's T.

import type { ImageDataset } from '../data/dataset.js';
import type { EventFrameDataset } from '../data/events.js';
import type { SpikingEncoding } from '../models/spiking_network.js';

export interface SpikingInput {
  encoding: SpikingEncoding;
  /** Channels of one step's input (the stem's input channels). */
  inChannels: number;
}

export function spikingInput(d: ImageDataset, T: number): SpikingInput {
  const frames = (d as Partial<EventFrameDataset>).timeSteps;
  if (frames === undefined) return { encoding: 'direct', inChannels: d.channels };
  if (frames !== T) throw new Error(`${d.name}: event samples of ${frames} frames, but the network has T = ${T} steps (give --event-frames and --timesteps the same value, or leave --event-frames out)`);
  return { encoding: 'frames', inChannels: d.channels / frames };
}
