// Tile shapes per adapter. On CPU rasterisers (llvmpipe) a thread that keeps a 4x4 block of
// outputs in registers and reads vec4s ran 12 GFLOP/s on matmul, while a 16x16 tile staged in
// workgroup memory ran 0.9: barriers are expensive there. On real GPUs workgroup-memory tiling
// pays. Kernels read these as WGSL `override` constants, so both shapes share one source.

import type { DeviceInfo } from './device.js';

export interface Tuning {
  /** Threads per workgroup of 1-D elementwise kernels. */
  elementwiseWorkgroup: number;
  /** Matmul/conv: workgroup of WG_X x WG_Y threads, each computing a TM x TN register block. */
  matmul: { WG_X: number; WG_Y: number; TM: number; TN: number; SHARED: number };
  /** Threads per workgroup of reductions (one workgroup per output row). */
  reduceWorkgroup: number;
}

export function chooseTuning(info: DeviceInfo): Tuning {
  if (info.isSoftware) {
    return {
      elementwiseWorkgroup: 64,
      matmul: { WG_X: 8, WG_Y: 8, TM: 4, TN: 4, SHARED: 0 },
      reduceWorkgroup: 64,
    };
  }
  return {
    elementwiseWorkgroup: 256,
    matmul: { WG_X: 16, WG_Y: 16, TM: 4, TN: 4, SHARED: 1 },
    reduceWorkgroup: 256,
  };
}
