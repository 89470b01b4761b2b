// CPU reference (float64) of the predictive-coding conv (src/nn/predictive.ts):
//   V = W with every output filter scaled to unit L2 norm (or W itself when normalize is off)
//   r_0 = relu(conv(x, V))
//   for t = 0 .. T-1:  x^_t = conv^T(r_t, V);  e_t = x - x^_t;  r_{t+1} = relu(r_t + eta[c] * conv(e_t, V))
//   out = r_T
// `errors[t]` = |x - conv^T(r_t, V)| for t = 0 .. T (the prediction error the inference reduces).

import { conv2dRef, conv2dTransposeRef, NORM_EPS, type ConvRefParams } from './hebbian.js';

export interface PcRefOptions extends ConvRefParams {
  iterations: number;
  normalize: boolean;
}

export function normalizeFiltersRef(w: ArrayLike<number>, wShape: number[]): Float64Array {
  const O = wShape[0];
  const K = w.length / O;
  const v = new Float64Array(w.length);
  for (let o = 0; o < O; o++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += w[o * K + k] ** 2;
    const inv = 1 / Math.max(Math.sqrt(s), NORM_EPS);
    for (let k = 0; k < K; k++) v[o * K + k] = w[o * K + k] * inv;
  }
  return v;
}

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

export function pcForwardRef(
  x: ArrayLike<number>, xShape: number[], w: ArrayLike<number>, wShape: number[], eta: ArrayLike<number>, o: PcRefOptions,
): { out: Float64Array; errors: number[] } {
  const v = o.normalize ? normalizeFiltersRef(w, wShape) : Float64Array.from(w);
  let r = conv2dRef(x, xShape, v, wShape, o).map((a) => Math.max(a, 0));
  const O = wShape[0];
  const plane = r.length / (xShape[0] * O);
  const errors: number[] = [];
  for (let t = 0; ; t++) {
    const xh = conv2dTransposeRef(r, wShape, v, xShape, o);
    const e = new Float64Array(xh.length);
    for (let i = 0; i < e.length; i++) e[i] = x[i] - xh[i];
    errors.push(norm(e));
    if (t === o.iterations) break;
    const u = conv2dRef(e, xShape, v, wShape, o);
    r = r.map((a, i) => Math.max(a + eta[Math.floor(i / plane) % O] * u[i], 0));
  }
  return { out: r, errors };
}
