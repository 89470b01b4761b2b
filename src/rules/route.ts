// How a layer with weights runs its learning rule: the one place that knows both kinds of rule.
// (a) A feedback rule hands the op the matrix its input gradient reads. (b) A routed rule (DFA)
// runs the layer on a detached view of x (y's own backward still gives the weight gradient)
// and joins x back with the gradient the route gives, or, under exact gradients, the exact one.
// Conv2d, Linear and the predictive-coding conv all call forwardWithRule.

import type { Tensor } from '../tensor.js';
import { record } from '../tape.js';
import { context } from '../context.js';
import type { LayerRule, RouteTarget } from './rule.js';

/**
 * Gives `y` (computed from a detached view of x) a second parent: x, whose gradient is
 * `inputGrad(g)` instead of the one y's own backward would send.
 */
export function joinInputGradient(y: Tensor, x: Tensor, name: string, inputGrad: (g: Tensor) => Tensor): Tensor {
  if (!x.requiresGrad && !y.requiresGrad) return y;
  const out = y.view();
  return record(out, name, [y, x], (g) => [g, x.requiresGrad ? inputGrad(g) : null]);
}

/**
 * y = run(x, feedback) under `rule`. `learning`: the layer learns in this forward (its training
 * flag and the context's mode). A feedback matrix is refreshed only when a backward may read
 * it: while learning, or when gradients are recorded (evaluation and scoring change nothing).
 * Under exact gradients at the forward a routed rule records plain backprop through run.
 */
export function forwardWithRule(
  rule: LayerRule, x: Tensor, weight: Tensor, learning: boolean, target: RouteTarget,
  run: (input: Tensor, feedback: Tensor | null) => Tensor,
): Tensor {
  const ctx = context();
  const route = rule.route;
  if (!route) return run(x, learning || ctx.grad ? rule.feedback(weight, { learning }) : null);
  if (ctx.exact) return run(x, null);
  const slot = ctx.dfa;
  const y = run(x.view(), null);
  return joinInputGradient(y, x, target.name, (g) =>
    context().exact && target.exactInputGradient ? target.exactInputGradient(g) : route.inputGradient(slot, x.shape, y.shape, target));
}
