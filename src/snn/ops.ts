// The spiking op catalogue: names to modules, as src/models/operations.ts is for DARTS cells.
// A separate table because these ops live in another time regime: they take T-major stacks
// [T*N, C, H, W] and need T, while the DARTS catalogue's ops take [N, C, H, W], carry a
// learning rule per edge and feed supernets whose tests run every op of ALL_OPS; a spiking op
// there would be valid in DARTS spaces and genotypes where it cannot run. A spiking space is
// data the same way: a list of these names (SPIKING_OPS) and motifs (src/snn/motifs.ts).

import { Module, Identity } from '../nn/module.js';
import { SpikingConv, SpikingPool, type LifOptions } from '../nn/spiking.js';
import type { Generator } from '../ops/random.js';
import type { Polarity } from '../ops/polarity.js';
import type { Kernel } from './genome.js';

export const SPIKING_OPS = [
  'skip_connect',
  'spike_conv_3x3_exc', 'spike_conv_3x3_inh', 'spike_conv_5x5_exc', 'spike_conv_5x5_inh',
  'spike_avg_pool_3x3', 'spike_max_pool_3x3',
] as const;
export type SpikingOpName = (typeof SPIKING_OPS)[number];

export function parseSpikingOp(name: string): SpikingOpName {
  if ((SPIKING_OPS as readonly string[]).includes(name)) return name as SpikingOpName;
  throw new Error(`unknown spiking operation '${name}'; known: ${SPIKING_OPS.join(', ')}`);
}

/** The conv op of a kernel and polarity: spike_conv_<k>x<k>_<polarity>. */
export function spikingConvName(kernel: Kernel, polarity: Polarity): SpikingOpName {
  return parseSpikingOp(`spike_conv_${kernel}x${kernel}_${polarity}`);
}

export interface SpikingOpContext extends LifOptions {
  C: number;
  stride: number;
  gen?: Generator;
}

/** Builds the spiking op `name` on C channels. */
export function makeSpikingOp(name: SpikingOpName, ctx: SpikingOpContext): Module {
  const { C, stride } = ctx;
  switch (name) {
    case 'skip_connect':
      if (stride !== 1) throw new Error(`skip_connect: a spiking cell has no stride-2 identity (stride ${stride}); reductions are their own cells`);
      return new Identity();
    case 'spike_avg_pool_3x3':
      return new SpikingPool('avg', stride, ctx);
    case 'spike_max_pool_3x3':
      return new SpikingPool('max', stride, ctx);
    default: {
      const m = /^spike_conv_(\d)x\d_(exc|inh)$/.exec(name)!;
      return new SpikingConv(C, C, Number(m[1]), { ...ctx, stride, polarity: m[2] as Polarity });
    }
  }
}
