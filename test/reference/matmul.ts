// CPU reference for matrix products and linear layers, float64, row-major, plain loops.
// Slow and obvious on purpose.

type Arr = ArrayLike<number>;

/**
 * C[z] = op(A[z]) op(B[z]) for z < batch: op(A) is [M, K] (A stored [K, M] when transA),
 * op(B) is [K, N] (B stored [N, K] when transB). sharedA / sharedB: the operand has no batch.
 */
export function matmulRef(
  A: Arr, B: Arr, M: number, K: number, N: number,
  opts: { transA?: boolean; transB?: boolean; batch?: number; sharedA?: boolean; sharedB?: boolean } = {},
): Float64Array {
  const batch = opts.batch ?? 1;
  const C = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    const oa = opts.sharedA ? 0 : z * M * K;
    const ob = opts.sharedB ? 0 : z * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const a = opts.transA ? A[oa + k * M + m] : A[oa + m * K + k];
          const b = opts.transB ? B[ob + n * K + k] : B[ob + k * N + n];
          s += a * b;
        }
        C[z * M * N + m * N + n] = s;
      }
    }
  }
  return C;
}

/** Transpose of a [rows, cols] matrix. */
export function transposeRef(A: Arr, rows: number, cols: number): Float64Array {
  const T = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) T[c * rows + r] = A[r * cols + c];
  return T;
}

/** y = x W^T + b: x [rows, inF], W [outF, inF], b [outF] or null -> [rows, outF]. */
export function linearRef(x: Arr, W: Arr, b: Arr | null, rows: number, inF: number, outF: number): Float64Array {
  const y = matmulRef(x, W, rows, inF, outF, { transB: true });
  if (b) for (let r = 0; r < rows; r++) for (let o = 0; o < outF; o++) y[r * outF + o] += b[o];
  return y;
}

/** dx = g F: g [rows, outF], F [outF, inF] -> [rows, inF]. */
export function linearBackwardInputRef(g: Arr, F: Arr, rows: number, inF: number, outF: number): Float64Array {
  return matmulRef(g, F, rows, outF, inF);
}

/** dW = g^T x: g [rows, outF], x [rows, inF] -> [outF, inF]. */
export function linearBackwardWeightRef(g: Arr, x: Arr, rows: number, inF: number, outF: number): Float64Array {
  return matmulRef(g, x, outF, rows, inF, { transA: true });
}

/** db = column sums of g [rows, outF] -> [outF]. */
export function columnSumRef(g: Arr, rows: number, cols: number): Float64Array {
  const s = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) s[c] += g[r * cols + c];
  return s;
}

/**
 * Gradients of L = sum(C * G) for C = op(A) op(B) (2-D), in A's and B's stored layouts:
 * dop(A) = G op(B)^T, dop(B) = op(A)^T G, transposed back where the operand is stored transposed.
 */
export function matmulGradRef(
  A: Arr, B: Arr, G: Arr, M: number, K: number, N: number, transA: boolean, transB: boolean,
): { dA: Float64Array; dB: Float64Array } {
  const opA = transA ? transposeRef(A, K, M) : Float64Array.from(A); // [M, K]
  const opB = transB ? transposeRef(B, N, K) : Float64Array.from(B); // [K, N]
  const dOpA = matmulRef(G, opB, M, N, K, { transB: true }); // [M, K]
  const dOpB = matmulRef(opA, G, K, M, N, { transA: true }); // [K, N]
  return {
    dA: transA ? transposeRef(dOpA, M, K) : dOpA,
    dB: transB ? transposeRef(dOpB, K, N) : dOpB,
  };
}
