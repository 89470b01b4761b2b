// Shared test helpers: a seeded generator (seed printed so a failure can be replayed), the
// comparison with a CPU reference, and the GPU set-up that poisons every fresh buffer with NaN.

import { beforeAll, afterAll, expect } from 'vitest';
import { initGpu, shutdownGpu, type Runtime } from '../src/gpu/runtime.js';
import { relError } from './reference/inputs.js';

export { rng, randomArray, relError } from './reference/inputs.js';

export function useGpu(): () => Runtime {
  let rt: Runtime | null = null;
  beforeAll(async () => {
    rt = await initGpu();
    rt.poison = true;
  });
  afterAll(() => shutdownGpu());
  return () => rt!;
}

/** Dispatches recorded so far of the kernels whose label (name[overrides]) `match` accepts: which path ran. */
export function dispatchCount(runtime: Runtime, match: (label: string) => boolean): number {
  let n = 0;
  for (const [label, count] of runtime.recorder.counts) if (match(label)) n += count;
  return n;
}

/** A fresh seed per run, printed, or BIONAS_SEED to replay one. */
export function freshSeed(what: string): number {
  const seed = process.env.BIONAS_SEED ? Number(process.env.BIONAS_SEED) : (Math.random() * 2 ** 31) >>> 0;
  console.log(`[seed] ${what}: ${seed}`);
  return seed;
}

/**
 * The seed of a test whose assertion depends on how training goes (a loss that falls, an angle
 * that shrinks): fixed, so CI cannot fail on an unlucky draw; printed like the fresh ones.
 */
export function fixedSeed(what: string, seed: number): number {
  console.log(`[seed] ${what}: ${seed} (fixed: a learning test)`);
  return seed;
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
