// CPU references (float64) for 2-D max/avg pooling and global average pooling, NCHW.

export interface PoolRefOpts {
  k: number;
  s: number;
  p: number;
  countIncludePad?: boolean;
}

export function outSize(n: number, o: PoolRefOpts): number {
  return Math.floor((n + 2 * o.p - o.k) / o.s) + 1;
}

/** Max pooling; argmax is the flat h * W + w of the first maximum in scan order. */
export function maxPoolRef(x: ArrayLike<number>, shape: number[], o: PoolRefOpts): { out: Float64Array; argmax: Int32Array } {
  const [N, C, H, W] = shape;
  const Ho = outSize(H, o), Wo = outSize(W, o);
  const out = new Float64Array(N * C * Ho * Wo);
  const argmax = new Int32Array(out.length);
  for (let pl = 0; pl < N * C; pl++) {
    for (let oh = 0; oh < Ho; oh++) {
      for (let ow = 0; ow < Wo; ow++) {
        let best = -Infinity, at = -1;
        for (let i = 0; i < o.k; i++) {
          for (let j = 0; j < o.k; j++) {
            const h = oh * o.s - o.p + i, w = ow * o.s - o.p + j;
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            const v = x[pl * H * W + h * W + w];
            if (at < 0 || v > best) {
              best = v;
              at = h * W + w;
            }
          }
        }
        const q = (pl * Ho + oh) * Wo + ow;
        out[q] = best;
        argmax[q] = at;
      }
    }
  }
  return { out, argmax };
}

export function maxPoolBackwardRef(g: ArrayLike<number>, x: ArrayLike<number>, shape: number[], o: PoolRefOpts): Float64Array {
  const [N, C, H, W] = shape;
  const { argmax } = maxPoolRef(x, shape, o);
  const Ho = outSize(H, o), Wo = outSize(W, o);
  const dx = new Float64Array(N * C * H * W);
  for (let pl = 0; pl < N * C; pl++) {
    for (let q = 0; q < Ho * Wo; q++) dx[pl * H * W + argmax[pl * Ho * Wo + q]] += g[pl * Ho * Wo + q];
  }
  return dx;
}

function avgDivisor(oh: number, ow: number, H: number, W: number, o: PoolRefOpts): number {
  if (o.countIncludePad) return o.k * o.k;
  const h0 = oh * o.s - o.p, w0 = ow * o.s - o.p;
  const dh = Math.min(h0 + o.k, H) - Math.max(h0, 0);
  const dw = Math.min(w0 + o.k, W) - Math.max(w0, 0);
  return dh * dw;
}

export function avgPoolRef(x: ArrayLike<number>, shape: number[], o: PoolRefOpts): Float64Array {
  const [N, C, H, W] = shape;
  const Ho = outSize(H, o), Wo = outSize(W, o);
  const out = new Float64Array(N * C * Ho * Wo);
  for (let pl = 0; pl < N * C; pl++) {
    for (let oh = 0; oh < Ho; oh++) {
      for (let ow = 0; ow < Wo; ow++) {
        let acc = 0;
        for (let i = 0; i < o.k; i++) {
          for (let j = 0; j < o.k; j++) {
            const h = oh * o.s - o.p + i, w = ow * o.s - o.p + j;
            if (h >= 0 && h < H && w >= 0 && w < W) acc += x[pl * H * W + h * W + w];
          }
        }
        out[(pl * Ho + oh) * Wo + ow] = acc / avgDivisor(oh, ow, H, W, o);
      }
    }
  }
  return out;
}

export function avgPoolBackwardRef(g: ArrayLike<number>, shape: number[], o: PoolRefOpts): Float64Array {
  const [N, C, H, W] = shape;
  const Ho = outSize(H, o), Wo = outSize(W, o);
  const dx = new Float64Array(N * C * H * W);
  for (let pl = 0; pl < N * C; pl++) {
    for (let oh = 0; oh < Ho; oh++) {
      for (let ow = 0; ow < Wo; ow++) {
        const share = g[(pl * Ho + oh) * Wo + ow] / avgDivisor(oh, ow, H, W, o);
        for (let i = 0; i < o.k; i++) {
          for (let j = 0; j < o.k; j++) {
            const h = oh * o.s - o.p + i, w = ow * o.s - o.p + j;
            if (h >= 0 && h < H && w >= 0 && w < W) dx[pl * H * W + h * W + w] += share;
          }
        }
      }
    }
  }
  return dx;
}

export function globalAvgPoolRef(x: ArrayLike<number>, shape: number[]): Float64Array {
  const [N, C, H, W] = shape;
  const out = new Float64Array(N * C);
  for (let pl = 0; pl < N * C; pl++) {
    let acc = 0;
    for (let q = 0; q < H * W; q++) acc += x[pl * H * W + q];
    out[pl] = acc / (H * W);
  }
  return out;
}

export function globalAvgPoolBackwardRef(g: ArrayLike<number>, shape: number[]): Float64Array {
  const [N, C, H, W] = shape;
  const dx = new Float64Array(N * C * H * W);
  for (let pl = 0; pl < N * C; pl++) for (let q = 0; q < H * W; q++) dx[pl * H * W + q] = g[pl] / (H * W);
  return dx;
}
