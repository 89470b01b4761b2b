// The bound rules draw their random matrices with (SPEC 3: xavier-uniform, like W):
// sqrt(6 / (fan_in + fan_out)).

import { fans, type Shape } from '../tensor.js';

export function xavierBound(shape: Shape): number {
  const { fanIn, fanOut } = fans(shape);
  return Math.sqrt(6 / (fanIn + fanOut));
}
