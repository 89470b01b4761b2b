// What a benchmark case is. Case files (bench/<family>.ts) export arrays of BenchCase;
// bench/main.ts times each in bionas and, where given, in tfjs-backend-webgpu on the same
// adapter in the same run, and writes bench/RESULTS.md.

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
