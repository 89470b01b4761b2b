// CPU references (float64) of the optimizers and gradient clipping, written from PyTorch's
// torch.optim.SGD, torch.optim.Adam (amsgrad off, maximize off) and clip_grad_norm_.

export interface SGDRefOptions {
  lr: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  dampening?: number;
}

export class SGDRef {
  private bufs: (Float64Array | null)[];
  constructor(readonly params: Float64Array[], readonly opts: SGDRefOptions) {
    this.bufs = params.map(() => null);
  }

  /** grads[i] null: parameter i is skipped. */
  step(grads: (ArrayLike<number> | null)[], lr = this.opts.lr): void {
    const { momentum = 0, nesterov = false, weightDecay = 0, dampening = 0 } = this.opts;
    this.params.forEach((p, i) => {
      const g = grads[i];
      if (!g) return;
      const d = Float64Array.from(g);
      if (weightDecay !== 0) for (let j = 0; j < p.length; j++) d[j] += weightDecay * p[j];
      if (momentum !== 0) {
        let buf = this.bufs[i];
        if (!buf) buf = this.bufs[i] = Float64Array.from(d);
        else for (let j = 0; j < p.length; j++) buf[j] = momentum * buf[j] + (1 - dampening) * d[j];
        for (let j = 0; j < p.length; j++) d[j] = nesterov ? d[j] + momentum * buf[j] : buf[j];
      }
      for (let j = 0; j < p.length; j++) p[j] -= lr * d[j];
    });
  }

  momentumBuffer(i: number): Float64Array | null {
    return this.bufs[i];
  }
}

export interface AdamRefOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** AdamW (PyTorch): decay applied to the weights, not the gradient. */
  decoupled?: boolean;
}

export class AdamRef {
  private m: Float64Array[];
  private v: Float64Array[];
  private t: number[];
  constructor(readonly params: Float64Array[], readonly opts: AdamRefOptions = {}) {
    this.m = params.map((p) => new Float64Array(p.length));
    this.v = params.map((p) => new Float64Array(p.length));
    this.t = params.map(() => 0);
  }

  step(grads: (ArrayLike<number> | null)[], lr = this.opts.lr ?? 1e-3): void {
    const { betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0, decoupled = false } = this.opts;
    const [b1, b2] = betas;
    this.params.forEach((p, i) => {
      const g = grads[i];
      if (!g) return;
      const t = ++this.t[i];
      const m = this.m[i], v = this.v[i];
      const bc1 = 1 - b1 ** t;
      const bc2 = 1 - b2 ** t;
      for (let j = 0; j < p.length; j++) {
        let d = g[j];
        // PyTorch's AdamW: param.mul_(1 - lr * weight_decay) before the Adam step; Adam: L2 in the gradient.
        if (decoupled) p[j] *= 1 - lr * weightDecay;
        else if (weightDecay !== 0) d += weightDecay * p[j];
        m[j] = b1 * m[j] + (1 - b1) * d;
        v[j] = b2 * v[j] + (1 - b2) * d * d;
        const denom = Math.sqrt(v[j]) / Math.sqrt(bc2) + eps;
        p[j] -= (lr / bc1) * (m[j] / denom);
      }
    });
  }

  moments(i: number): { m: Float64Array; v: Float64Array; t: number } {
    return { m: this.m[i], v: this.v[i], t: this.t[i] };
  }
}

export function globalNormRef(tensors: ArrayLike<number>[]): number {
  let s = 0;
  for (const t of tensors) for (let j = 0; j < t.length; j++) s += t[j] * t[j];
  return Math.sqrt(s);
}

/** Returns the clipped gradients and the norm before clipping. */
export function clipGradNormRef(grads: ArrayLike<number>[], maxNorm: number): { clipped: Float64Array[]; norm: number } {
  const norm = globalNormRef(grads);
  const factor = Math.min(1, maxNorm / (norm + 1e-6));
  return { clipped: grads.map((g) => Float64Array.from(g, (x) => x * factor)), norm };
}
