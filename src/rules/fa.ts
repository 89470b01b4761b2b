// FA (feedback alignment, Lillicrap et al. 2016): the error goes back through a random B of
// W's shape, drawn once (xavier-uniform, like W) and never changed. Checkpointed as 'B'.

import { Tensor, keep, STATE } from '../tensor.js';
import { uniformInPlace } from '../ops/random.js';
import { xavierBound } from './xavier.js';
import type { LearningRule, LayerRule } from './rule.js';

export const FA: LearningRule = {
  name: 'fa',
  description: 'feedback alignment: a fixed random B (xavier-uniform)',
  create({ weightShape }, gen): LayerRule {
    const B = keep(Tensor.empty(weightShape, 'f32', 'fa.B'));
    const bound = xavierBound(weightShape);
    uniformInPlace(B, gen, -bound, bound);
    return {
      name: 'fa',
      matrix: B,
      route: null,
      feedback: () => B,
      [STATE]: (): [string, Tensor][] => [['B', B]],
      dispose: () => B.released || B.release(),
    };
  },
};
