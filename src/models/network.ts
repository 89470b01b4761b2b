// NetworkCIFAR (DARTS' final network) built from a genotype: a 3x3 stem to 3C channels,
// `layers` cells with reductions at 1/3 and 2/3 of the depth (channels double there), an
// auxiliary head on the output of the cell at 2/3 (training only; drop path too: neither runs in
// eval mode or an evaluating step context), global average pooling
// and a linear classifier. Each edge's op uses the edge's learning rule; the stem,
// preprocessing, classifier and auxiliary head use BP (SPEC 2, 5), or `bodyRule` when one is
// given (`bionas train --rules single:RULE --rules-everywhere`).

import { Tensor } from '../tensor.js';
import { Module, Identity } from '../nn/module.js';
import { Conv2d, Linear, type LayerOptions } from '../nn/layers.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { GlobalAvgPool, AvgPool2d, reshape } from '../nn/basic.js';
import { relu, add } from '../ops/elementwise.js';
import { concat } from '../ops/concat.js';
import { dropPath } from '../ops/droppath.js';
import { Generator } from '../ops/random.js';
import { tapOutput } from '../rules/dfa.js';
import { makeOp, ReLUConvBN, FactorizedReduce } from './operations.js';
import type { Genotype, GenotypeEdge } from './genotype.js';
import type { RuleName } from '../rules/rule.js';

export class Cell extends Module {
  readonly preprocess0: Module;
  readonly preprocess1: Module;
  readonly ops: Module[];
  readonly edges: GenotypeEdge[];
  readonly concatStates: number[];
  dropPathProb = 0;

  constructor(genotype: Genotype, cPrevPrev: number, cPrev: number, readonly C: number, readonly reduction: boolean, reductionPrev: boolean, private gen: Generator, numClasses?: number, bodyRule: RuleName = 'bp') {
    super();
    const bp: LayerOptions = bodyLayer(bodyRule, gen, numClasses);
    this.preprocess0 = reductionPrev ? new FactorizedReduce(cPrevPrev, C, true, bp) : new ReLUConvBN(cPrevPrev, C, 1, 1, 0, true, bp);
    this.preprocess1 = new ReLUConvBN(cPrev, C, 1, 1, 0, true, bp);
    this.edges = reduction ? genotype.reduce : genotype.normal;
    this.concatStates = reduction ? genotype.reduce_concat : genotype.normal_concat;
    this.ops = this.edges.map((e) => makeOp(e.op, { C, stride: reduction && e.input < 2 ? 2 : 1, affine: true, layer: { rule: e.rule, gen, numClasses } }));
  }

  get multiplier(): number {
    return this.concatStates.length;
  }

  forward(s0: Tensor, s1?: Tensor): Tensor {
    const states = [this.preprocess0.forward(s0), this.preprocess1.forward(s1!)];
    for (let node = 0; node < this.edges.length / 2; node++) {
      let sum: Tensor | null = null;
      for (const k of [2 * node, 2 * node + 1]) {
        let h = this.ops[k].forward(states[this.edges[k].input]);
        if (this.isLearning() && this.dropPathProb > 0 && !(this.ops[k] instanceof Identity)) h = dropPath(h, this.dropPathProb, this.gen);
        sum = sum ? add(sum, h) : h;
      }
      states.push(sum!);
    }
    return concat(this.concatStates.map((i) => states[i]), 1);
  }
}

/** Layers outside the edges: BP (SPEC 2), or one rule everywhere; non-BP layers start from xavier, as the edges' convs do. */
function bodyLayer(rule: RuleName, gen: Generator, numClasses?: number): LayerOptions {
  return rule === 'bp' ? { rule, gen } : { rule, gen, numClasses, init: 'xavier' };
}

/** DARTS' auxiliary pooling on its 8x8 map (CIFAR at 32x32): window 5, stride 3, giving 2x2. */
const DARTS_AUX_POOL = { side: 8, kernel: 5, stride: 3 };

/**
 * The auxiliary head's pooling for a square map of side `h`: DARTS' window 5 stride 3 on 8x8;
 * on any other side (4x4 for ImageNet16-120's 16x16 inputs, 16x16 for 64x64 inputs) a window
 * and stride that also give the 2x2 map the head's 2x2 conv expects (bionas choice): below 8,
 * window h-1 stride 1 (4x4: window 3 stride 1, overlapping like DARTS'); above 8, stride
 * floor(h/2) and window h - stride.
 */
export function auxPoolFor(h: number): { kernel: number; stride: number } {
  if (h < 2) throw new Error(`AuxiliaryHead: its input map is ${h}x${h}; it needs at least 2x2 (use fewer reductions or larger images, or leave --auxiliary off)`);
  if (h === DARTS_AUX_POOL.side) return { kernel: DARTS_AUX_POOL.kernel, stride: DARTS_AUX_POOL.stride };
  if (h < DARTS_AUX_POOL.side) return { kernel: h - 1, stride: 1 };
  const stride = Math.floor(h / 2);
  return { kernel: h - stride, stride };
}

/** ReLU, avg pool to 2x2 (auxPoolFor: DARTS' 5/3 on 8x8), 1x1 conv 128, BN, ReLU, 2x2 conv 768, BN, ReLU, linear. */
export class AuxiliaryHead extends Module {
  private readonly pools = new Map<number, AvgPool2d>();
  readonly conv1: Conv2d;
  readonly bn1 = new BatchNorm2d(128);
  readonly conv2: Conv2d;
  readonly bn2 = new BatchNorm2d(768);
  readonly fc: Linear;
  constructor(C: number, numClasses: number, gen: Generator, rule: RuleName = 'bp') {
    super();
    const layer = bodyLayer(rule, gen, numClasses);
    this.conv1 = new Conv2d(C, 128, 1, layer);
    this.conv2 = new Conv2d(128, 768, 2, layer);
    this.fc = new Linear(768, numClasses, layer);
  }
  private pool(x: Tensor): Tensor {
    const [, , h, w] = x.shape;
    if (h !== w) throw new Error(`AuxiliaryHead: needs a square map, got ${h}x${w}`);
    let pool = this.pools.get(h);
    if (!pool) {
      pool = new AvgPool2d({ ...auxPoolFor(h), padding: 0, countIncludePad: false });
      this.pools.set(h, pool);
    }
    return pool.forward(x);
  }
  forward(x: Tensor): Tensor {
    const y = relu(this.bn1.forward(this.conv1.forward(this.pool(relu(x)))));
    const z = relu(this.bn2.forward(this.conv2.forward(y)));
    return this.fc.forward(reshape(z, [z.shape[0], z.size / z.shape[0]]));
  }
}

export interface NetworkOptions {
  C: number;
  layers: number;
  numClasses: number;
  auxiliary: boolean;
  inChannels?: number;
  stemMultiplier?: number;
  /** Rule of the stem, preprocessing, classifier and auxiliary head (default 'bp', SPEC 2). */
  bodyRule?: RuleName;
  gen: Generator;
}

export class NetworkCIFAR extends Module {
  readonly stem: Conv2d;
  readonly stemBn: BatchNorm2d;
  readonly cells: Cell[];
  readonly auxHead: AuxiliaryHead | null;
  readonly pool = new GlobalAvgPool();
  readonly classifier: Linear;
  private auxIndex: number;
  private _dropPath = 0;

  constructor(readonly genotype: Genotype, readonly opts: NetworkOptions) {
    super();
    const { C, layers, numClasses, gen } = opts;
    const stemC = (opts.stemMultiplier ?? 3) * C;
    const bodyRule = opts.bodyRule ?? 'bp';
    this.stem = new Conv2d(opts.inChannels ?? 3, stemC, 3, { ...bodyLayer(bodyRule, gen, numClasses), padding: 1 });
    this.stemBn = new BatchNorm2d(stemC);
    let [cPP, cP, cCur] = [stemC, stemC, C];
    this.cells = [];
    let reductionPrev = false;
    const reductions = [Math.floor(layers / 3), Math.floor((2 * layers) / 3)];
    this.auxIndex = reductions[1];
    let auxC = 0;
    for (let i = 0; i < layers; i++) {
      const reduction = reductions.includes(i);
      if (reduction) cCur *= 2;
      const cell = new Cell(genotype, cPP, cP, cCur, reduction, reductionPrev, gen, numClasses, bodyRule);
      this.cells.push(cell);
      reductionPrev = reduction;
      [cPP, cP] = [cP, cell.multiplier * cCur];
      if (i === this.auxIndex) auxC = cP;
    }
    this.auxHead = opts.auxiliary ? new AuxiliaryHead(auxC, numClasses, gen, bodyRule) : null;
    this.classifier = new Linear(cP, numClasses, bodyLayer(bodyRule, gen, numClasses));
  }

  get dropPathProb(): number {
    return this._dropPath;
  }
  set dropPathProb(p: number) {
    this._dropPath = p;
    for (const c of this.cells) c.dropPathProb = p;
  }

  forwardTrain(x: Tensor): { logits: Tensor; aux: Tensor | null } {
    // DARTS' stem is conv + BN, without ReLU (each cell's preprocessing starts with one).
    let s0 = this.stemBn.forward(this.stem.forward(x));
    let s1 = s0;
    let aux: Tensor | null = null;
    this.cells.forEach((cell, i) => {
      [s0, s1] = [s1, cell.forward(s0, s1)];
      if (i === this.auxIndex && this.auxHead && this.isLearning()) aux = this.auxHead.forward(s1);
    });
    const logits = tapOutput(this.classifier.forward(this.pool.forward(s1)));
    return { logits, aux };
  }

  forward(x: Tensor): Tensor {
    return this.forwardTrain(x).logits;
  }
}
