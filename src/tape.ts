// The tape: how an op attaches its backward to its output. Ops import this (never autograd.ts,
// which imports ops to add gradients up); backward() in autograd.ts walks what it records.

import type { Tensor, GradNode } from './tensor.js';
import { isGradEnabled } from './context.js';

export type { GradNode };

/** True when an op with these inputs must record a node. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  return isGradEnabled() && inputs.some((t) => t?.requiresGrad);
}

/** Attaches a backward node to `out` when any input needs a gradient. Returns out. */
export function record(out: Tensor, name: string, inputs: Tensor[], backward: (grad: Tensor) => (Tensor | null)[]): Tensor {
  if (!needsGrad(...inputs)) return out;
  out.requiresGrad = true;
  out.node = { name, inputs, backward };
  return out;
}
