// BP: the input gradient goes through W itself; the rule holds nothing.

import { STATE, type Tensor } from '../tensor.js';
import type { LearningRule, LayerRule } from './rule.js';

export const BP: LearningRule = {
  name: 'bp',
  description: 'backprop: the error goes back through W itself',
  create(): LayerRule {
    return {
      name: 'bp',
      matrix: null,
      route: null,
      feedback: () => null,
      [STATE]: (): [string, Tensor][] => [],
      dispose() {},
    };
  },
};
