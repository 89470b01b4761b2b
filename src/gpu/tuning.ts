// Tile shapes per adapter. On CPU rasterisers (llvmpipe, Mesa 22) every storage or workgroup
// load is a loop over the SIMD lanes (~20 cycles per lane and component) while FMAs are nearly
// free, and barriers are expensive: kernels keep large register blocks and no workgroup memory
// (matmul 1024^3: a 4x4 block per thread ran ~1 GFLOP/s, 32x32 ~7 on 2 cores), or fetch from
// textures, which llvmpipe gathers in one vector op (16x16 blocks: ~15). On real GPUs
// workgroup-memory tiling pays. Kernels read these as WGSL `override` constants, so both shapes
// share one source.

import type { DeviceInfo } from './device.js';

export interface Tuning {
  /** Threads per workgroup of 1-D elementwise kernels. */
  elementwiseWorkgroup: number;
  /**
   * CPU rasterisers: elementwise ops on at least minSize values read their operands from texture
   * copies (src/ops/texture_copy.ts), 4 values per thread. null on GPUs.
   */
  texturedElementwise: { minSize: number } | null;
  /**
   * Matmul (shaders/matmul/matmul.wgsl) on problems of at least matmulLargeWork multiply-adds:
   * workgroup of WG_X x WG_Y threads, each computing a TM x TN block (multiples of 4, at most 32;
   * at most 8 with SHARED); SHARED 1 stages TK-deep tiles in workgroup memory, 0 uses none.
   */
  matmul: MatmulTiles;
  /** Matmul below matmulLargeWork: smaller blocks (more threads busy, faster shader compiles). */
  matmulSmall: MatmulTiles;
  /** batch * M * N * K at and above which `matmul` is used rather than `matmulSmall`. */
  matmulLargeWork: number;
  /**
   * CPU rasterisers: products of at least minWork multiply-adds pack both operands into
   * rgba32float textures and run shaders/matmul/matmul_texture.wgsl (WG threads, each TM rows
   * (<= 16) x TN columns (a multiple of 4, <= 32)); llvmpipe fetches texels ~3x faster than it
   * loads storage buffers. null on GPUs, whose workgroup-memory tiles need no textures.
   */
  matmulTexture: MatmulTextureTiles | null;
  /** Threads per workgroup of reductions (one workgroup per output row). */
  reduceWorkgroup: number;
  /**
   * Partial reductions of one long vector (weightedSum's weight gradient, gradient norms):
   * at most this many workgroups of reduceWorkgroup threads, each thread striding over at
   * least ~8 elements; a second pass adds the partials in order.
   */
  partialGroups: number;
  /**
   * Split reductions (sum/mean over many elements, batch-norm statistics): elements one
   * workgroup of reduceWorkgroup threads reduces before a second pass adds the partials.
   */
  reduceChunk: number;
  /** Reductions with one thread per output: elements one thread adds before a second pass. */
  reduceThreadChunk: number;
  /**
   * Reduce rows with one thread each, walking memory sequentially (llvmpipe: no barriers), rather
   * than with a workgroup per row and a tree in workgroup memory (GPUs: coalesced reads).
   */
  reduceByThreads: boolean;
  /**
   * Per-pixel kernels (pooling, batch-norm apply): consecutive outputs one thread computes.
   * llvmpipe pays per invocation (4 per thread ran about 2x faster); GPUs coalesce best with 1.
   */
  pixelsPerThread: number;
  /** Conv2d kernels (shaders/conv/); see ConvTuning. */
  conv: ConvTuning;
}

export interface MatmulTiles { WG_X: number; WG_Y: number; TM: number; TN: number; SHARED: number; TK: number }
export interface MatmulTextureTiles { WG: number; TM: number; TN: number; minWork: number }

/**
 * Conv2d register blocks (shaders/conv/). On llvmpipe every divergent storage load costs about as
 * much as 100 FMAs (it is a per-lane loop, vec4 or not), so blocks are as large as the shader
 * compiler still unrolls into registers; on GPUs small blocks and many threads.
 */
export interface ConvTuning {
  /** Forward and input-gradient implicit GEMM: WG threads, each TM channels x TP pixels (TM*TP <= 128, TP <= 16). */
  gemm: { WG: number; TM: number; TP: number };
  /** Depthwise direct kernel: WG threads, each a TH x TW output tile (TH*TW <= 64, TH <= 16). */
  depthwise: { WG: number; TH: number; TW: number };
  /** The same reading its input from a texture (CPU rasterisers; null: never); TW % 4 == 0. */
  depthwiseTexture: { WG: number; TH: number; TW: number } | null;
  /**
   * Weight gradient GEMM: WG threads, each TM output channels x TN (channel, tap) columns
   * (TM*TN <= 128); the pixel reduction is split so about `threads` threads run, each over at
   * least `minChunk` pixels.
   */
  weightGrad: { WG: number; TM: number; TN: number; threads: number; minChunk: number };
  /** Depthwise weight gradient: TW pixels per row segment (<= 32); splits as for weightGrad (in output rows). */
  depthwiseWeightGrad: { WG: number; TW: number; threads: number; minChunk: number };
  /** The same reading x and g from textures (CPU rasterisers; null: never); TW % 4 == 0. */
  depthwiseWeightGradTexture: { WG: number; TW: number; threads: number; minChunk: number } | null;
  /** Bias gradient: split so about `threads` threads run, each over at least `minChunk` elements. */
  biasGrad: { threads: number; minChunk: number };
}

export function chooseTuning(info: DeviceInfo): Tuning {
  if (info.isSoftware) {
    return {
      elementwiseWorkgroup: 64,
      // Adding two 2^19-value tensors: 8.8 ms from buffers, ~2 ms from texture copies. Below
      // 2^16 values the copies' fixed costs left no gain measurable in a tiny search step.
      texturedElementwise: { minSize: 2 ** 16 },
      // From storage buffers (products whose textures would exceed the adapter's size limit):
      // 32x32 blocks, 16 FMAs per loaded value; their shader takes ~30 s to compile once (Mesa
      // caches it on disk), so problems under 2^27 multiply-adds use 8x8 blocks (~1 s).
      matmul: { WG_X: 8, WG_Y: 1, TM: 32, TN: 32, SHARED: 0, TK: 16 },
      matmulSmall: { WG_X: 8, WG_Y: 1, TM: 8, TN: 8, SHARED: 0, TK: 16 },
      matmulLargeWork: 2 ** 27,
      matmulTexture: { WG: 8, TM: 16, TN: 16, minWork: 2 ** 19 },
      reduceWorkgroup: 64,
      partialGroups: 16,
      reduceChunk: 16384,
      reduceThreadChunk: 1024,
      reduceByThreads: true,
      pixelsPerThread: 4,
      conv: {
        gemm: { WG: 64, TM: 16, TP: 8 },
        depthwise: { WG: 64, TH: 4, TW: 8 },
        depthwiseTexture: { WG: 64, TH: 2, TW: 16 },
        weightGrad: { WG: 64, TM: 8, TN: 8, threads: 512, minChunk: 256 },
        depthwiseWeightGrad: { WG: 64, TW: 8, threads: 512, minChunk: 4 },
        depthwiseWeightGradTexture: { WG: 64, TW: 8, threads: 512, minChunk: 4 },
        biasGrad: { threads: 256, minChunk: 1024 },
      },
    };
  }
  return {
    elementwiseWorkgroup: 256,
    texturedElementwise: null,
    matmul: { WG_X: 16, WG_Y: 16, TM: 4, TN: 4, SHARED: 1, TK: 16 },
    matmulSmall: { WG_X: 16, WG_Y: 16, TM: 4, TN: 4, SHARED: 1, TK: 16 },
    matmulLargeWork: 0,
    matmulTexture: null,
    reduceWorkgroup: 256,
    partialGroups: 256,
    reduceChunk: 4096,
    reduceThreadChunk: 256,
    reduceByThreads: false,
    pixelsPerThread: 1,
    conv: {
      gemm: { WG: 64, TM: 4, TP: 4 },
      depthwise: { WG: 64, TH: 1, TW: 4 },
      depthwiseTexture: null,
      weightGrad: { WG: 64, TM: 4, TN: 4, threads: 16384, minChunk: 64 },
      depthwiseWeightGrad: { WG: 64, TW: 4, threads: 16384, minChunk: 1 },
      depthwiseWeightGradTexture: null,
      biasGrad: { threads: 8192, minChunk: 256 },
    },
  };
}
