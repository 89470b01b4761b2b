// Seeded test inputs and the error measure every kernel check uses; free of vitest so that the
// browser page (test/browser/page.ts) can bundle them too.

import { mulberry32 } from '../../src/data/dataset.js';

/** mulberry32: small, fast, good enough for test inputs. */
export const rng = mulberry32;

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
