// Parameter-free layers: activation, pooling, flatten.

import { Tensor } from '../tensor.js';
import { Module } from './module.js';
import { relu } from '../ops/elementwise.js';
import { maxPool2d, avgPool2d, globalAvgPool } from '../ops/pool.js';

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

export interface PoolOptions {
  kernel?: number;
  stride?: number;
  padding?: number;
}

export class MaxPool2d extends Module {
  constructor(readonly opts: PoolOptions = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.opts);
  }
}

export class AvgPool2d extends Module {
  constructor(readonly opts: PoolOptions & { countIncludePad?: boolean } = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.opts);
  }
}

/** [N, C, H, W] -> [N, C] */
export class GlobalAvgPool extends Module {
  forward(x: Tensor): Tensor {
    return globalAvgPool(x);
  }
}

/** [N, ...] -> [N, prod(...)], a view: no copy. */
export class Flatten extends Module {
  forward(x: Tensor): Tensor {
    return reshape(x, [x.shape[0], x.size / x.shape[0]]);
  }
}

/** A reshaped view that passes gradients through. */
export function reshape(x: Tensor, shape: number[]): Tensor {
  const out = x.view(shape);
  if (!x.requiresGrad) return out;
  out.requiresGrad = true;
  out.node = { name: 'reshape', inputs: [x], backward: (g) => [g.view(x.shape)] };
  return out;
}
