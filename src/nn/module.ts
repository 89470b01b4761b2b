// Modules, as in PyTorch but smaller: a module's parameters, buffers and children are found
// by looking at its own properties, so a layer declares them simply by assigning them.

import { Tensor, keep, STATE, type HasState, type Shape } from '../tensor.js';
import { learning } from '../context.js';

/** A trainable tensor: requires a gradient and lives outside every scope. */
export function parameter(t: Tensor, name?: string): Tensor {
  t.requiresGrad = true;
  if (name) t.name = name;
  return keep(t);
}

/** A non-trainable tensor saved with the model (running statistics, fixed feedback matrices). */
export function buffer(t: Tensor, name?: string): Tensor {
  t.requiresGrad = false;
  if (name) t.name = name;
  (t as BufferTensor).isBuffer = true;
  return keep(t);
}

export { STATE, type HasState } from '../tensor.js';

interface BufferTensor extends Tensor {
  isBuffer?: boolean;
}

export abstract class Module {
  /** Training mode (train() / eval()). The module learns only while the step context is training too: see isLearning. */
  training = true;

  abstract forward(x: Tensor): Tensor;

  /** Child modules by property name; arrays of modules are named name.0, name.1, ... */
  children(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Module) out.push([key, value]);
      else if (Array.isArray(value)) value.forEach((v, i) => v instanceof Module && out.push([`${key}.${i}`, v]));
    }
    return out;
  }

  /** Parameters and buffers of this module and its descendants, by dotted path. */
  namedTensors(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Tensor && (value.requiresGrad || (value as BufferTensor).isBuffer)) out.push([prefix + key, value]);
      else if (value && typeof value === 'object' && STATE in value) {
        for (const [name, t] of (value as HasState)[STATE]()) out.push([`${prefix}${key}.${name}`, t]);
      }
    }
    for (const [name, child] of this.children()) out.push(...child.namedTensors(`${prefix}${name}.`));
    return out;
  }

  namedParameters(): [string, Tensor][] {
    return this.namedTensors().filter(([, t]) => t.requiresGrad);
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Every module in the tree, this one first. */
  modules(): Module[] {
    return [this, ...this.children().flatMap(([, c]) => c.modules())];
  }

  parameterCount(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  train(on = true): this {
    for (const m of this.modules()) m.training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Whether this forward may learn and change state (BN running statistics, Hebbian filters,
   * brSF draws, drop path, auxiliary heads): training mode, and a step context in 'train' mode.
   */
  isLearning(): boolean {
    return learning(this.training);
  }

  /** Releases every parameter, buffer and gradient (the model is unusable afterwards). */
  dispose(): void {
    for (const m of this.modules()) {
      for (const value of Object.values(m)) if (value && typeof value === 'object' && STATE in value) (value as HasState).dispose();
    }
    for (const [, t] of this.namedTensors()) {
      t.grad?.release();
      t.grad = null;
      if (!t.released) t.release();
    }
  }
}

export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const layer of this.layers) y = layer.forward(y);
    return y;
  }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
