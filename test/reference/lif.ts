// CPU references of the LIF neuron over T steps (T-major [T, M] arrays) and of the polarity
// gate. The forward rounds like float32 WGSL does (Math.fround per operation), so spikes near
// the threshold agree with the kernel's; the backward runs in float64 on the saved membranes.

export interface LifRefOpts {
  T: number;
  tau: number;
  threshold: number;
  alpha: number;
}

/** BrainCog's quadratic-gate surrogate: alpha - alpha^2 |d| on |d| <= 1/alpha, else 0. */
export function surrogateRef(d: number, alpha: number): number {
  const a = Math.abs(d);
  return a <= 1 / alpha ? alpha - alpha * alpha * a : 0;
}

/** Its primitive (the smooth stand-in for the step [d > 0]): 0, -alpha^2|d|d/2 + alpha d + 1/2, 1. */
export function surrogatePrimitiveRef(d: number, alpha: number): number {
  if (d < -1 / alpha) return 0;
  if (d > 1 / alpha) return 1;
  return -0.5 * alpha * alpha * Math.abs(d) * d + alpha * d + 0.5;
}

/**
 * Forward: spikes, membranes before reset u, counts. `round` emulates float32 (the kernel);
 * without it the arithmetic is float64. `fire` maps u - threshold to the output: the step
 * (default) or, for finite differences, the smooth primitive.
 */
export function lifRef(x: ArrayLike<number>, o: LifRefOpts, round = true, fire?: (d: number) => number): { spikes: Float64Array; u: Float64Array; counts: Float64Array } {
  const M = x.length / o.T;
  const r = round ? Math.fround : (v: number) => v;
  const spikes = new Float64Array(x.length);
  const u = new Float64Array(x.length);
  const counts = new Float64Array(M);
  for (let i = 0; i < M; i++) {
    let m = 0;
    for (let t = 0; t < o.T; t++) {
      const k = t * M + i;
      const ut = r(m + r(r(x[k] - m) / o.tau));
      const s = ut > o.threshold ? 1 : 0;
      u[k] = ut;
      spikes[k] = fire ? fire(ut - o.threshold) : s;
      counts[i] += s;
      m = r(ut * (1 - s)); // the reset uses the hard spike: a constant for the derivative
    }
  }
  return { spikes, u, counts };
}

/** Backpropagation through time: dL/dx from dL/dspikes and the membranes u. */
export function lifBackwardRef(gs: ArrayLike<number>, u: ArrayLike<number>, o: LifRefOpts): Float64Array {
  const M = u.length / o.T;
  const gx = new Float64Array(u.length);
  for (let i = 0; i < M; i++) {
    let gm = 0;
    for (let t = o.T - 1; t >= 0; t--) {
      const k = t * M + i;
      const gu = gs[k] * surrogateRef(u[k] - o.threshold, o.alpha) + (u[k] > o.threshold ? 0 : gm);
      gx[k] = gu / o.tau;
      gm = gu * (1 - 1 / o.tau);
    }
  }
  return gx;
}

export function polarityRef(x: ArrayLike<number>, sign: 1 | -1): Float64Array {
  return Float64Array.from(x, (v) => (sign * v > 0 ? v : 0));
}
