// CPU references (float64) for the Hebbian conv (src/nn/hebbian.ts): a plain NCHW conv2d
// (groups 1, no bias), its input gradient, and one Hebbian update of the filters:
//   y = conv(x, H);  P_m = patch of x at output position m = (n, oh, ow) (kh*kw*Cin values,
//   zero padding), Y_m = y[n, :, oh, ow];  U[o, k] = sum_m Y_m[o] / max(|Y_m|, eps) * P_m[k] / max(|P_m|, eps);
//   H' = clamp(H + rate * U, -1, 1).

export interface ConvRefParams {
  stride: number;
  padding: number;
  dilation?: number;
}

export function convOut(n: number, k: number, p: ConvRefParams): number {
  const d = p.dilation ?? 1;
  return Math.floor((n + 2 * p.padding - d * (k - 1) - 1) / p.stride) + 1;
}

/** out[n, o, oh, ow] = sum_{c,i,j} x[n, c, oh*s - p + i*d, ow*s - p + j*d] * w[o, c, i, j]. */
export function conv2dRef(x: ArrayLike<number>, xShape: number[], w: ArrayLike<number>, wShape: number[], p: ConvRefParams): Float64Array {
  const [N, C, H, W] = xShape;
  const [O, Cw, KH, KW] = wShape;
  if (Cw !== C) throw new Error(`conv2dRef: input has ${C} channels, weight expects ${Cw}`);
  const d = p.dilation ?? 1;
  const OH = convOut(H, KH, p), OW = convOut(W, KW, p);
  const out = new Float64Array(N * O * OH * OW);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let acc = 0;
          for (let c = 0; c < C; c++) {
            for (let i = 0; i < KH; i++) {
              const h = oh * p.stride - p.padding + i * d;
              if (h < 0 || h >= H) continue;
              for (let j = 0; j < KW; j++) {
                const ww = ow * p.stride - p.padding + j * d;
                if (ww < 0 || ww >= W) continue;
                acc += x[((n * C + c) * H + h) * W + ww] * w[((o * C + c) * KH + i) * KW + j];
              }
            }
          }
          out[((n * O + o) * OH + oh) * OW + ow] = acc;
        }
      }
    }
  }
  return out;
}

/** The transpose of conv2dRef (its input gradient): g [N, O, OH, OW] -> [N, C, H, W]. */
export function conv2dTransposeRef(g: ArrayLike<number>, wShape: number[], w: ArrayLike<number>, xShape: number[], p: ConvRefParams): Float64Array {
  const [N, C, H, W] = xShape;
  const [O, , KH, KW] = wShape;
  const d = p.dilation ?? 1;
  const OH = convOut(H, KH, p), OW = convOut(W, KW, p);
  const dx = new Float64Array(N * C * H * W);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const gv = g[((n * O + o) * OH + oh) * OW + ow];
          if (gv === 0) continue;
          for (let c = 0; c < C; c++) {
            for (let i = 0; i < KH; i++) {
              const h = oh * p.stride - p.padding + i * d;
              if (h < 0 || h >= H) continue;
              for (let j = 0; j < KW; j++) {
                const ww = ow * p.stride - p.padding + j * d;
                if (ww < 0 || ww >= W) continue;
                dx[((n * C + c) * H + h) * W + ww] += gv * w[((o * C + c) * KH + i) * KW + j];
              }
            }
          }
        }
      }
    }
  }
  return dx;
}

export const NORM_EPS = 1e-12;

/** The unscaled Hebbian correlation U [O, C*KH*KW] of x and y = conv(x, H). */
export function hebbianCorrelationRef(x: ArrayLike<number>, xShape: number[], y: ArrayLike<number>, wShape: number[], p: ConvRefParams): Float64Array {
  const [N, C, H, W] = xShape;
  const [O, , KH, KW] = wShape;
  const d = p.dilation ?? 1;
  const K = C * KH * KW;
  const OH = convOut(H, KH, p), OW = convOut(W, KW, p);
  const U = new Float64Array(O * K);
  const patch = new Float64Array(K);
  const out = new Float64Array(O);
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        let pn = 0;
        for (let c = 0; c < C; c++) {
          for (let i = 0; i < KH; i++) {
            for (let j = 0; j < KW; j++) {
              const h = oh * p.stride - p.padding + i * d, ww = ow * p.stride - p.padding + j * d;
              const v = h < 0 || h >= H || ww < 0 || ww >= W ? 0 : x[((n * C + c) * H + h) * W + ww];
              patch[(c * KH + i) * KW + j] = v;
              pn += v * v;
            }
          }
        }
        let yn = 0;
        for (let o = 0; o < O; o++) {
          out[o] = y[((n * O + o) * OH + oh) * OW + ow];
          yn += out[o] * out[o];
        }
        const pi = 1 / Math.max(Math.sqrt(pn), NORM_EPS), yi = 1 / Math.max(Math.sqrt(yn), NORM_EPS);
        for (let o = 0; o < O; o++) {
          const a = out[o] * yi;
          for (let k = 0; k < K; k++) U[o * K + k] += a * patch[k] * pi;
        }
      }
    }
  }
  return U;
}

/** One training forward of the Hebbian conv: the output (with H before the update) and H after. */
export function hebbianStepRef(
  x: ArrayLike<number>, xShape: number[], H: ArrayLike<number>, wShape: number[], p: ConvRefParams, rate: number,
): { y: Float64Array; U: Float64Array; H: Float64Array } {
  const y = conv2dRef(x, xShape, H, wShape, p);
  const U = hebbianCorrelationRef(x, xShape, y, wShape, p);
  const next = new Float64Array(H.length);
  for (let i = 0; i < H.length; i++) next[i] = Math.min(1, Math.max(-1, H[i] + rate * U[i]));
  return { y, U, H: next };
}
