// Conv2d and Linear: the layers that carry a learning rule.

import { Tensor, type Shape } from '../tensor.js';
import { Module, parameter } from './module.js';
import { conv2d, conv2dBackwardInput, convOutputShape } from '../ops/conv.js';
import { linear, linearBackwardInput } from '../ops/matmul.js';
import { matmul } from '../ops/matmul.js';
import { Generator, uniformInPlace } from '../ops/random.js';
import { fillInPlace } from '../ops/fill.js';
import { fans, xavierUniform } from './init.js';
import { LearningRule, parseRule, type RuleName, currentOutputError, broadcastSpatial, joinInputGradient, exactGradients } from './rules.js';

export type InitName = 'default' | 'xavier';

export interface LayerOptions {
  rule?: RuleName | string;
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
  readonly rule: LearningRule;
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
    const rule = parseRule(opts.rule ?? 'bp');
    this.rule = new LearningRule(rule, shape, gen, {
      numClasses: opts.numClasses,
      dfaShape: opts.numClasses ? [opts.numClasses, inChannels, kh, kw] : undefined,
    });
  }

  get params() {
    return { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups };
  }

  forward(x: Tensor): Tensor {
    const p = this.params;
    if (this.rule.name !== 'dfa') {
      return conv2d(x, this.weight, { ...p, bias: this.bias, feedback: this.rule.feedback(this.weight) });
    }
    // DFA: the conv sees a detached input (it still gives the weight gradient); x gets B^T e.
    const y = conv2d(x.view(), this.weight, { ...p, bias: this.bias });
    const [, , oh, ow] = y.shape;
    return joinInputGradient(y, x, 'conv2d_dfa', (g) => {
      if (exactGradients()) return conv2dBackwardInput(g, this.weight, x.shape, p);
      const e = broadcastSpatial(currentOutputError('Conv2d (dfa)'), oh, ow);
      const dx = conv2dBackwardInput(e, this.rule.matrix!, x.shape, { ...p, groups: 1 });
      e.release();
      return dx;
    });
  }

  outputShape(input: Shape): Shape {
    return convOutputShape(input, this.weight.shape, this.params);
  }
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly rule: LearningRule;

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
    const rule = parseRule(opts.rule ?? 'bp');
    this.rule = new LearningRule(rule, this.weight.shape, gen, {
      numClasses: opts.numClasses,
      dfaShape: opts.numClasses ? [opts.numClasses, inFeatures] : undefined,
    });
  }

  forward(x: Tensor): Tensor {
    if (this.rule.name !== 'dfa') return linear(x, this.weight, this.bias, this.rule.feedback(this.weight));
    const y = linear(x.view(), this.weight, this.bias);
    return joinInputGradient(y, x, 'linear_dfa', (g) => {
      if (exactGradients()) return linearBackwardInput(g, this.weight);
      // The output layer's own DFA signal is e itself: e (N x K) times B (K x in).
      return matmul(currentOutputError('Linear (dfa)'), this.rule.matrix!);
    });
  }
}

/** Every Conv2d and Linear in the model. */
export function ruleLayers(model: Module): (Conv2d | Linear)[] {
  return model.modules().filter((m): m is Conv2d | Linear => m instanceof Conv2d || m instanceof Linear);
}

/**
 * Gives every conv and linear layer of `model` the rule `name` (single-rule baselines from any
 * architecture). Feedback matrices are drawn afresh from `gen`; DFA needs `numClasses`.
 */
export function setRule(model: Module, name: RuleName | string, gen: Generator = defaultGen(), numClasses?: number): void {
  const rule = parseRule(name);
  for (const layer of ruleLayers(model)) {
    const dfaShape = layer instanceof Conv2d
      ? [numClasses ?? 0, layer.inChannels, layer.weight.shape[2], layer.weight.shape[3]]
      : [numClasses ?? 0, layer.inFeatures];
    layer.rule.dispose();
    (layer as { rule: LearningRule }).rule = new LearningRule(rule, layer.weight.shape, gen, { numClasses, dfaShape: numClasses ? dfaShape : undefined });
  }
}
