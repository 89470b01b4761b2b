// The candidate operations of a DARTS / NAS-Bench-201 cell, as a table from name to
// constructor, as in DARTS' operations.py. Every conv inside an op uses the edge's learning
// rule; `affine` is false in search (BN without parameters), true in the final network.
// Convs with a rule other than BP, and the predictive-coding conv, start from xavier-uniform
// weights (the paper, Biotorch); BP ops keep PyTorch's default, as DARTS.
//
// Memory: a supernet edge runs every op, so each op frees its intermediates as soon as no
// recorded backward will read them: a conv's input when its weight gets no gradient (alpha
// steps, scoring), a BN's input when it has no affine parameters (its backward reads the
// output), and everything under noGrad. Ops that start with a ReLU also take it ready-made
// (forwardFromRelu), so a MixedOp computes relu(x) once for all of them.

import { Tensor } from '../tensor.js';
import { Module, Sequential, Identity } from '../nn/module.js';
import { Conv2d, type LayerOptions } from '../nn/layers.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { ReLU, MaxPool2d, AvgPool2d } from '../nn/basic.js';
import { zeros } from '../ops/fill.js';
import { relu } from '../ops/elementwise.js';
import { needsGrad } from '../tape.js';
import { concat, slice } from '../ops/concat.js';
import { HebbianConv } from '../nn/hebbian.js';
import { PredictiveCodingConv } from '../nn/predictive.js';
import { parseRule, getRule } from '../rules/registry.js';
import type { RuleName } from '../rules/rule.js';

export const DARTS_OPS = [
  'none', 'max_pool_3x3', 'avg_pool_3x3', 'skip_connect', 'sep_conv_3x3', 'sep_conv_5x5', 'dil_conv_3x3', 'dil_conv_5x5',
] as const;
export const NB201_OPS = ['none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3'] as const;
export const BIO_OPS = ['hebbian_conv_3x3', 'pc_conv_3x3'] as const;
export const ALL_OPS = [...DARTS_OPS, 'nor_conv_1x1', 'nor_conv_3x3', ...BIO_OPS] as const;
export type OpName = (typeof ALL_OPS)[number];

/**
 * How an op's layers take the learning rule of its edge:
 *   every   every conv inside uses it
 *   reduce  only at stride 2, where the op has convs (skip_connect: FactorizedReduce); at
 *           stride 1 it is the identity, so the rule changes nothing there
 *   none    the op has no layer a rule could change; only 'bp' may be named
 */
export type RuleUse = 'every' | 'reduce' | 'none';

export const OP_RULE_USE: Readonly<Record<OpName, RuleUse>> = {
  none: 'none', max_pool_3x3: 'none', avg_pool_3x3: 'none', skip_connect: 'reduce',
  sep_conv_3x3: 'every', sep_conv_5x5: 'every', dil_conv_3x3: 'every', dil_conv_5x5: 'every',
  nor_conv_1x1: 'every', nor_conv_3x3: 'every',
  // Its filters learn by the Hebbian rule, not by a gradient; its input gradient is exact.
  hebbian_conv_3x3: 'none',
  pc_conv_3x3: 'every',
};

/** Ops with weights (the Hebbian conv's are learnt by its own rule). */
export const OPS_WITH_WEIGHTS: readonly OpName[] = [
  'sep_conv_3x3', 'sep_conv_5x5', 'dil_conv_3x3', 'dil_conv_5x5', 'nor_conv_1x1', 'nor_conv_3x3', 'hebbian_conv_3x3', 'pc_conv_3x3',
];

export function parseOp(name: string): OpName {
  if ((ALL_OPS as readonly string[]).includes(name)) return name as OpName;
  throw new Error(`unknown operation '${name}'; known: ${ALL_OPS.join(', ')}`);
}

/**
 * Whether the rule named on an edge with this op and stride changes nothing: the op has no
 * layer that uses it there (pools, none, skip_connect at stride 1). In the paper's space the
 * three skip_connect pairs of a normal cell are then one identity op under three labels (they
 * also hold three shares of the edge's alpha mass), so a genotype writer should say that the
 * label of such an edge is arbitrary.
 */
export function isRuleArbitrary(op: OpName, stride: number): boolean {
  const use = OP_RULE_USE[op];
  return use === 'none' || (use === 'reduce' && stride === 1);
}

/**
 * Validates one (operation, learning rule) pair, as written in a search space or a genotype:
 * a known op, a registered rule (a string; absent means 'bp') that the op can carry and that
 * pairs with the op. Throws a message without location; callers prefix where the pair is.
 */
export function checkPair(op: unknown, rule: unknown): { op: OpName; rule: RuleName } {
  if (typeof op !== 'string') throw new Error(`'op' must be a string, got ${JSON.stringify(op) ?? String(op)}`);
  if (rule !== undefined && typeof rule !== 'string') throw new Error(`'rule' must be a string naming a learning rule, got ${JSON.stringify(rule) ?? String(rule)}`);
  const parsedOp = parseOp(op);
  const parsedRule = parseRule(rule ?? 'bp');
  if (parsedRule !== 'bp' && OP_RULE_USE[parsedOp] === 'none') {
    const why = OPS_WITH_WEIGHTS.includes(parsedOp) ? 'learns its weights by its own rule, not by a gradient' : 'has no weights';
    throw new Error(`'${parsedOp}' ${why}, so the learning rule '${parsedRule}' cannot apply to it (use rule 'bp')`);
  }
  const unsupported = getRule(parsedRule).unsupportedOps?.[parsedOp];
  if (unsupported) throw new Error(`${parsedOp} with ${parsedRule} is not supported (${unsupported})`);
  return { op: parsedOp, rule: parsedRule };
}

export interface OpContext {
  C: number;
  stride: number;
  /** BN with learnable scale and shift (final network) or without (search). */
  affine: boolean;
  /** Rule and generator for the op's convs. */
  layer: LayerOptions;
  /** Search only: a pool is followed by BN(affine=false), as in DARTS' MixedOp. */
  poolBn?: boolean;
}

/** 'none': zeros (spatially halved at stride 2); no gradient flows. */
export class Zero extends Module {
  constructor(readonly stride: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    const [n, c, h, w] = x.shape;
    return zeros(this.stride === 1 ? x.shape : [n, c, Math.ceil(h / this.stride), Math.ceil(w / this.stride)]);
  }
}

/** An op that begins with relu(x): a MixedOp hands it relu(x), computed once per edge. */
export interface StartsWithRelu {
  forwardFromRelu(r: Tensor): Tensor;
  /** Whether the backward reads r (the first conv's weight gradient). */
  readsRelu(): boolean;
}

export function startsWithRelu(m: Module): m is Module & StartsWithRelu {
  return typeof (m as Partial<StartsWithRelu>).forwardFromRelu === 'function';
}

/** forward(x) of a StartsWithRelu op: relu, the rest, and relu(x) freed when unread. */
function runFromX(op: StartsWithRelu, x: Tensor): Tensor {
  const r = relu(x);
  const y = op.forwardFromRelu(r);
  if (!op.readsRelu()) r.releaseData();
  return y;
}

/** bn(x), freeing x (the caller's intermediate) when the BN's backward does not read it. */
function normalise(bn: BatchNorm2d, x: Tensor): Tensor {
  const y = bn.forward(x);
  if (!bn.keepsInput(x)) x.releaseData();
  return y;
}

/** ReLU, conv, BN. */
export class ReLUConvBN extends Module implements StartsWithRelu {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(cin: number, cout: number, k: number, stride: number, padding: number, affine: boolean, layer: LayerOptions = {}) {
    super();
    this.conv = new Conv2d(cin, cout, k, { ...layer, stride, padding });
    this.bn = new BatchNorm2d(cout, { affine });
  }
  forward(x: Tensor): Tensor {
    return runFromX(this, x);
  }
  forwardFromRelu(r: Tensor): Tensor {
    return normalise(this.bn, this.conv.forward(r));
  }
  readsRelu(): boolean {
    return needsGrad(this.conv.weight);
  }
}

/** ReLU, depthwise k x k (dilated), 1x1 conv, BN. */
export class DilConv extends Module implements StartsWithRelu {
  readonly depthwise: Conv2d;
  readonly pointwise: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(cin: number, cout: number, k: number, stride: number, padding: number, dilation: number, affine: boolean, layer: LayerOptions = {}) {
    super();
    this.depthwise = new Conv2d(cin, cin, k, { ...layer, stride, padding, dilation, groups: cin });
    this.pointwise = new Conv2d(cin, cout, 1, layer);
    this.bn = new BatchNorm2d(cout, { affine });
  }
  forward(x: Tensor): Tensor {
    return runFromX(this, x);
  }
  forwardFromRelu(r: Tensor): Tensor {
    const d = this.depthwise.forward(r);
    const p = this.pointwise.forward(d);
    if (!needsGrad(this.pointwise.weight)) d.releaseData();
    return normalise(this.bn, p);
  }
  readsRelu(): boolean {
    return needsGrad(this.depthwise.weight);
  }
}

/** Two DilConvs without dilation; the stride only in the first. */
export class SepConv extends Module implements StartsWithRelu {
  readonly first: DilConv;
  readonly second: DilConv;
  constructor(cin: number, cout: number, k: number, stride: number, padding: number, affine: boolean, layer: LayerOptions = {}) {
    super();
    this.first = new DilConv(cin, cin, k, stride, padding, 1, affine, layer);
    this.second = new DilConv(cin, cout, k, 1, padding, 1, affine, layer);
  }
  forward(x: Tensor): Tensor {
    return runFromX(this, x);
  }
  forwardFromRelu(r: Tensor): Tensor {
    const y1 = this.first.forwardFromRelu(r);
    const y = this.second.forward(y1);
    // y1 is read back by the second ReLU and by the first BN only when they recorded a node.
    if (!needsGrad(y1)) y1.releaseData();
    return y;
  }
  readsRelu(): boolean {
    return this.first.readsRelu();
  }
}

/** ReLU, two 1x1 stride-2 convs (the second on the input shifted by one pixel), concat, BN. */
export class FactorizedReduce extends Module implements StartsWithRelu {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(cin: number, cout: number, affine: boolean, layer: LayerOptions = {}) {
    super();
    if (cout % 2) throw new Error(`FactorizedReduce: output channels must be even, got ${cout}`);
    this.conv1 = new Conv2d(cin, cout / 2, 1, { ...layer, stride: 2 });
    this.conv2 = new Conv2d(cin, cout / 2, 1, { ...layer, stride: 2 });
    this.bn = new BatchNorm2d(cout, { affine });
  }
  forward(x: Tensor): Tensor {
    return runFromX(this, x);
  }
  forwardFromRelu(r: Tensor): Tensor {
    const [, , h, w] = r.shape;
    const a = this.conv1.forward(r);
    const rows = slice(r, 2, 1, h);
    const shifted = slice(rows, 3, 1, w);
    rows.releaseData(); // slice's backward needs only shapes
    const b = this.conv2.forward(shifted);
    if (!needsGrad(this.conv2.weight)) shifted.releaseData();
    // Odd maps would give the shifted branch a smaller output; DARTS only reduces even maps.
    if (b.shape[2] !== a.shape[2] || b.shape[3] !== a.shape[3]) {
      throw new Error(`FactorizedReduce: input ${h}x${w} must have even height and width`);
    }
    const both = concat([a, b], 1);
    a.releaseData(); // so does concat's
    b.releaseData();
    return normalise(this.bn, both);
  }
  readsRelu(): boolean {
    return needsGrad(this.conv1.weight);
  }
}

/** A pool, followed in search by BN(affine=false); NB201 pools adapt channels with a 1x1 first. */
class Pool extends Module {
  readonly pool: Module;
  readonly bn: BatchNorm2d | null;
  constructor(kind: 'max' | 'avg', ctx: OpContext) {
    super();
    this.pool = kind === 'max' ? new MaxPool2d({ kernel: 3, stride: ctx.stride, padding: 1 }) : new AvgPool2d({ kernel: 3, stride: ctx.stride, padding: 1, countIncludePad: false });
    this.bn = ctx.poolBn ? new BatchNorm2d(ctx.C, { affine: false }) : null;
  }
  forward(x: Tensor): Tensor {
    const y = this.pool.forward(x);
    // The pools' backwards read neither their input nor their output (max keeps its argmax).
    return this.bn ? normalise(this.bn, y) : y;
  }
}

/**
 * The layer options of an op's convs. Bio convs (a rule other than BP, and the predictive-coding
 * conv) start from xavier-uniform weights, as the paper and Biotorch do; BP ops keep PyTorch's
 * default init (DARTS). An explicit `init` wins.
 */
function opLayer(layer: LayerOptions, bio: boolean): LayerOptions {
  return bio || parseRule(layer.rule ?? 'bp') !== 'bp' ? { ...layer, init: layer.init ?? 'xavier' } : layer;
}

/** Builds the op `name` for an edge. */
export function makeOp(name: OpName, ctx: OpContext): Module {
  const { C, stride, affine } = ctx;
  const layer = opLayer(ctx.layer, name === 'pc_conv_3x3');
  switch (name) {
    case 'none':
      return new Zero(stride);
    case 'max_pool_3x3':
      return new Pool('max', ctx);
    case 'avg_pool_3x3':
      return new Pool('avg', ctx);
    case 'skip_connect':
      // At stride 2 the two 1x1 convs of FactorizedReduce carry the edge's rule (SPEC 2).
      return stride === 1 ? new Identity() : new FactorizedReduce(C, C, affine, layer);
    case 'sep_conv_3x3':
      return new SepConv(C, C, 3, stride, 1, affine, layer);
    case 'sep_conv_5x5':
      return new SepConv(C, C, 5, stride, 2, affine, layer);
    case 'dil_conv_3x3':
      return new DilConv(C, C, 3, stride, 2, 2, affine, layer);
    case 'dil_conv_5x5':
      return new DilConv(C, C, 5, stride, 4, 2, affine, layer);
    case 'nor_conv_1x1':
      return new ReLUConvBN(C, C, 1, stride, 0, affine, layer);
    case 'nor_conv_3x3':
      return new ReLUConvBN(C, C, 3, stride, 1, affine, layer);
    case 'hebbian_conv_3x3':
      return new Sequential(new ReLU(), new HebbianConv(C, C, 3, { stride, padding: 1, gen: layer.gen }), new BatchNorm2d(C, { affine }));
    case 'pc_conv_3x3':
      return new Sequential(new PredictiveCodingConv(C, C, 3, { ...layer, stride, padding: 1 }), new BatchNorm2d(C, { affine }));
  }
}
