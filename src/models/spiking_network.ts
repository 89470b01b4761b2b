// A spiking network from an MSE-NAS genome (SPEC 10), run in multi-step mode: the stem (conv
// 3x3 + BN, as DARTS' and BrainCog's NetworkCIFAR) sees the images once and its output is
// repeated over T steps (direct encoding: the same input current at every step; the stem is
// per image, so running it once is the same as running it on T copies), giving [T*N, C, H, W].
// Then the cells: a normal cell per genome cell, a reduction cell (LIF -> conv 3x3 stride 2
// -> BN, channels doubled) before the cells at 1/3 and 2/3 of the depth; each cell reads the
// outputs of the `wiring` previous cells (preprocessed by LIF -> conv -> BN to C channels:
// 1x1, or 3x3 with stride 2^r when r reductions lie between). The head: LIF -> global average
// pool -> linear on every step, logits averaged over the T steps. Backward runs through time
// inside each LIF kernel, so a whole T-step forward+backward is one command encoder.

import { Tensor, scope, fmt } from '../tensor.js';
import { Module } from '../nn/module.js';
import { Conv2d, Linear } from '../nn/layers.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { reshape } from '../nn/basic.js';
import { LIF, SpikingConv, lifLayers, type LifOptions } from '../nn/spiking.js';
import { add, scale } from '../ops/elementwise.js';
import { concat, slice } from '../ops/concat.js';
import { batchNormReadsInput } from '../ops/batchnorm.js';
import { needsGrad } from '../tape.js';
import { globalAvgPool } from '../ops/pool.js';
import { mean, sum } from '../ops/reduce.js';
import { noGrad } from '../autograd.js';
import type { Generator } from '../ops/random.js';
import { MOTIFS, convEdges, type Motif } from '../snn/motifs.js';
import { checkGenome, type CellGene, type SpikingGenome } from '../snn/genome.js';
import { makeSpikingOp, spikingConvName } from '../snn/ops.js';

/** Stem width = STEM_MULTIPLIER * C (DARTS' and BrainCog's NetworkCIFAR: 3). */
export const STEM_MULTIPLIER = 3;

export interface SpikingNetworkOptions extends Omit<LifOptions, 'T'> {
  /** Time steps (BrainCog's `step`). */
  T: number;
  /** Channels of a node in the first cells (doubled at each reduction). */
  C: number;
  numClasses: number;
  inChannels?: number;
  gen?: Generator;
  /** Normal cells; must equal the genome's when given. */
  cells?: number;
  /**
   * 'direct' (default): images [N, inChannels, H, W], the same input at every step (BrainCog's
   * `--encode direct`). 'frames': event frames [N, T * inChannels, H, W], channel t * inChannels + k
   * being channel k of step t (src/data/events.ts: 2t + p), one frame per step.
   */
  encoding?: SpikingEncoding;
}

export type SpikingEncoding = 'direct' | 'frames';

/** Event frames [N, T*c, H, W] (channel t*c + k) to the T-major stack [T*N, c, H, W]. */
export function framesToSteps(x: Tensor, T: number): Tensor {
  if (x.rank !== 4 || x.shape[1] % T) throw new Error(`framesToSteps: input ${fmt(x.shape)} must be [N, T*c, H, W] with T = ${T} dividing the channels`);
  const c = x.shape[1] / T;
  if (T === 1) return x;
  const steps = Array.from({ length: T }, (_, t) => slice(x, 1, t * c, (t + 1) * c));
  const out = concat(steps, 0);
  for (const s of steps) s.releaseData(); // slice's and concat's backwards need only shapes
  return out;
}

interface StateInfo {
  channels: number;
  /** Reductions applied before it. */
  scale: number;
}

/** A normal cell: preprocessing of its `wiring` inputs, the motif's nodes and feedback edges. */
export class SpikingCell extends Module {
  readonly preprocess: SpikingConv[];
  /** Forward edges node by node, then feedback edges (identity edges are Identity modules). */
  readonly ops: Module[];
  readonly motif: Motif;

  constructor(wiring: 2 | 3, gene: CellGene, inputs: StateInfo[], scale: number, readonly C: number, lifOpts: LifOptions, gen?: Generator) {
    super();
    this.motif = MOTIFS[wiring][gene.motif];
    if (!this.motif) throw new Error(`SpikingCell: no motif ${gene.motif} for wiring ${wiring} (0..${MOTIFS[wiring].length - 1})`);
    const convs = convEdges(this.motif).length;
    if (gene.edges.length !== convs) throw new Error(`SpikingCell: motif ${this.motif.name} has ${convs} conv edges, the gene gives ${gene.edges.length}`);
    if (inputs.length !== wiring) throw new Error(`SpikingCell: wiring ${wiring} needs ${wiring} input states, got ${inputs.length}`);
    this.preprocess = inputs.map((s) => {
      const stride = 2 ** (scale - s.scale);
      return new SpikingConv(s.channels, C, stride === 1 ? 1 : 3, { ...lifOpts, stride, gen });
    });
    let k = 0;
    const build = (kind: 'identity' | 'conv') => {
      if (kind === 'identity') return makeSpikingOp('skip_connect', { ...lifOpts, C, stride: 1 });
      const e = gene.edges[k++];
      return makeSpikingOp(spikingConvName(e.kernel, e.polarity), { ...lifOpts, C, stride: 1, gen });
    };
    this.ops = [...this.motif.nodes.flat(), ...this.motif.feedback].map((e) => build(e.kind));
  }

  get outChannels(): number {
    return this.motif.concat.length * this.C;
  }

  run(inputs: Tensor[]): Tensor {
    const m = this.motif;
    if (inputs.length !== this.preprocess.length) throw new Error(`SpikingCell: ${m.name} reads ${this.preprocess.length} states, got ${inputs.length}`);
    const states = inputs.map((x, j) => this.preprocess[j].forward(x));
    // Tensors no backward reads, freed once the output is made: the preprocessed states (BN
    // outputs; BN with affine parameters differentiates from its input, and the next LIF reads
    // only its membranes) and the sums made here (add's backward reads nothing). Gate outputs
    // stay: the polarity gate's backward reads them.
    const freeable = new Set<Tensor>(states.filter((_, j) => batchNormReadsInput(this.preprocess[j].bn)));
    const sum = (a: Tensor, b: Tensor) => {
      const out = add(a, b);
      freeable.add(out);
      return out;
    };
    let k = 0;
    const feedbackBase = m.nodes.flat().length;
    m.nodes.forEach((edges, j) => {
      const node = m.wiring + j;
      let total: Tensor | null = null;
      for (const e of edges) {
        const h = this.ops[k++].forward(states[e.from]);
        total = total ? sum(total, h) : h;
      }
      states.push(total!);
      // Feedback inside the time step: the node's op output is added to an earlier state, which
      // later nodes and the output then read (BrainCog's EvoCell).
      m.feedback.forEach((f, i) => {
        if (f.from === node) states[f.to] = sum(states[f.to], this.ops[feedbackBase + i].forward(states[node]));
      });
    });
    const out = concat(m.concat.map((s) => states[s]), 1);
    for (const t of freeable) t.releaseData();
    return out;
  }

  forward(x: Tensor): Tensor {
    return this.run(Array.from({ length: this.preprocess.length }, () => x));
  }
}

/** Positions (normal-cell indices) before which a reduction cell goes: 1/3 and 2/3 of the depth. */
export function reductionPoints(cells: number): number[] {
  return [...new Set([Math.floor(cells / 3), Math.floor((2 * cells) / 3)])].filter((i) => i > 0);
}

export class SpikingNetwork extends Module {
  readonly stem: Conv2d;
  readonly stemBn: BatchNorm2d;
  /** Normal cells and reductions in order. */
  readonly layers: Module[];
  readonly headLif: LIF;
  readonly classifier: Linear;
  readonly T: number;
  readonly wiring: 2 | 3;
  readonly encoding: SpikingEncoding;

  constructor(readonly genome: SpikingGenome, readonly opts: SpikingNetworkOptions) {
    super();
    checkGenome(genome);
    const { C, T, numClasses, gen } = opts;
    if (!Number.isInteger(T) || T < 1) throw new Error(`SpikingNetwork: T must be a positive integer, got ${T}`);
    if (!Number.isInteger(C) || C < 1) throw new Error(`SpikingNetwork: C must be a positive integer, got ${C}`);
    if (opts.cells !== undefined && opts.cells !== genome.cells.length) throw new Error(`SpikingNetwork: cells ${opts.cells} given, but the genome has ${genome.cells.length}`);
    this.T = T;
    this.wiring = genome.wiring;
    this.encoding = opts.encoding ?? 'direct';
    if (this.encoding !== 'direct' && this.encoding !== 'frames') throw new Error(`SpikingNetwork: encoding must be 'direct' or 'frames', got ${String(this.encoding)}`);
    const lifOpts: LifOptions = { T, tau: opts.tau, threshold: opts.threshold, alpha: opts.alpha, trackSpikes: opts.trackSpikes };
    const stemC = STEM_MULTIPLIER * C;
    this.stem = new Conv2d(opts.inChannels ?? 3, stemC, 3, { padding: 1, gen });
    this.stemBn = new BatchNorm2d(stemC);
    const states: StateInfo[] = Array.from({ length: genome.wiring }, () => ({ channels: stemC, scale: 0 }));
    const reductions = reductionPoints(genome.cells.length);
    this.layers = [];
    let cCur = C;
    let scale = 0;
    genome.cells.forEach((gene, i) => {
      if (reductions.includes(i)) {
        const prev = states[states.length - 1];
        cCur *= 2;
        scale++;
        this.layers.push(new SpikingConv(prev.channels, cCur, 3, { ...lifOpts, stride: 2, gen }));
        states.push({ channels: cCur, scale });
      }
      const cell = new SpikingCell(genome.wiring, gene, states.slice(-genome.wiring), scale, cCur, lifOpts, gen);
      this.layers.push(cell);
      states.push({ channels: cell.outChannels, scale });
    });
    this.headLif = new LIF(lifOpts);
    this.classifier = new Linear(states[states.length - 1].channels, numClasses, { gen });
  }

  /** Logits [N, classes]: the classifier's output averaged over the T steps. */
  forward(x: Tensor): Tensor {
    const T = this.T;
    const n = x.shape[0];
    let repeated: Tensor;
    if (this.encoding === 'frames') {
      // One frame per step: the stem runs on the T*N stacked frames.
      const steps = framesToSteps(x, T);
      repeated = this.stemBn.forward(this.stem.forward(steps));
      if (steps !== x && !needsGrad(this.stem.weight)) steps.releaseData();
    } else {
      // Direct encoding: the same input at every step, T-major.
      const stem = this.stemBn.forward(this.stem.forward(x));
      repeated = T === 1 ? stem : concat(Array.from({ length: T }, () => stem), 0);
      // The stem's BN has affine parameters: its backward reads its input, not this output.
      if (repeated !== stem) stem.releaseData();
    }
    let states = Array.from({ length: this.wiring }, () => repeated);
    // A state leaving the window of the last `wiring` outputs has been read by every layer that
    // reads it, and no backward reads it (only LIFs do, and they keep their membranes; the
    // stem's and reductions' BNs have affine parameters, so they differentiate from their input).
    const retire = (t: Tensor) => {
      if (!states.includes(t) && !t.released) t.releaseData();
    };
    for (const layer of this.layers) {
      const out = layer instanceof SpikingCell ? layer.run(states.slice(-this.wiring)) : layer.forward(states[states.length - 1]);
      const gone = states[0];
      states = [...states.slice(1), out];
      retire(gone);
    }
    const last = states[states.length - 1];
    const features = globalAvgPool(this.headLif.forward(last));
    for (const t of new Set(states)) {
      states = states.filter((s) => s !== t);
      retire(t);
    }
    const logits = this.classifier.forward(features);
    const k = logits.shape[1];
    return reshape(mean(reshape(logits, [T, n * k]), 0), [n, k]);
  }

  /** Per LIF layer, the spike count of each neuron over the T steps of the last forward, [N, F]. Owned by the model. */
  spikeFeatures(): Tensor[] {
    const out = lifLayers(this).map((l) => l.counts);
    if (out.some((c) => !c)) throw new Error('spikeFeatures: needs a forward first, with spike tracking on (trackSpikes)');
    return out as Tensor[];
  }

  /** [1]: spikes per image in the last forward, all layers and steps together (an energy proxy). The caller owns it. */
  spikeCount(): Tensor {
    const features = this.spikeFeatures();
    const n = features[0].shape[0];
    return scope(() => noGrad(() => {
      let total = sum(features[0]);
      for (const f of features.slice(1)) total = add(total, sum(f));
      return scale(total, 1 / n);
    }));
  }
}
