// Conv2d and Linear: the layers that carry a learning rule.

import { Tensor, type Shape } from '../tensor.js';
import { Module, parameter } from './module.js';
import { conv2d, conv2dBackwardInput, convOutputShape } from '../ops/conv.js';
import { linear, linearBackwardInput } from '../ops/matmul.js';
import { Generator, uniformInPlace } from '../ops/random.js';
import { fillInPlace } from '../ops/fill.js';
import { fans, xavierUniform } from './init.js';
import { createRule, getRule } from '../rules/registry.js';
import { forwardWithRule } from '../rules/route.js';
import type { LayerRule, RuleName } from '../rules/rule.js';

export type InitName = 'default' | 'xavier';

export interface LayerOptions {
  /** A registered learning rule (default 'bp'). */
  rule?: RuleName;
  /** Weight initialisation: PyTorch's default (uniform, bound 1/sqrt(fan_in)) or xavier-uniform (Biotorch). */
  init?: InitName;
  /** Output classes of the network (DFA needs them). */
  numClasses?: number;
  gen?: Generator;
}

let defaultGenerator: Generator | null = null;
/** The generator layers draw from when none is given; reseed with setDefaultSeed. */
export function defaultGen(): Generator {
  return (defaultGenerator ??= new Generator(0));
}
export function setDefaultSeed(seed: number): void {
  defaultGenerator = new Generator(seed);
}

function initWeight(w: Tensor, init: InitName, gen: Generator): void {
  if (init === 'xavier') xavierUniform(w, gen);
  else {
    const bound = 1 / Math.sqrt(fans(w.shape).fanIn);
    uniformInPlace(w, gen, -bound, bound);
  }
}

type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : v);

export interface Conv2dOptions extends LayerOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
}

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly rule: LayerRule;
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(readonly inChannels: number, readonly outChannels: number, kernel: Pair, opts: Conv2dOptions = {}) {
    super();
    const [kh, kw] = pair(kernel);
    this.groups = opts.groups ?? 1;
    if (inChannels % this.groups || outChannels % this.groups) {
      throw new Error(`Conv2d: channels ${inChannels}->${outChannels} are not divisible by groups ${this.groups}`);
    }
    this.stride = pair(opts.stride ?? 1);
    this.padding = pair(opts.padding ?? 0);
    this.dilation = pair(opts.dilation ?? 1);
    const gen = opts.gen ?? defaultGen();
    const shape: Shape = [outChannels, inChannels / this.groups, kh, kw];
    this.weight = parameter(Tensor.empty(shape, 'f32', 'conv.weight'));
    initWeight(this.weight, opts.init ?? 'default', gen);
    this.bias = null;
    if (opts.bias) {
      this.bias = parameter(Tensor.empty([outChannels], 'f32', 'conv.bias'));
      const bound = 1 / Math.sqrt(fans(shape).fanIn);
      uniformInPlace(this.bias, gen, -bound, bound);
    }
    this.rule = createRule(opts.rule ?? 'bp', { weightShape: shape, numClasses: opts.numClasses, dfaShape: convDfaShape(this, opts.numClasses) }, gen);
  }

  get params() {
    return { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups };
  }

  forward(x: Tensor): Tensor {
    const p = this.params;
    return forwardWithRule(this.rule, x, this.weight, this.isLearning(), {
      name: `Conv2d (${this.rule.name})`,
      conv: p,
      exactInputGradient: (g) => conv2dBackwardInput(g, this.weight, x.shape, p),
    }, (input, feedback) => conv2d(input, this.weight, { ...p, bias: this.bias, feedback }));
  }

  outputShape(input: Shape): Shape {
    return convOutputShape(input, this.weight.shape, this.params);
  }
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly rule: LayerRule;

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LayerOptions & { bias?: boolean } = {}) {
    super();
    const gen = opts.gen ?? defaultGen();
    this.weight = parameter(Tensor.empty([outFeatures, inFeatures], 'f32', 'linear.weight'));
    initWeight(this.weight, opts.init ?? 'default', gen);
    this.bias = null;
    if (opts.bias ?? true) {
      this.bias = parameter(Tensor.empty([outFeatures], 'f32', 'linear.bias'));
      if (opts.init === 'xavier') fillInPlace(this.bias, 0);
      else uniformInPlace(this.bias, gen, -1 / Math.sqrt(inFeatures), 1 / Math.sqrt(inFeatures));
    }
    this.rule = createRule(opts.rule ?? 'bp', { weightShape: this.weight.shape, numClasses: opts.numClasses, dfaShape: linearDfaShape(this, opts.numClasses) }, gen);
  }

  forward(x: Tensor): Tensor {
    return forwardWithRule(this.rule, x, this.weight, this.isLearning(), {
      name: `Linear (${this.rule.name})`,
      conv: null,
      exactInputGradient: (g) => linearBackwardInput(g, this.weight),
    }, (input, feedback) => linear(input, this.weight, this.bias, feedback));
  }
}

// DFA's B: [classes, C_in, kh, kw] for a conv (the full input channels: B^T e is an ungrouped
// transposed conv), [classes, in] for a linear layer.
function convDfaShape(conv: { inChannels: number; weight: Tensor }, numClasses?: number): Shape | undefined {
  return numClasses ? [numClasses, conv.inChannels, conv.weight.shape[2], conv.weight.shape[3]] : undefined;
}
function linearDfaShape(fc: { inFeatures: number }, numClasses?: number): Shape | undefined {
  return numClasses ? [numClasses, fc.inFeatures] : undefined;
}

/** Every Conv2d and Linear in the model. */
export function ruleLayers(model: Module): (Conv2d | Linear)[] {
  return model.modules().filter((m): m is Conv2d | Linear => m instanceof Conv2d || m instanceof Linear);
}

/**
 * Gives every conv and linear layer of `model` the rule `name` (single-rule baselines from any
 * architecture). Feedback matrices are drawn afresh from `gen`; DFA needs `numClasses`.
 */
export function setRule(model: Module, name: RuleName, gen: Generator = defaultGen(), numClasses?: number): void {
  getRule(name);
  for (const layer of ruleLayers(model)) {
    const dfaShape = layer instanceof Conv2d ? convDfaShape(layer, numClasses) : linearDfaShape(layer, numClasses);
    const rule = createRule(name, { weightShape: layer.weight.shape, numClasses, dfaShape }, gen);
    layer.rule.dispose();
    (layer as { rule: LayerRule }).rule = rule;
  }
}
