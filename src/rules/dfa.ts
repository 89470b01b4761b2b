// DFA (direct feedback alignment, Nokland 2016): each layer owns a fixed random B of shape
// [classes, fan-in dims] (xavier-uniform, drawn once; checkpointed as 'B'), and its input
// receives B^T e, where e = dLoss/dlogits of the batch, bypassing the layers above. For a conv
// e is the same at every position of the output map (broadcast), and B^T e is the transposed
// conv of that map with B as a weight of `classes` output channels; for a linear layer it is e B.
//
// The network calls tapOutput on its logits: a hook captures e, during backward, into the step
// context's output-error slot active at the forward (src/context.ts); each DFA layer reads the
// slot it saw at its own forward.

import { Tensor, keep, STATE, fmt, type Shape } from '../tensor.js';
import { context, clearOutputError } from '../context.js';
import { uniformInPlace } from '../ops/random.js';
import { broadcastSpatial } from '../ops/feedback.js';
import { conv2dBackwardInput } from '../ops/conv.js';
import { matmul } from '../ops/matmul.js';
import { xavierBound } from './xavier.js';
import type { LearningRule, LayerRule, ErrorRoute } from './rule.js';

export { clearOutputError };

/** Networks call this on their logits; DFA layers read the error it captures during backward. */
export function tapOutput(logits: Tensor): Tensor {
  if (!logits.requiresGrad) return logits;
  const slot = context().dfa;
  logits.hooks.push((g) => slot.capture(g));
  return logits;
}

function dfaRoute(B: Tensor): ErrorRoute {
  return {
    inputGradient(slot, input: Shape, output: Shape, target) {
      const e = slot.read(target.name);
      if (!target.conv) return matmul(e, B);
      const [, , oh, ow] = output;
      const map = broadcastSpatial(e, oh, ow);
      const dx = conv2dBackwardInput(map, B, input, { ...target.conv, groups: 1 });
      map.release();
      return dx;
    },
  };
}

export const DFA: LearningRule = {
  name: 'dfa',
  description: 'direct feedback alignment: the input receives B^T e from the output error',
  unsupportedOps: { skip_connect: 'DFA needs a layer with weights at stride 1 too' },
  create({ numClasses, dfaShape }, gen): LayerRule {
    if (!numClasses || !dfaShape) throw new Error('DFA needs the number of classes of the network output (numClasses)');
    if (dfaShape[0] !== numClasses) throw new Error(`DFA: B ${fmt(dfaShape)} must have ${numClasses} rows (classes)`);
    const B = keep(Tensor.empty(dfaShape, 'f32', 'dfa.B'));
    const bound = xavierBound(dfaShape);
    uniformInPlace(B, gen, -bound, bound);
    return {
      name: 'dfa',
      matrix: B,
      route: dfaRoute(B),
      feedback: () => null,
      [STATE]: (): [string, Tensor][] => [['B', B]],
      dispose: () => B.released || B.release(),
    };
  },
};
