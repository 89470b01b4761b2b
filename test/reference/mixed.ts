// CPU references (float64) of the DARTS plumbing: the MixedOp weighted sum, concat and slice
// along an axis, and drop path with a given per-sample mask. Each with its backward.

type Arr = ArrayLike<number>;

export function weightedSumRef(xs: Arr[], w: Arr): Float64Array {
  const out = new Float64Array(xs[0].length);
  xs.forEach((x, k) => {
    for (let i = 0; i < out.length; i++) out[i] += w[k] * x[i];
  });
  return out;
}

export function weightedSumBackwardRef(g: Arr, xs: Arr[], w: Arr): { dxs: Float64Array[]; dw: Float64Array } {
  const dxs = xs.map((_, k) => Float64Array.from(g, (v) => w[k] * v));
  const dw = Float64Array.from(xs, (x) => {
    let s = 0;
    for (let i = 0; i < g.length; i++) s += g[i] * x[i];
    return s;
  });
  return { dxs, dw };
}

function split(shape: readonly number[], axis: number): { outer: number; after: number } {
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i];
  let after = 1;
  for (let i = axis + 1; i < shape.length; i++) after *= shape[i];
  return { outer, after };
}

export function concatRef(xs: Arr[], shapes: number[][], axis: number): { data: Float64Array; shape: number[] } {
  const total = shapes.reduce((s, sh) => s + sh[axis], 0);
  const shape = shapes[0].map((d, i) => (i === axis ? total : d));
  const { outer, after } = split(shapes[0], axis);
  const data = new Float64Array(outer * total * after);
  let offset = 0;
  xs.forEach((x, k) => {
    const d = shapes[k][axis];
    for (let o = 0; o < outer; o++) {
      for (let c = 0; c < d; c++) {
        for (let a = 0; a < after; a++) data[(o * total + offset + c) * after + a] = x[(o * d + c) * after + a];
      }
    }
    offset += d;
  });
  return { data, shape };
}

export function sliceRef(x: Arr, shape: number[], axis: number, start: number, end: number): Float64Array {
  const { outer, after } = split(shape, axis);
  const d = shape[axis];
  const len = end - start;
  const out = new Float64Array(outer * len * after);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < len; c++) {
      for (let a = 0; a < after; a++) out[(o * len + c) * after + a] = x[(o * d + start + c) * after + a];
    }
  }
  return out;
}

/** d(slice)/dx applied to g: g scattered into zeros of x's shape. */
export function sliceBackwardRef(g: Arr, shape: number[], axis: number, start: number, end: number): Float64Array {
  const { outer, after } = split(shape, axis);
  const d = shape[axis];
  const len = end - start;
  const out = new Float64Array(outer * d * after);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < len; c++) {
      for (let a = 0; a < after; a++) out[(o * d + start + c) * after + a] = g[(o * len + c) * after + a];
    }
  }
  return out;
}

/** x * mask[sample]: forward; the same applied to g is the backward. */
export function dropPathRef(x: Arr, mask: Arr): Float64Array {
  const row = x.length / mask.length;
  return Float64Array.from(x, (v, i) => v * mask[Math.floor(i / row)]);
}
