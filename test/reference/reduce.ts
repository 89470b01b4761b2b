// CPU references (float64) for sum/mean over axes and their backward (a broadcast).

export function normAxes(shape: readonly number[], axes?: readonly number[]): number[] {
  const rank = shape.length;
  const list = axes === undefined ? shape.map((_, i) => i) : axes.map((a) => (a < 0 ? a + rank : a));
  return [...new Set(list)].sort((a, b) => a - b);
}

function strides(shape: readonly number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** For every input element, the flat index of the output it is reduced into (keepDims layout). */
function outIndexMap(shape: readonly number[], axes: number[]): { map: Int32Array; outSize: number } {
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const ks = strides(kept);
  const n = shape.reduce((a, b) => a * b, 1);
  const map = new Int32Array(n);
  const idx = new Array(shape.length).fill(0);
  for (let f = 0; f < n; f++) {
    let o = 0;
    for (let d = 0; d < shape.length; d++) if (!axes.includes(d)) o += idx[d] * ks[d];
    map[f] = o;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return { map, outSize: kept.reduce((a, b) => a * b, 1) };
}

export function sumRef(x: ArrayLike<number>, shape: readonly number[], axes?: readonly number[], mean = false): Float64Array {
  const ax = normAxes(shape, axes);
  const { map, outSize } = outIndexMap(shape, ax);
  const out = new Float64Array(outSize);
  for (let f = 0; f < map.length; f++) out[map[f]] += x[f];
  if (mean) {
    const count = ax.reduce((a, d) => a * shape[d], 1);
    for (let i = 0; i < outSize; i++) out[i] /= count;
  }
  return out;
}

/** d(sum . g)/dx: g broadcast back to the input (divided by the count for mean). */
export function sumBackwardRef(g: ArrayLike<number>, shape: readonly number[], axes?: readonly number[], mean = false): Float64Array {
  const ax = normAxes(shape, axes);
  const { map } = outIndexMap(shape, ax);
  const count = mean ? ax.reduce((a, d) => a * shape[d], 1) : 1;
  const out = new Float64Array(map.length);
  for (let f = 0; f < map.length; f++) out[f] = g[map[f]] / count;
  return out;
}
