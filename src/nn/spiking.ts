// Spiking layers in multi-step mode: every tensor is [T*N, C, H, W], T-major (step t holds
// images t*N .. t*N+N-1), so convs, BNs and pools run once on the stacked steps and only the
// LIF neuron carries state across steps (src/ops/lif.ts). BN statistics are therefore taken
// over all T*N stacked maps (as SpikingJelly's multi-step BN and BrainCog's layer-by-layer
// mode do), and the running statistics average over steps.

import { Tensor, keep } from '../tensor.js';
import { Module } from './module.js';
import { Conv2d } from './layers.js';
import { BatchNorm2d } from './batchnorm.js';
import { lif, LIF_ALPHA, LIF_TAU, LIF_THRESHOLD } from '../ops/lif.js';
import { polarityGate, type Polarity } from '../ops/polarity.js';
import { avgPool2d, maxPool2d } from '../ops/pool.js';
import { needsGrad } from '../tape.js';
import { batchNormReadsInput } from '../ops/batchnorm.js';
import type { Generator } from '../ops/random.js';

export interface LifOptions {
  /** Time steps of the stacked input. */
  T: number;
  tau?: number;
  threshold?: number;
  alpha?: number;
  /** Keep each forward's spike counts per neuron and image ([N, C*H*W], `counts`). Default true. */
  trackSpikes?: boolean;
}

/** LIF neurons, one per input element and step; forward gives spikes of the input's shape. */
export class LIF extends Module {
  /** Spike counts over the T steps of the last forward, [N, C*H*W]; null before one (or untracked). */
  counts: Tensor | null = null;

  constructor(readonly opts: LifOptions) {
    super();
  }

  get T(): number {
    return this.opts.T;
  }

  forward(x: Tensor): Tensor {
    const track = this.opts.trackSpikes ?? true;
    const { spikes, counts } = lif(x, {
      T: this.opts.T, tau: this.opts.tau ?? LIF_TAU, threshold: this.opts.threshold ?? LIF_THRESHOLD,
      alpha: this.opts.alpha ?? LIF_ALPHA, counts: track,
    });
    this.counts?.release();
    this.counts = null;
    if (counts) {
      // Outside every scope: read after the step by spike features; replaced at the next forward.
      this.counts = keep(counts.view([counts.shape[0], counts.size / counts.shape[0]]));
      counts.release();
    }
    return spikes;
  }

  override dispose(): void {
    this.counts?.release();
    this.counts = null;
    super.dispose();
  }
}

export interface SpikingConvOptions extends LifOptions {
  stride?: number;
  /** Excitatory (keep x > 0), inhibitory (keep x < 0), or none (preprocessing, reductions). */
  polarity?: Polarity | null;
  /** BN with scale and shift (default true: BrainCog's final networks). */
  affine?: boolean;
  gen?: Generator;
}

/** MSE-NAS' spiking op: LIF -> conv k x k (padding k/2, no bias) -> BN -> polarity gate. */
export class SpikingConv extends Module {
  readonly lif: LIF;
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  readonly polarity: Polarity | null;

  constructor(cin: number, cout: number, readonly kernel: number, opts: SpikingConvOptions) {
    super();
    if (!Number.isInteger(kernel) || kernel < 1 || kernel % 2 === 0) throw new Error(`SpikingConv: kernel must be an odd positive integer, got ${kernel}`);
    this.lif = new LIF(opts);
    this.conv = new Conv2d(cin, cout, kernel, { stride: opts.stride ?? 1, padding: (kernel - 1) / 2, gen: opts.gen });
    this.bn = new BatchNorm2d(cout, { affine: opts.affine ?? true });
    this.polarity = opts.polarity ?? null;
  }

  forward(x: Tensor): Tensor {
    const s = this.lif.forward(x);
    const z = this.conv.forward(s);
    if (!needsGrad(this.conv.weight)) s.releaseData(); // read only by the weight gradient
    const b = this.bn.forward(z);
    if (!this.bn.keepsInput(z)) z.releaseData();
    if (!this.polarity) return b;
    const y = polarityGate(b, this.polarity);
    // The gate's backward reads its output; BN's reads b only without affine parameters.
    if (!needsGrad(b) || batchNormReadsInput(this.bn)) b.releaseData();
    return y;
  }
}

export type PoolKind = 'avg' | 'max';

/** A spiking pool: LIF -> 3x3 pool (padding 1; the average does not count the padding). */
export class SpikingPool extends Module {
  readonly lif: LIF;

  constructor(readonly kind: PoolKind, readonly stride: number, opts: LifOptions) {
    super();
    this.lif = new LIF(opts);
  }

  forward(x: Tensor): Tensor {
    const s = this.lif.forward(x);
    const pool = { kernel: 3, stride: this.stride, padding: 1 };
    const y = this.kind === 'avg' ? avgPool2d(s, { ...pool, countIncludePad: false }) : maxPool2d(s, pool);
    s.releaseData(); // pool backwards read neither input nor output (max keeps its argmax)
    return y;
  }
}

/** Every LIF layer of a model, in construction order. */
export function lifLayers(model: Module): LIF[] {
  return model.modules().filter((m): m is LIF => m instanceof LIF);
}
