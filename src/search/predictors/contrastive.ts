// DCL-ENAS's predictor (SPEC section 8): an MLP encoder over the NB201 path code, trained in
// two stages on the bionas engine.
//  1. Self-supervised contrastive pre-training on unlabeled cells: InfoNCE over a batch, the
//     positive of a cell an augmented view of it (a different cell with the same computation,
//     else a one-edge mutation at the smallest path-code distance), the other views of the
//     batch its negatives: logits = z z'^T / temperature, cross-entropy against the diagonal.
//     The embeddings are NOT normalised to the unit sphere (the engine has no row-norm op);
//     Adam's weight decay keeps their scale bounded instead, so `temperature` only sets the
//     initial sharpness.
//  2. Fine-tuning on labelled cells with a pairwise logistic ranking loss: for a pair with
//     acc_i > acc_j, log(1 + exp(s_j - s_i)) = cross-entropy of the logits [s_i, s_j] against
//     class 0. Only the order of the scores means anything.
// The paper publishes neither the encoder, the losses nor their settings: each is an option here.
// Measured (test/dcl.test.ts, 100 labelled cells, 1,000 held out): stage 1 did not raise the
// Kendall tau of stage 2 beyond noise (about 0.63-0.64 against the 12-epoch validation accuracy
// either way, seed spread 0.59-0.68).

import { Tensor, scope } from '../../tensor.js';
import { backward } from '../../autograd.js';
import { noGrad } from '../../context.js';
import { Generator } from '../../ops/random.js';
import { matmul } from '../../ops/matmul.js';
import { scale, relu } from '../../ops/elementwise.js';
import { crossEntropy } from '../../ops/loss.js';
import { reshape } from '../../nn/basic.js';
import { Linear } from '../../nn/layers.js';
import { Adam } from '../../optim/adam.js';
import { mulberry32 } from '../../data/dataset.js';
import {
  type Nb201Cell, PATH_CODE_LENGTH, encodePaths, computationKey, neighbours, pathDistance,
  NB201_CELL_COUNT, cellFromId, cellId,
} from '../../benchmarks/nb201/encoding.js';

export type PositiveView = 'isomorphic' | 'nearest';

export interface ContrastiveOptions {
  /** Hidden width of the encoder MLP (code -> hidden -> embed). */
  hidden: number;
  /** Embedding width; the score head reads relu(embedding). */
  embed: number;
  /** Stage 1 steps (0: no pre-training). */
  pretrainSteps: number;
  /** Cells per stage 1 batch (each with one positive, the rest of the batch as negatives). */
  pretrainBatch: number;
  /** InfoNCE temperature. */
  temperature: number;
  /**
   * Stage 1 positive: 'isomorphic' takes a cell with the same computation when one exists,
   * else a nearest one-edge mutation; 'nearest' always takes a nearest one-edge mutation.
   */
  positive: PositiveView;
  pretrainLr: number;
  /** Stage 2 steps per fine-tuning call. */
  fineTuneSteps: number;
  /** Pairs of labelled cells per stage 2 step. */
  pairsPerStep: number;
  fineTuneLr: number;
  /** Adam weight decay, both stages. */
  weightDecay: number;
  seed: number;
}

/** Defaults chosen on the 100-labelled-cell experiment of test/dcl.test.ts (small, fast on llvmpipe). */
export const CONTRASTIVE_DEFAULTS: ContrastiveOptions = {
  hidden: 64,
  embed: 32,
  pretrainSteps: 200,
  pretrainBatch: 64,
  temperature: 0.5,
  positive: 'isomorphic',
  pretrainLr: 3e-3,
  fineTuneSteps: 200,
  pairsPerStep: 128,
  fineTuneLr: 3e-3,
  weightDecay: 1e-4,
  seed: 0,
};

/** The CPU generator that samples cells and pairs (mulberry32). */
export const cpuRandom = mulberry32;

/** Cells grouped by computation, built once (15,625 keys). */
let computationGroups: Map<string, number[]> | null = null;
function groupOf(cell: Nb201Cell): number[] {
  if (!computationGroups) {
    computationGroups = new Map();
    for (let id = 0; id < NB201_CELL_COUNT; id++) {
      const key = computationKey(cellFromId(id));
      const g = computationGroups.get(key);
      if (g) g.push(id); else computationGroups.set(key, [id]);
    }
  }
  return computationGroups.get(computationKey(cell))!;
}

/** An augmented view of `cell` for stage 1 (see PositiveView). */
export function positiveView(cell: Nb201Cell, mode: PositiveView, rand: () => number): Nb201Cell {
  if (mode === 'isomorphic') {
    const id = cellId(cell);
    const others = groupOf(cell).filter((o) => o !== id);
    if (others.length > 0) return cellFromId(others[Math.floor(rand() * others.length)]);
  }
  const near = neighbours(cell).map((n) => ({ n, d: pathDistance(cell, n) }));
  const best = Math.min(...near.map((x) => x.d));
  const ties = near.filter((x) => x.d === best);
  return ties[Math.floor(rand() * ties.length)].n;
}

function codes(cells: readonly Nb201Cell[]): Tensor {
  const data = new Float32Array(cells.length * PATH_CODE_LENGTH);
  cells.forEach((c, i) => encodePaths(c, data, i * PATH_CODE_LENGTH));
  return Tensor.fromData(data, [cells.length, PATH_CODE_LENGTH]);
}

export class ContrastivePredictor {
  readonly opts: ContrastiveOptions;
  private readonly fc1: Linear;
  private readonly fc2: Linear;
  private readonly head: Linear;
  private readonly rand: () => number;
  private fineTuner: Adam | null = null;

  constructor(opts: Partial<ContrastiveOptions> = {}) {
    // An option given as undefined keeps its default.
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
    this.opts = { ...CONTRASTIVE_DEFAULTS, ...given };
    const gen = new Generator(this.opts.seed);
    this.fc1 = new Linear(PATH_CODE_LENGTH, this.opts.hidden, { gen });
    this.fc2 = new Linear(this.opts.hidden, this.opts.embed, { gen });
    this.head = new Linear(this.opts.embed, 1, { gen });
    this.rand = cpuRandom(this.opts.seed + 1);
  }

  /** Releases the weights and the fine-tuning optimizer's state (the predictor is unusable after). */
  dispose(): void {
    this.fineTuner?.dispose();
    this.fineTuner = null;
    for (const layer of [this.fc1, this.fc2, this.head]) layer.dispose();
  }

  private encode(x: Tensor): Tensor {
    return this.fc2.forward(relu(this.fc1.forward(x)));
  }

  private score(x: Tensor): Tensor {
    return this.head.forward(relu(this.encode(x)));
  }

  private encoderParams(): Tensor[] {
    return [...this.fc1.parameters(), ...this.fc2.parameters()];
  }

  /** Stage 1 on cells drawn uniformly from the whole space (no labels used). Returns the last loss. */
  async pretrain(steps = this.opts.pretrainSteps): Promise<number> {
    if (steps <= 0) return NaN;
    const { pretrainBatch: B, temperature, positive } = this.opts;
    const opt = new Adam(this.encoderParams(), { lr: this.opts.pretrainLr, weightDecay: this.opts.weightDecay });
    const labels = Tensor.fromData(Int32Array.from({ length: B }, (_, i) => i), [B], 'i32');
    let last: Tensor | null = null;
    for (let s = 0; s < steps; s++) {
      const anchors: Nb201Cell[] = [];
      const seen = new Set<string>();
      // Distinct computations in a batch: an isomorphic twin among the negatives would be a false negative.
      while (anchors.length < B) {
        const c = cellFromId(Math.floor(this.rand() * NB201_CELL_COUNT));
        const k = computationKey(c);
        if (seen.has(k)) continue;
        seen.add(k);
        anchors.push(c);
      }
      const views = anchors.map((c) => positiveView(c, positive, this.rand));
      const xa = codes(anchors);
      const xb = codes(views);
      last?.release();
      last = trainStep(opt, () => crossEntropy(scale(matmul(this.encode(xa), this.encode(xb), { transB: true }), 1 / temperature), labels));
      xa.release();
      xb.release();
    }
    labels.release();
    opt.dispose();
    const value = await last!.item();
    last!.release();
    return value;
  }

  /** Stage 2: pairwise logistic ranking on labelled cells (higher accuracy = higher score). Returns the last loss. */
  async fineTune(cells: readonly Nb201Cell[], accuracy: readonly number[], steps = this.opts.fineTuneSteps): Promise<number> {
    if (cells.length !== accuracy.length) throw new Error(`fineTune: ${cells.length} cells but ${accuracy.length} accuracies`);
    if (cells.length < 2) throw new Error(`fineTune: needs at least 2 labelled cells, got ${cells.length}`);
    const n = cells.length;
    if (accuracy.every((a) => a === accuracy[0])) throw new Error(`fineTune: all ${n} accuracies are equal (${accuracy[0]}); a ranking needs two that differ`);
    const P = this.opts.pairsPerStep;
    // One optimizer across calls so the EA's repeated fine-tuning keeps Adam's moments.
    this.fineTuner ??= new Adam([...this.encoderParams(), ...this.head.parameters()], { lr: this.opts.fineTuneLr, weightDecay: this.opts.weightDecay });
    const opt = this.fineTuner;
    const x = codes(cells);
    const labels = Tensor.fromData(new Int32Array(P), [P], 'i32');
    const select = new Float32Array(2 * P * n);
    let last: Tensor | null = null;
    for (let s = 0; s < steps; s++) {
      select.fill(0);
      for (let p = 0; p < P; p++) {
        let i = Math.floor(this.rand() * n);
        let j = Math.floor(this.rand() * n);
        while (accuracy[i] === accuracy[j]) { i = Math.floor(this.rand() * n); j = Math.floor(this.rand() * n); }
        if (accuracy[i] < accuracy[j]) [i, j] = [j, i];
        select[(2 * p) * n + i] = 1; // row 2p picks the better cell: class 0
        select[(2 * p + 1) * n + j] = 1;
      }
      const sel = Tensor.fromData(select, [2 * P, n]);
      last?.release();
      last = trainStep(opt, () => crossEntropy(reshape(matmul(sel, this.score(x)), [P, 2]), labels));
      sel.release();
    }
    x.release();
    labels.release();
    const value = await last!.item();
    last!.release();
    return value;
  }

  /** One score per cell; only their order is meaningful. */
  async predict(cells: readonly Nb201Cell[]): Promise<Float32Array> {
    const x = codes(cells);
    const out = noGrad(() => this.score(x));
    const data = (await out.data()) as Float32Array;
    out.release();
    x.release();
    return Float32Array.from(data.subarray(0, cells.length));
  }
}

/** Kendall's tau-b of two equally long sequences (ties in either count as neither order). */
export function kendallTau(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`kendallTau: lengths ${a.length} and ${b.length} differ`);
  let concordant = 0, discordant = 0, tiesA = 0, tiesB = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      const da = Math.sign(a[i] - a[j]);
      const db = Math.sign(b[i] - b[j]);
      if (da === 0 && db === 0) continue;
      if (da === 0) tiesA++;
      else if (db === 0) tiesB++;
      else if (da === db) concordant++;
      else discordant++;
    }
  }
  const denom = Math.sqrt((concordant + discordant + tiesA) * (concordant + discordant + tiesB));
  return denom === 0 ? 0 : (concordant - discordant) / denom;
}

/** One optimisation step on the loss `f` builds: backward, step, zero; returns the loss, kept past the scope. */
function trainStep(opt: Adam, f: () => Tensor): Tensor {
  return scope(() => {
    const loss = f();
    backward(loss);
    opt.step();
    opt.zeroGrad();
    return loss;
  });
}
