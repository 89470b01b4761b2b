// Stochastic gradient descent with momentum, Nesterov momentum, dampening and (coupled) weight
// decay, PyTorch semantics. One fused kernel per parameter and step (shaders/optim/sgd.wgsl);
// lr travels in a uniform, so a schedule neither recompiles nor reads anything back.

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { Tensor, keep, fmt } from '../tensor.js';
import source from '../../shaders/optim/sgd.wgsl';

const sgdKernel = new Kernel('sgd', source);

export interface SGDOptions {
  lr: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  dampening?: number;
}

export interface SGDStateDict {
  kind: 'sgd';
  /** step() calls so far. */
  step: number;
  /** One momentum buffer per parameter (null until its first step, or without momentum). */
  momentumBuffers: (Tensor | null)[];
}

/** Checks the parameter list of an optimizer. */
export function checkParams(op: string, params: Tensor[]): void {
  if (!Array.isArray(params)) throw new Error(`${op}: params must be an array of tensors`);
  const seen = new Set<Tensor>();
  params.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new Error(`${op}: param ${i} is not a tensor`);
    if (p.dtype !== 'f32') throw new Error(`${op}: param ${i} ${fmt(p.shape)} is ${p.dtype}, needs f32`);
    if (seen.has(p)) throw new Error(`${op}: param ${i} ${fmt(p.shape)} appears twice`);
    seen.add(p);
  });
}

export function checkGrad(op: string, p: Tensor, i: number): void {
  const g = p.grad!;
  if (g.size !== p.size) throw new Error(`${op}: param ${i} ${fmt(p.shape)} has a gradient of ${fmt(g.shape)}`);
}

/** A kept copy of src (optimizer state restored from a checkpoint). */
export function keptCopy(op: string, src: Tensor, like: Tensor, what: string): Tensor {
  if (src.size !== like.size) throw new Error(`${op}: ${what} ${fmt(src.shape)} does not match param ${fmt(like.shape)}`);
  const t = keep(Tensor.empty(like.shape, 'f32', what));
  if (t.size > 0) gpu().recorder.copy(src.buffer, t.buffer, t.size * 4);
  return t;
}

export class SGD {
  lr: number;
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  readonly dampening: number;
  private buffers: (Tensor | null)[];
  private stepCount = 0;
  private dummy: Tensor | null = null;

  constructor(readonly params: Tensor[], opts: SGDOptions) {
    checkParams('SGD', params);
    const { lr, momentum = 0, nesterov = false, weightDecay = 0, dampening = 0 } = opts;
    if (!(lr >= 0)) throw new Error(`SGD: lr must be >= 0, got ${lr}`);
    if (!(momentum >= 0)) throw new Error(`SGD: momentum must be >= 0, got ${momentum}`);
    if (!(weightDecay >= 0)) throw new Error(`SGD: weightDecay must be >= 0, got ${weightDecay}`);
    if (!Number.isFinite(dampening)) throw new Error(`SGD: dampening must be finite, got ${dampening}`);
    if (nesterov && (momentum <= 0 || dampening !== 0)) throw new Error('SGD: Nesterov momentum requires a momentum and zero dampening');
    this.lr = lr;
    this.momentum = momentum;
    this.nesterov = nesterov;
    this.weightDecay = weightDecay;
    this.dampening = dampening;
    this.buffers = params.map(() => null);
  }

  /** One update of every parameter that has a gradient; lr overrides this.lr for this step. */
  step(lr = this.lr): void {
    if (!(lr >= 0)) throw new Error(`SGD.step: lr must be >= 0, got ${lr}`);
    const rt = gpu();
    const useMomentum = this.momentum !== 0;
    this.params.forEach((p, i) => {
      if (!p.grad) return;
      checkGrad('SGD', p, i);
      if (p.size === 0) return;
      let first = 0;
      let buf: Tensor;
      if (useMomentum) {
        if (!this.buffers[i]) {
          this.buffers[i] = keep(Tensor.empty(p.shape, 'f32', 'sgd.momentum'));
          first = 1;
        }
        buf = this.buffers[i]!;
      } else {
        buf = this.dummy ??= keep(Tensor.empty([1], 'f32', 'sgd.unused'));
      }
      rt.dispatch1d(
        sgdKernel,
        { p: p.buffer, g: p.grad.buffer, buf: buf.buffer },
        { n: p.size, lr, momentum: this.momentum, one_minus_dampening: 1 - this.dampening, weight_decay: this.weightDecay, first },
        p.size,
        { MOMENTUM: useMomentum ? 1 : 0, NESTEROV: this.nesterov ? 1 : 0 },
      );
    });
    this.stepCount++;
  }

  /** Releases every gradient (autograd creates fresh ones on the next backward). */
  zeroGrad(): void {
    for (const p of this.params) {
      if (p.grad && !p.grad.released) p.grad.release();
      p.grad = null;
    }
  }

  /** The state tensors (owned by the optimizer: copy or read them, do not release them). */
  stateDict(): SGDStateDict {
    return { kind: 'sgd', step: this.stepCount, momentumBuffers: [...this.buffers] };
  }

  /** Restores a state (the tensors are copied; the caller keeps ownership of its own). */
  loadStateDict(state: SGDStateDict): void {
    if (state.kind !== 'sgd') throw new Error(`SGD.loadStateDict: state of a '${String(state.kind)}' optimizer`);
    if (state.momentumBuffers.length !== this.params.length) {
      throw new Error(`SGD.loadStateDict: ${state.momentumBuffers.length} momentum buffers for ${this.params.length} params`);
    }
    const fresh = state.momentumBuffers.map((b, i) => (b ? keptCopy('SGD.loadStateDict', b, this.params[i], 'sgd.momentum') : null));
    this.releaseState();
    this.buffers = fresh;
    this.stepCount = state.step;
  }

  private releaseState(): void {
    for (const b of this.buffers) if (b && !b.released) b.release();
    this.buffers = this.params.map(() => null);
  }

  /** Releases the optimizer's state. */
  dispose(): void {
    this.releaseState();
    this.dummy?.release();
    this.dummy = null;
  }
}
