// CPU references (float64) for softmax, log-softmax, cross-entropy with label smoothing and
// argmax hits, over the rows of [N, K].

export function softmaxRef(x: ArrayLike<number>, N: number, K: number, log = false): Float64Array {
  const out = new Float64Array(N * K);
  for (let i = 0; i < N; i++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, x[i * K + k]);
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.exp(x[i * K + k] - m);
    for (let k = 0; k < K; k++) {
      const v = x[i * K + k] - m;
      out[i * K + k] = log ? v - Math.log(s) : Math.exp(v) / s;
    }
  }
  return out;
}

/** dx of sum(g * softmax(x)) (or of log-softmax). */
export function softmaxBackwardRef(g: ArrayLike<number>, x: ArrayLike<number>, N: number, K: number, log = false): Float64Array {
  const p = softmaxRef(x, N, K);
  const dx = new Float64Array(N * K);
  for (let i = 0; i < N; i++) {
    let dot = 0, gs = 0;
    for (let k = 0; k < K; k++) {
      dot += g[i * K + k] * p[i * K + k];
      gs += g[i * K + k];
    }
    for (let k = 0; k < K; k++) {
      const j = i * K + k;
      dx[j] = log ? g[j] - p[j] * gs : p[j] * (g[j] - dot);
    }
  }
  return dx;
}

/** Per-row losses -sum_k q_k log p_k with q = (1 - eps) onehot + eps / K. */
export function crossEntropyRowsRef(x: ArrayLike<number>, labels: ArrayLike<number>, N: number, K: number, eps = 0): Float64Array {
  const lp = softmaxRef(x, N, K, true);
  const out = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    let l = 0;
    for (let k = 0; k < K; k++) l -= ((k === labels[i] ? 1 - eps : 0) + eps / K) * lp[i * K + k];
    out[i] = l;
  }
  return out;
}

export function crossEntropyRef(x: ArrayLike<number>, labels: ArrayLike<number>, N: number, K: number, eps = 0, reduction: 'mean' | 'sum' = 'mean'): number {
  const rows = crossEntropyRowsRef(x, labels, N, K, eps);
  const total = rows.reduce((a, b) => a + b, 0);
  return reduction === 'mean' ? total / N : total;
}

/** d loss / d x times the scalar g: (softmax - q) * g (/ N for the mean). */
export function crossEntropyBackwardRef(x: ArrayLike<number>, labels: ArrayLike<number>, N: number, K: number, eps = 0, reduction: 'mean' | 'sum' = 'mean', g = 1): Float64Array {
  const p = softmaxRef(x, N, K);
  const scale = (reduction === 'mean' ? 1 / N : 1) * g;
  const dx = new Float64Array(N * K);
  for (let i = 0; i < N; i++) {
    for (let k = 0; k < K; k++) {
      const q = (k === labels[i] ? 1 - eps : 0) + eps / K;
      dx[i * K + k] = (p[i * K + k] - q) * scale;
    }
  }
  return dx;
}

export function countCorrectRef(x: ArrayLike<number>, labels: ArrayLike<number>, N: number, K: number): number {
  let hits = 0;
  for (let i = 0; i < N; i++) {
    let at = 0;
    for (let k = 1; k < K; k++) if (x[i * K + k] > x[i * K + at]) at = k;
    if (at === labels[i]) hits++;
  }
  return hits;
}
