// Adam (Kingma & Ba) with PyTorch semantics: bias-corrected moments, eps added to the corrected
// root, weight decay coupled as L2 (g += wd * p); or, with `decoupled`, AdamW (Loshchilov &
// Hutter 2019, PyTorch's AdamW): p *= 1 - lr * wd before the Adam step, the gradient left
// alone. One fused kernel per parameter and step
// (shaders/optim/adam.wgsl); lr and the bias corrections (from each parameter's step count)
// travel in uniforms, so nothing recompiles or is read back.

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { Tensor, keep } from '../tensor.js';
import { checkParams, checkGrad, keptCopy } from './sgd.js';
import source from '../../shaders/optim/adam.wgsl';

const adamKernel = new Kernel('adam', source);

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** AdamW: decay the weights directly (p *= 1 - lr * wd) instead of adding wd * p to the gradient. */
  decoupled?: boolean;
}

export interface AdamStateDict {
  /** 'adamw' with decoupled decay: an Adam's state does not load into an AdamW, nor the reverse. */
  kind: 'adam' | 'adamw';
  /** step() calls so far. */
  step: number;
  /** Per parameter: updates applied (a parameter without a gradient is skipped). */
  steps: number[];
  /** First and second moments per parameter (null before its first update). */
  expAvg: (Tensor | null)[];
  expAvgSq: (Tensor | null)[];
}

export class Adam {
  lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly decoupled: boolean;
  private m: (Tensor | null)[];
  private v: (Tensor | null)[];
  private steps: number[];
  private stepCount = 0;

  constructor(readonly params: Tensor[], opts: AdamOptions = {}) {
    checkParams('Adam', params);
    const { lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0, decoupled = false } = opts;
    if (!(lr >= 0)) throw new Error(`Adam: lr must be >= 0, got ${lr}`);
    if (!(betas[0] >= 0 && betas[0] < 1 && betas[1] >= 0 && betas[1] < 1)) throw new Error(`Adam: betas must be in [0, 1), got [${betas.join(', ')}]`);
    if (!(eps >= 0)) throw new Error(`Adam: eps must be >= 0, got ${eps}`);
    if (!(weightDecay >= 0)) throw new Error(`Adam: weightDecay must be >= 0, got ${weightDecay}`);
    this.lr = lr;
    this.betas = [betas[0], betas[1]];
    this.eps = eps;
    this.weightDecay = weightDecay;
    this.decoupled = decoupled;
    this.m = params.map(() => null);
    this.v = params.map(() => null);
    this.steps = params.map(() => 0);
  }

  get kind(): 'adam' | 'adamw' {
    return this.decoupled ? 'adamw' : 'adam';
  }

  /** One update of every parameter that has a gradient; lr overrides this.lr for this step. */
  step(lr = this.lr): void {
    if (!(lr >= 0)) throw new Error(`Adam.step: lr must be >= 0, got ${lr}`);
    const rt = gpu();
    const [beta1, beta2] = this.betas;
    const coupledDecay = this.decoupled ? 0 : this.weightDecay;
    const decayMul = this.decoupled ? 1 - lr * this.weightDecay : 1;
    this.params.forEach((p, i) => {
      if (!p.grad) return;
      checkGrad('Adam', p, i);
      let first = 0;
      if (!this.m[i]) {
        this.m[i] = keep(Tensor.empty(p.shape, 'f32', 'adam.expAvg'));
        this.v[i] = keep(Tensor.empty(p.shape, 'f32', 'adam.expAvgSq'));
        first = 1;
      }
      const t = ++this.steps[i];
      if (p.size === 0) return;
      const stepSize = lr / (1 - beta1 ** t);
      const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
      rt.dispatch1d(
        adamKernel,
        { p: p.buffer, g: p.grad.buffer, m: this.m[i]!.buffer, v: this.v[i]!.buffer },
        { n: p.size, step_size: stepSize, beta1, beta2, one_minus_beta1: 1 - beta1, one_minus_beta2: 1 - beta2, eps: this.eps, weight_decay: coupledDecay, bc2_sqrt: bc2Sqrt, first, decay_mul: decayMul },
        p.size,
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
  stateDict(): AdamStateDict {
    return { kind: this.kind, step: this.stepCount, steps: [...this.steps], expAvg: [...this.m], expAvgSq: [...this.v] };
  }

  /** Restores a state (the tensors are copied; the caller keeps ownership of its own). */
  loadStateDict(state: AdamStateDict): void {
    if (state.kind !== this.kind) throw new Error(`Adam.loadStateDict: state of a '${String(state.kind)}' optimizer, this one is '${this.kind}'`);
    const n = this.params.length;
    if (state.steps.length !== n || state.expAvg.length !== n || state.expAvgSq.length !== n) {
      throw new Error(`Adam.loadStateDict: state for ${state.steps.length} params, optimizer has ${n}`);
    }
    state.expAvg.forEach((m, i) => {
      if (!m !== !state.expAvgSq[i] || (!m && state.steps[i] > 0)) {
        throw new Error(`Adam.loadStateDict: param ${i} has an incomplete state (step ${state.steps[i]})`);
      }
    });
    const m = state.expAvg.map((t, i) => (t ? keptCopy('Adam.loadStateDict', t, this.params[i], 'adam.expAvg') : null));
    const v = state.expAvgSq.map((t, i) => (t ? keptCopy('Adam.loadStateDict', t, this.params[i], 'adam.expAvgSq') : null));
    this.dispose();
    this.m = m;
    this.v = v;
    this.steps = [...state.steps];
    this.stepCount = state.step;
  }

  /** Releases the optimizer's state. */
  dispose(): void {
    for (const t of [...this.m, ...this.v]) if (t && !t.released) t.release();
    this.m = this.params.map(() => null);
    this.v = this.params.map(() => null);
    this.steps = this.params.map(() => 0);
  }
}
