// How far a learning rule is from backprop, per layer: the angle between the feedback matrix
// B and W (under FA it shrinks as W aligns with B), the norm ratio ||B|| / ||W||, and the
// angle between the input gradient the rule sends and the exact one, for a probe error.
// A conv's probe needs an input shape: the layer's real one when the caller knows it, else a
// small map of the layer's channels (the angle depends on B and W, hardly on the map's size).

import { Tensor, scope, type Shape } from '../tensor.js';
import { noGrad } from '../context.js';
import { mul } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import { randomNormal, Generator } from '../ops/random.js';
import { conv2dBackwardInput } from '../ops/conv.js';
import { linearBackwardInput } from '../ops/matmul.js';
import { Conv2d, Linear, ruleLayers } from '../nn/layers.js';
import { sameShape, type Module } from '../nn/module.js';

/** The probe's batch and the side of its conv output maps when no input shape is given. */
const PROBE_BATCH = 4;
const PROBE_MAP = 8;

export interface LayerAlignment {
  layer: string;
  rule: string;
  /** Degrees between flattened B and W (NaN for BP and DFA: no B of W's shape). */
  weightAngle: number;
  normRatio: number;
  /** Degrees between the rule's input gradient and the exact one, for a random output error. */
  gradientAngle: number;
}

const degrees = (dot: number, a2: number, b2: number) =>
  a2 > 0 && b2 > 0 ? (Math.acos(Math.max(-1, Math.min(1, dot / Math.sqrt(a2 * b2)))) * 180) / Math.PI : NaN;

/** Dot products <a,b>, <a,a>, <b,b> computed on the GPU; one readback. */
async function dots(a: Tensor, b: Tensor): Promise<[number, number, number]> {
  const [ab, aa, bb] = scope(() => [sum(mul(a, b)), sum(mul(a, a)), sum(mul(b, b))]);
  const values = await Promise.all([ab.data(), aa.data(), bb.data()]);
  ab.release();
  aa.release();
  bb.release();
  return [values[0][0], values[1][0], values[2][0]];
}

/** An input of the conv's channels whose output map is PROBE_MAP x PROBE_MAP. */
function probeInputShape(conv: Conv2d): Shape {
  const side = (d: 0 | 1) => {
    const k = conv.weight.shape[2 + d];
    return Math.max(1, (PROBE_MAP - 1) * conv.stride[d] + conv.dilation[d] * (k - 1) + 1 - 2 * conv.padding[d]);
  };
  return [PROBE_BATCH, conv.inChannels, side(0), side(1)];
}

/**
 * Alignment of every conv and linear layer (angles are NaN where the rule has no matrix of
 * W's shape: BP, DFA). `inputShapes` may give conv layers' real input shapes for the gradient
 * probe; others get a probe map (probeInputShape).
 */
export async function alignmentReport(model: Module, probeSeed = 1, inputShapes?: Map<Module, readonly number[]>): Promise<LayerAlignment[]> {
  const names = new Map<Module, string>();
  const walk = (m: Module, prefix: string) => {
    names.set(m, prefix || 'model');
    for (const [n, c] of m.children()) walk(c, prefix ? `${prefix}.${n}` : n);
  };
  walk(model, '');
  const gen = new Generator(probeSeed);
  const out: LayerAlignment[] = [];
  for (const layer of ruleLayers(model)) {
    const rule = layer.rule;
    // A matrix of W's shape that the input gradient reads (not DFA's [classes, ...]).
    const B = !rule.route && rule.matrix && sameShape(rule.matrix.shape, layer.weight.shape) ? rule.matrix : null;
    let weightAngle = NaN, normRatio = NaN, gradientAngle = NaN;
    if (B) {
      const [wb, ww, bb] = await dots(layer.weight, B);
      weightAngle = degrees(wb, ww, bb);
      normRatio = Math.sqrt(bb / ww);
      const probe = scope(() => noGrad(() => {
        if (layer instanceof Linear) {
          const g = randomNormal([PROBE_BATCH, layer.outFeatures], gen);
          return [linearBackwardInput(g, B), linearBackwardInput(g, layer.weight)];
        }
        const conv = layer as Conv2d;
        const shape = inputShapes?.get(layer) ?? probeInputShape(conv);
        const outShape = conv.outputShape(shape);
        const g = randomNormal(outShape, gen);
        return [conv2dBackwardInput(g, B, shape, conv.params), conv2dBackwardInput(g, conv.weight, shape, conv.params)];
      }));
      const [viaRule, exact] = probe;
      const [d, r2, e2] = await dots(viaRule, exact);
      gradientAngle = degrees(d, r2, e2);
      viaRule.release();
      exact.release();
    }
    out.push({ layer: names.get(layer) ?? '?', rule: rule.name, weightAngle, normRatio, gradientAngle });
  }
  return out;
}
