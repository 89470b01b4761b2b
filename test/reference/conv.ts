// CPU reference for conv2d, NCHW, float64 direct loops: forward, input gradient with an
// arbitrary weight-shaped matrix B (W for back-propagation, a feedback matrix otherwise),
// weight gradient and bias gradient. Slow and obvious on purpose.

export interface ConvRefParams {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

export function refOutputShape(xShape: readonly number[], wShape: readonly number[], p: ConvRefParams): [number, number, number, number] {
  const [N, , H, W] = xShape;
  const [O, , KH, KW] = wShape;
  const OH = Math.floor((H + 2 * p.padding[0] - p.dilation[0] * (KH - 1) - 1) / p.stride[0]) + 1;
  const OW = Math.floor((W + 2 * p.padding[1] - p.dilation[1] * (KW - 1) - 1) / p.stride[1]) + 1;
  return [N, O, OH, OW];
}

/**
 * Calls visit(xIndex, wIndex, yIndex) for every multiply-add of the convolution:
 * y[n, o, oy, ox] += x[n, c, iy, ix] * w[o, c - g*Cg, ky, kx]. Every pass below is this loop.
 */
function forEachTerm(xShape: readonly number[], wShape: readonly number[], p: ConvRefParams,
  visit: (xi: number, wi: number, yi: number) => void): void {
  const [N, C, H, W] = xShape;
  const [O, Cg, KH, KW] = wShape;
  const [, , OH, OW] = refOutputShape(xShape, wShape, p);
  const Og = O / p.groups;
  if (Cg * p.groups !== C) throw new Error('reference: channels do not match groups');
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const g = Math.floor(o / Og);
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          const yi = ((n * O + o) * OH + oy) * OW + ox;
          for (let c = 0; c < Cg; c++) {
            const ch = g * Cg + c;
            for (let ky = 0; ky < KH; ky++) {
              const iy = oy * p.stride[0] - p.padding[0] + ky * p.dilation[0];
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ix = ox * p.stride[1] - p.padding[1] + kx * p.dilation[1];
                if (ix < 0 || ix >= W) continue;
                visit(((n * C + ch) * H + iy) * W + ix, ((o * Cg + c) * KH + ky) * KW + kx, yi);
              }
            }
          }
        }
      }
    }
  }
}

export function convForwardRef(x: ArrayLike<number>, xShape: readonly number[], w: ArrayLike<number>, wShape: readonly number[],
  p: ConvRefParams, bias?: ArrayLike<number> | null): Float64Array {
  const yShape = refOutputShape(xShape, wShape, p);
  const [N, O, OH, OW] = yShape;
  const y = new Float64Array(N * O * OH * OW);
  if (bias) for (let i = 0; i < y.length; i++) y[i] = bias[Math.floor(i / (OH * OW)) % O];
  forEachTerm(xShape, wShape, p, (xi, wi, yi) => { y[yi] += x[xi] * w[wi]; });
  return y;
}

/** dx[n, c, iy, ix] = sum over the terms that read x[n, c, iy, ix] of g[y] * B[w]. */
export function convBackwardInputRef(g: ArrayLike<number>, B: ArrayLike<number>, xShape: readonly number[], wShape: readonly number[],
  p: ConvRefParams): Float64Array {
  const dx = new Float64Array(xShape.reduce((a, b) => a * b, 1));
  forEachTerm(xShape, wShape, p, (xi, wi, yi) => { dx[xi] += g[yi] * B[wi]; });
  return dx;
}

export function convBackwardWeightRef(x: ArrayLike<number>, g: ArrayLike<number>, xShape: readonly number[], wShape: readonly number[],
  p: ConvRefParams): Float64Array {
  const dw = new Float64Array(wShape.reduce((a, b) => a * b, 1));
  forEachTerm(xShape, wShape, p, (xi, wi, yi) => { dw[wi] += g[yi] * x[xi]; });
  return dw;
}

/** db[o] = sum of g[n, o, :, :]. */
export function convBackwardBiasRef(g: ArrayLike<number>, gShape: readonly number[]): Float64Array {
  const [N, O, OH, OW] = gShape;
  const db = new Float64Array(O);
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) for (let i = 0; i < OH * OW; i++) db[o] += g[(n * O + o) * OH * OW + i];
  return db;
}
