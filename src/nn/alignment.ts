// How far a learning rule is from backprop, per layer: the angle between the feedback matrix
// B and W (under FA it shrinks as W aligns with B), the norm ratio ||B|| / ||W||, and the
// angle between the input gradient the rule sends and the exact one, for a probe error.

import { Tensor, scope } from '../tensor.js';
import { noGrad } from '../autograd.js';
import { mul } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import { randomNormal, Generator } from '../ops/random.js';
import { conv2dBackwardInput } from '../ops/conv.js';
import { linearBackwardInput } from '../ops/matmul.js';
import { Conv2d, Linear, ruleLayers } from './layers.js';
import type { Module } from './module.js';

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

/**
 * Alignment of every layer whose rule has a feedback matrix of W's shape. `inputShapes`
 * gives each conv layer's input shape for the gradient probe (layers missing are skipped
 * for that metric).
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
    const B = rule.name === 'bp' || rule.name === 'dfa' ? null : rule.matrix;
    let weightAngle = NaN, normRatio = NaN, gradientAngle = NaN;
    if (B) {
      const [wb, ww, bb] = await dots(layer.weight, B);
      weightAngle = degrees(wb, ww, bb);
      normRatio = Math.sqrt(bb / ww);
      const probe = scope(() => noGrad(() => {
        if (layer instanceof Linear) {
          const g = randomNormal([4, layer.outFeatures], gen);
          return [linearBackwardInput(g, B), linearBackwardInput(g, layer.weight)];
        }
        const shape = inputShapes?.get(layer);
        if (!shape) return null;
        const conv = layer as Conv2d;
        const outShape = conv.outputShape(shape);
        const g = randomNormal(outShape, gen);
        return [conv2dBackwardInput(g, B, shape, conv.params), conv2dBackwardInput(g, conv.weight, shape, conv.params)];
      }));
      if (probe) {
        const [viaRule, exact] = probe;
        const [d, r2, e2] = await dots(viaRule, exact);
        gradientAngle = degrees(d, r2, e2);
        viaRule.release();
        exact.release();
      }
    }
    out.push({ layer: names.get(layer) ?? '?', rule: rule.name, weightAngle, normRatio, gradientAngle });
  }
  return out;
}
