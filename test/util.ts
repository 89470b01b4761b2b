// Shared test helpers: a seeded generator (seed printed so a failure can be replayed), the
// comparison with a CPU reference, and the GPU set-up that poisons every fresh buffer with NaN.

import { beforeAll, afterAll, expect } from 'vitest';
import { initGpu, shutdownGpu, type Runtime } from '../src/gpu/runtime.js';

export function useGpu(): () => Runtime {
  let rt: Runtime | null = null;
  beforeAll(async () => {
    rt = await initGpu();
    rt.poison = true;
  });
  afterAll(() => shutdownGpu());
  return () => rt!;
}

/** mulberry32: small, fast, good enough for test inputs. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A fresh seed per run, printed, or BIONAS_SEED to replay one. */
export function freshSeed(what: string): number {
  const seed = process.env.BIONAS_SEED ? Number(process.env.BIONAS_SEED) : (Math.random() * 2 ** 31) >>> 0;
  console.log(`[seed] ${what}: ${seed}`);
  return seed;
}

export function randomArray(n: number, next: () => number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * next();
  return a;
}

/** max |got - want| / max |want|: float32 kernels must stay under 1e-4. NaN counts as failure. */
export function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} vs ${want.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= diff)) diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return diff / Math.max(scale, 1e-12);
}

export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-4, what = ''): void {
  const err = relError(got, want);
  if (!(err < tol)) {
    let worst = 0;
    for (let i = 0; i < want.length; i++) if (!(Math.abs(got[i] - want[i]) <= Math.abs(got[worst] - want[worst]))) worst = i;
    throw new Error(`${what} relative error ${err} >= ${tol}; worst at ${worst}: got ${got[worst]}, want ${want[worst]}`);
  }
  expect(err).toBeLessThan(tol);
}

/** Central finite differences of a float64 scalar function f at x. */
export function finiteDifference(f: (x: Float64Array) => number, x: Float64Array, h = 1e-5): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + h;
    const up = f(x);
    x[i] = keep - h;
    const down = f(x);
    x[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}
