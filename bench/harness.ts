// What a benchmark case is. Case files (bench/<family>.ts) export arrays of BenchCase;
// bench/main.ts times each in bionas and, where given, in tfjs-backend-webgpu on the same
// adapter in the same run, and writes bench/RESULTS.md.

import { scope } from '../src/tensor.js';

export interface Runnable {
  /** Records one run of the computation (bionas: into the current command encoder). */
  run(): unknown;
  dispose(): void;
}

export interface BenchCase {
  /** e.g. 'matmul 1024x1024x1024' */
  name: string;
  /** e.g. 'matmul', 'conv', 'pool'; groups the table. */
  family: string;
  /** Floating-point operations of one run (multiply-add = 2); 0 when meaningless. */
  flops: number;
  /** Bytes one run must at least read and write. */
  bytes: number;
  /** Allocates inputs on the bionas engine (gpu() is initialised) and returns the run. */
  bionas(): Runnable;
  /** The same computation in tfjs-backend-webgpu, when it has one. `tf` is @tensorflow/tfjs-core. */
  tfjs?(tf: any): Runnable;
}

export interface BenchCase {
  /** Images (or candidates) one run processes: the table then shows items per second. */
  items?: number;
  /** Also print the per-kernel time split of one run (src/gpu/profiler.ts). */
  profile?: boolean;
}

/** Deterministic inputs (an LCG), the same on every run and machine: n values in [lo, hi). */
export function randomArray(n: number, seed: number, lo = -0.5, hi = 0.5): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = lo + (hi - lo) * (s / 2 ** 32);
  }
  return a;
}

interface Disposable {
  dispose(): void;
}

/** A bionas run: inputs live until dispose(); what one run makes is released when it ends. */
export function bionasRun(inputs: { release(): void }[], step: () => unknown): Runnable {
  return {
    run: () => scope(() => void step()),
    dispose: () => inputs.forEach((t) => t.release()),
  };
}

/**
 * A tfjs run: step returns a tensor or several; the first is returned for main to read back,
 * the previous run's are disposed. With `tf`, step runs inside tf.tidy.
 */
export function tfjsRun(inputs: Disposable[], step: () => Disposable | Disposable[], tf?: { tidy(f: () => unknown): unknown }): Runnable {
  let last: Disposable[] = [];
  return {
    run: () => {
      const out = (tf ? tf.tidy(step) : step()) as Disposable | Disposable[];
      for (const t of last) t.dispose();
      last = Array.isArray(out) ? out : [out];
      return last[0];
    },
    dispose: () => {
      for (const t of last) t.dispose();
      last = [];
      inputs.forEach((t) => t.dispose());
    },
  };
}
