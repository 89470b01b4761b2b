// Reverse-mode autograd, micrograd-style: every op that sees an input needing a gradient
// records a node (its inputs and a backward closure); backward() walks the nodes from the
// loss in reverse topological order. Intermediate gradients are released as soon as the
// node that consumed them is done, so a step's memory is bounded by the forward's. Ops record
// their nodes through tape.ts; the switches (grad, exact gradients) are the step context's.

import { Tensor, keep, fmt } from './tensor.js';
import { addInto, add, copy } from './ops/elementwise.js';
import { full } from './ops/fill.js';
import { noGrad } from './context.js';

export { type GradNode, needsGrad, record } from './tape.js';
export { isGradEnabled, noGrad, exactGradients, withExactGradients } from './context.js';

function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: a supernet's graph is deep enough to overflow a recursive one.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i];
      if (next.requiresGrad && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order.reverse();
}

/**
 * Back-propagates from `root` (a scalar, or any tensor when `seed` is given). Leaves that
 * require gradients accumulate into `.grad`, which they own (released by zeroGrad or by hand).
 */
export function backward(root: Tensor, seed?: Tensor): void {
  if (!root.requiresGrad) throw new Error('backward: the tensor does not depend on anything that requires a gradient');
  if (!seed && root.size !== 1) throw new Error(`backward: root has ${root.size} elements; pass a seed gradient of its shape`);
  if (seed && seed.size !== root.size) throw new Error(`backward: seed of ${seed.size} elements for a root of ${root.size}`);
  const grads = new Map<Tensor, Tensor>();
  // The seed 1 is filled by a kernel, not uploaded: an upload into a pooled buffer that this
  // step's encoder already used would submit the step in two parts.
  grads.set(root, seed ? seed.view() : full(root.shape, 1));
  noGrad(() => {
    for (const t of topologicalOrder(root)) {
      let g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      for (const hook of t.hooks) {
        const replaced = hook(g);
        if (replaced && replaced !== g) {
          g.release();
          g = replaced;
        }
      }
      if (!t.node) {
        accumulateLeaf(t, g);
        continue;
      }
      const inputGrads = t.node.backward(g);
      if (inputGrads.length !== t.node.inputs.length) {
        throw new Error(`backward of ${t.node.name} returned ${inputGrads.length} gradients for ${t.node.inputs.length} inputs`);
      }
      // Each stored gradient is a view the map owns, so one tensor may flow to several inputs
      // (add, skip) or be g itself; every distinct returned tensor is released once after.
      const returned = new Set<Tensor>([g]);
      t.node.inputs.forEach((input, i) => {
        const gi = inputGrads[i];
        if (!gi) return;
        returned.add(gi);
        if (!input.requiresGrad) return;
        if (gi.size !== input.size) {
          throw new Error(`backward of ${t.node!.name}: gradient of ${gi.size} elements for an input of ${input.size} ${fmt(input.shape)}`);
        }
        const mine = gi.view(input.shape);
        const prev = grads.get(input);
        if (prev) {
          grads.set(input, add(prev, mine));
          prev.release();
          mine.release();
        } else grads.set(input, mine);
      });
      for (const r of returned) r.release();
    }
  });
  for (const g of grads.values()) g.release();
}

function accumulateLeaf(leaf: Tensor, g: Tensor): void {
  if (!leaf.grad) {
    leaf.grad = keep(g.shared ? copy(g) : g);
    if (leaf.grad !== g) g.release();
    return;
  }
  addInto(leaf.grad, g);
  g.release();
}
