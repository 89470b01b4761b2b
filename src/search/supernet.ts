// The supernets: every edge is a MixedOp that runs all pairs of the search space and sums
// their outputs weighted by softmax(alpha) of that edge (DARTS' model_search.py). BN has no
// affine parameters in search; pools are followed by BN. Alphas are [edges x pairs] per cell
// type, shared by all cells of that type, initialised 1e-3 * N(0, 1).
//
// forward(x, alphas) may take a population instead: alphas [G, edges, pairs], x the batch
// repeated G times, copy g mixed by candidate g (BioNAS-EG scores a generation in one pass;
// run it under scoring(G, ...) from src/context.ts: no gradient, nothing learns or updates a
// statistic, and each copy gets its own BN batch statistics).

import { Tensor, fmt } from '../tensor.js';
import { Module } from '../nn/module.js';
import { parameter } from '../nn/module.js';
import { Conv2d, Linear } from '../nn/layers.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { GlobalAvgPool, reshape } from '../nn/basic.js';
import { relu, add } from '../ops/elementwise.js';
import { concat, slice } from '../ops/concat.js';
import { softmax } from '../ops/loss.js';
import { weightedSum } from '../ops/mixed.js';
import { Generator, normalInPlace } from '../ops/random.js';
import { tapOutput } from '../rules/dfa.js';
import { makeOp, ReLUConvBN, FactorizedReduce, startsWithRelu } from '../models/operations.js';
import { needsGrad } from '../tape.js';
import { Nb201ResBlock, NB201_EDGES } from '../models/nb201.js';
import type { SearchSpace } from './space.js';

/** DARTS: alphas start at 1e-3 * N(0, 1) (model_search.py). */
export const ALPHA_INIT_STD = 1e-3;

export class MixedOp extends Module {
  readonly ops: Module[];
  /** Indices (into the space's pairs) of the ops that run: 'none' adds zeros, so it is skipped. */
  readonly active: number[];

  constructor(space: SearchSpace, C: number, stride: number, gen: Generator, numClasses: number) {
    super();
    this.active = space.pairs.map((p, i) => (p.op === 'none' ? -1 : i)).filter((i) => i >= 0);
    this.ops = this.active.map((i) => {
      const p = space.pairs[i];
      return makeOp(p.op, { C, stride, affine: false, poolBn: space.cell === 'darts', layer: { rule: p.rule, gen, numClasses } });
    });
  }

  /** x mixed by `weights` [pairs] (a row of softmax(alpha)), or [G, pairs] for G batch groups. */
  mix(x: Tensor, weights: Tensor): Tensor {
    // relu(x) once for every op that starts with it (16 of the bionas space's 22).
    let r: Tensor | null = null;
    const outs = this.ops.map((op) => (startsWithRelu(op) ? op.forwardFromRelu((r ??= relu(x))) : op.forward(x)));
    if (r && !this.ops.some((op) => startsWithRelu(op) && op.readsRelu())) (r as Tensor).releaseData();
    const w = this.active.length === weights.shape[weights.rank - 1] ? weights : selectEntries(weights, this.active);
    const out = weightedSum(outs, w);
    // Under noGrad (scoring) nothing reads the op outputs again; x itself (skip) is not ours.
    if (!needsGrad(w)) for (const o of new Set(outs)) if (o !== x && !needsGrad(o)) o.releaseData();
    return out;
  }

  forward(): Tensor {
    throw new Error('MixedOp needs its weights: call mix(x, weights)');
  }
}

/** The entries at the given (increasing) indices of the last axis, with gradient. */
function selectEntries(w: Tensor, indices: number[]): Tensor {
  const runs: [number, number][] = [];
  for (const i of indices) {
    const last = runs[runs.length - 1];
    if (last && last[1] === i) last[1] = i + 1;
    else runs.push([i, i + 1]);
  }
  const axis = w.rank - 1;
  const parts = runs.map(([a, b]) => slice(w, axis, a, b));
  return parts.length === 1 ? parts[0] : concat(parts, axis);
}

/**
 * The rows of softmax(alpha), one [pairs] tensor per edge; for a population alpha
 * [G, edges, pairs], one [G, pairs] tensor per edge.
 */
export function edgeWeights(alpha: Tensor): Tensor[] {
  const w = softmax(alpha);
  if (alpha.rank === 3) {
    const [G, E, P] = alpha.shape;
    return Array.from({ length: E }, (_, e) => reshape(slice(w, 1, e, e + 1), [G, P]));
  }
  return Array.from({ length: alpha.shape[0] }, (_, e) => reshape(slice(w, 0, e, e + 1), [alpha.shape[1]]));
}

/** The alphas a forward uses: the model's own, or a population of the same matrices. */
function alphasFor(model: Supernet, alphas: Tensor[] | undefined): Tensor[] {
  if (!alphas) return model.alphas;
  if (alphas.length !== model.alphas.length) throw new Error(`supernet: ${alphas.length} alpha matrices given, the model has ${model.alphas.length}`);
  alphas.forEach((a, i) => {
    const [E, P] = model.alphas[i].shape;
    const ok = a.rank === 2 ? a.shape[0] === E && a.shape[1] === P : a.rank === 3 && a.shape[1] === E && a.shape[2] === P;
    if (!ok) throw new Error(`supernet: alpha ${model.alphaNames[i]} ${fmt(a.shape)} must be [${E}, ${P}] or [candidates, ${E}, ${P}]`);
  });
  return alphas;
}

export class SearchCell extends Module {
  readonly preprocess0: Module;
  readonly preprocess1: Module;
  readonly edges: MixedOp[];

  constructor(space: SearchSpace, readonly steps: number, readonly multiplier: number, cPP: number, cP: number, readonly C: number,
    readonly reduction: boolean, reductionPrev: boolean, gen: Generator, numClasses: number) {
    super();
    const bp = { rule: 'bp' as const, gen };
    this.preprocess0 = reductionPrev ? new FactorizedReduce(cPP, C, false, bp) : new ReLUConvBN(cPP, C, 1, 1, 0, false, bp);
    this.preprocess1 = new ReLUConvBN(cP, C, 1, 1, 0, false, bp);
    this.edges = [];
    for (let i = 0; i < steps; i++) {
      for (let j = 0; j < 2 + i; j++) this.edges.push(new MixedOp(space, C, reduction && j < 2 ? 2 : 1, gen, numClasses));
    }
  }

  run(s0: Tensor, s1: Tensor, weights: Tensor[]): Tensor {
    const states = [this.preprocess0.forward(s0), this.preprocess1.forward(s1)];
    let offset = 0;
    for (let i = 0; i < this.steps; i++) {
      let sum: Tensor | null = null;
      for (let j = 0; j < states.length; j++) {
        const h = this.edges[offset + j].mix(states[j], weights[offset + j]);
        sum = sum ? add(sum, h) : h;
      }
      offset += states.length;
      states.push(sum!);
    }
    return concat(states.slice(-this.multiplier), 1);
  }

  forward(): Tensor {
    throw new Error('SearchCell needs its inputs and weights: call run(s0, s1, weights)');
  }
}

export interface SupernetOptions {
  C: number;
  layers: number;
  numClasses: number;
  steps?: number;
  multiplier?: number;
  stemMultiplier?: number;
  inChannels?: number;
  gen: Generator;
}

/** What the search procedures need of a supernet. */
export interface Supernet extends Module {
  readonly space: SearchSpace;
  /** The architecture parameters: [alphaNormal, alphaReduce] or [alpha] (NB201). */
  readonly alphas: Tensor[];
  /** Names of the alpha matrices, in order ('normal', 'reduce' or 'cell'). */
  readonly alphaNames: string[];
  /** Every parameter but the alphas. */
  weightParameters(): Tensor[];
  /** Intermediate nodes per cell (DARTS: 4). */
  readonly steps: number;
  /** Logits; `alphas` (default: the model's) may be a population, see the header. */
  forward(x: Tensor, alphas?: Tensor[]): Tensor;
}

function initAlpha(edges: number, pairs: number, gen: Generator, name: string): Tensor {
  const a = parameter(Tensor.empty([edges, pairs], 'f32', name), name);
  normalInPlace(a, gen, 0, ALPHA_INIT_STD);
  return a;
}

export class DartsSupernet extends Module implements Supernet {
  readonly stem: Conv2d;
  readonly stemBn: BatchNorm2d;
  readonly cells: SearchCell[];
  readonly pool = new GlobalAvgPool();
  readonly classifier: Linear;
  readonly alphaNormal: Tensor;
  readonly alphaReduce: Tensor;
  readonly alphaNames = ['normal', 'reduce'];
  readonly steps: number;

  constructor(readonly space: SearchSpace, readonly opts: SupernetOptions) {
    super();
    const { C, layers, numClasses, gen } = opts;
    const steps = (this.steps = opts.steps ?? 4);
    const multiplier = opts.multiplier ?? steps;
    const stemC = (opts.stemMultiplier ?? 3) * C;
    this.stem = new Conv2d(opts.inChannels ?? 3, stemC, 3, { padding: 1, gen });
    this.stemBn = new BatchNorm2d(stemC);
    let [cPP, cP, cCur] = [stemC, stemC, C];
    let reductionPrev = false;
    const reductions = [Math.floor(layers / 3), Math.floor((2 * layers) / 3)];
    this.cells = [];
    for (let i = 0; i < layers; i++) {
      const reduction = reductions.includes(i);
      if (reduction) cCur *= 2;
      this.cells.push(new SearchCell(space, steps, multiplier, cPP, cP, cCur, reduction, reductionPrev, gen, numClasses));
      reductionPrev = reduction;
      [cPP, cP] = [cP, multiplier * cCur];
    }
    this.classifier = new Linear(cP, numClasses, { gen });
    const edges = (steps * (steps + 3)) / 2;
    this.alphaNormal = initAlpha(edges, space.pairs.length, gen, 'alpha_normal');
    this.alphaReduce = initAlpha(edges, space.pairs.length, gen, 'alpha_reduce');
  }

  get alphas(): Tensor[] {
    return [this.alphaNormal, this.alphaReduce];
  }

  weightParameters(): Tensor[] {
    const arch = new Set(this.alphas);
    return this.parameters().filter((p) => !arch.has(p));
  }

  forward(x: Tensor, alphas?: Tensor[]): Tensor {
    const [alphaNormal, alphaReduce] = alphasFor(this, alphas);
    const normal = edgeWeights(alphaNormal);
    const reduce = edgeWeights(alphaReduce);
    let s0 = this.stemBn.forward(this.stem.forward(x));
    let s1 = s0;
    for (const cell of this.cells) [s0, s1] = [s1, cell.run(s0, s1, cell.reduction ? reduce : normal)];
    return tapOutput(this.classifier.forward(this.pool.forward(s1)));
  }
}

/** NAS-Bench-201's search cell: 6 mixed edges, output node 3. */
export class Nb201SearchCell extends Module {
  readonly edges: MixedOp[];
  constructor(space: SearchSpace, C: number, gen: Generator, numClasses: number) {
    super();
    this.edges = NB201_EDGES.map(() => new MixedOp(space, C, 1, gen, numClasses));
  }
  run(x: Tensor, weights: Tensor[]): Tensor {
    const nodes = [x];
    for (let i = 1; i <= 3; i++) {
      let sum: Tensor | null = null;
      NB201_EDGES.forEach(([to, from], k) => {
        if (to !== i) return;
        const h = this.edges[k].mix(nodes[from], weights[k]);
        sum = sum ? add(sum, h) : h;
      });
      nodes.push(sum!);
    }
    return nodes[3];
  }
  forward(): Tensor {
    throw new Error('Nb201SearchCell needs its weights: call run(x, weights)');
  }
}

export class Nb201Supernet extends Module implements Supernet {
  readonly stem: Conv2d;
  readonly stemBn: BatchNorm2d;
  readonly layers: Module[];
  readonly lastBn: BatchNorm2d;
  readonly pool = new GlobalAvgPool();
  readonly classifier: Linear;
  readonly alpha: Tensor;
  readonly alphaNames = ['cell'];
  readonly steps = 3;

  constructor(readonly space: SearchSpace, opts: SupernetOptions) {
    super();
    const { C, numClasses, gen } = opts;
    const N = opts.layers;
    this.stem = new Conv2d(opts.inChannels ?? 3, C, 3, { padding: 1, gen });
    this.stemBn = new BatchNorm2d(C);
    this.layers = [];
    let cPrev = C;
    for (const [stage, width] of [C, 2 * C, 4 * C].entries()) {
      if (stage > 0) {
        this.layers.push(new Nb201ResBlock(cPrev, width, gen));
        cPrev = width;
      }
      for (let i = 0; i < N; i++) this.layers.push(new Nb201SearchCell(space, width, gen, numClasses));
    }
    this.lastBn = new BatchNorm2d(cPrev);
    this.classifier = new Linear(cPrev, numClasses, { gen });
    this.alpha = initAlpha(NB201_EDGES.length, space.pairs.length, gen, 'alpha');
  }

  get alphas(): Tensor[] {
    return [this.alpha];
  }

  weightParameters(): Tensor[] {
    return this.parameters().filter((p) => p !== this.alpha);
  }

  forward(x: Tensor, alphas?: Tensor[]): Tensor {
    const weights = edgeWeights(alphasFor(this, alphas)[0]);
    let y = this.stemBn.forward(this.stem.forward(x));
    for (const layer of this.layers) y = layer instanceof Nb201SearchCell ? layer.run(y, weights) : layer.forward(y);
    return tapOutput(this.classifier.forward(this.pool.forward(relu(this.lastBn.forward(y)))));
  }
}

export function buildSupernet(space: SearchSpace, opts: SupernetOptions): Supernet {
  return space.cell === 'nb201' ? new Nb201Supernet(space, opts) : new DartsSupernet(space, opts);
}
