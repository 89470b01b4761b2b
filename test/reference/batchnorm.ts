// CPU reference (float64) for batch norm over NCHW: forward in training and evaluation, the
// running-statistics update, and the backward (dx, dweight, dbias).

export interface BnRefOpts {
  weight: ArrayLike<number> | null;
  bias: ArrayLike<number> | null;
  runningMean: ArrayLike<number>;
  runningVar: ArrayLike<number>;
  training: boolean;
  momentum: number;
  eps: number;
}

export interface BnRefForward {
  out: Float64Array;
  mean: Float64Array;
  /** Biased variance used to normalise. */
  var: Float64Array;
  runningMean: Float64Array;
  runningVar: Float64Array;
}

export function batchNormRef(x: ArrayLike<number>, shape: number[], o: BnRefOpts): BnRefForward {
  const [N, C, H, W] = shape;
  const HW = H * W, M = N * HW;
  const mean = new Float64Array(C), vari = new Float64Array(C);
  const runningMean = Float64Array.from(o.runningMean), runningVar = Float64Array.from(o.runningVar);
  for (let c = 0; c < C; c++) {
    if (o.training) {
      let s = 0;
      for (let n = 0; n < N; n++) for (let q = 0; q < HW; q++) s += x[(n * C + c) * HW + q];
      const m = s / M;
      let v = 0;
      for (let n = 0; n < N; n++) for (let q = 0; q < HW; q++) v += (x[(n * C + c) * HW + q] - m) ** 2;
      mean[c] = m;
      vari[c] = v / M;
      runningMean[c] = (1 - o.momentum) * runningMean[c] + o.momentum * m;
      runningVar[c] = (1 - o.momentum) * runningVar[c] + o.momentum * (v / (M - 1));
    } else {
      mean[c] = o.runningMean[c];
      vari[c] = o.runningVar[c];
    }
  }
  const out = new Float64Array(N * C * HW);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const invstd = 1 / Math.sqrt(vari[c] + o.eps);
      const w = o.weight ? o.weight[c] : 1, b = o.bias ? o.bias[c] : 0;
      for (let q = 0; q < HW; q++) {
        const i = (n * C + c) * HW + q;
        out[i] = (x[i] - mean[c]) * invstd * w + b;
      }
    }
  }
  return { out, mean, var: vari, runningMean, runningVar };
}

/** Gradients of sum(g * batchNorm(x)) (the statistics depend on x in training). */
export function batchNormBackwardRef(g: ArrayLike<number>, x: ArrayLike<number>, shape: number[], o: BnRefOpts): {
  dx: Float64Array; dweight: Float64Array; dbias: Float64Array;
} {
  const [N, C, H, W] = shape;
  const HW = H * W, M = N * HW;
  const { mean, var: vari } = batchNormRef(x, shape, o);
  const dx = new Float64Array(N * C * HW), dweight = new Float64Array(C), dbias = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const invstd = 1 / Math.sqrt(vari[c] + o.eps);
    const w = o.weight ? o.weight[c] : 1;
    let sg = 0, sgx = 0;
    for (let n = 0; n < N; n++) {
      for (let q = 0; q < HW; q++) {
        const i = (n * C + c) * HW + q;
        sg += g[i];
        sgx += g[i] * (x[i] - mean[c]) * invstd;
      }
    }
    dweight[c] = sgx;
    dbias[c] = sg;
    for (let n = 0; n < N; n++) {
      for (let q = 0; q < HW; q++) {
        const i = (n * C + c) * HW + q;
        const xhat = (x[i] - mean[c]) * invstd;
        dx[i] = o.training ? (invstd * w / M) * (M * g[i] - sg - xhat * sgx) : g[i] * w * invstd;
      }
    }
  }
  return { dx, dweight, dbias };
}
