// Batch normalisation over NCHW float32, PyTorch semantics.
//
// Training: per-channel mean and biased variance of the batch normalise x; the running
// statistics are updated in place on the GPU (running = (1 - momentum) * running +
// momentum * batch, the variance unbiased by M / (M - 1), M = N*H*W). Evaluation: the running
// statistics normalise. weight/bias null means affine = false.
//
// Kernels: batchnorm_partial (every channel's M values cut into S chunks, each summed by one
// workgroup in a tree, or on llvmpipe by one thread walking memory in order, or its texture
// copy: batchnorm_partial_texture), batchnorm_stats / batchnorm_backward_coef (one
// thread per channel: adds the S partials and forms the per-channel coefficients), and
// batchnorm_apply (one pass over x: y = x * scale + shift, or dx = k * g + p * (x - mean) + q;
// on CPU rasterisers, tuning.texturedElementwise, batchnorm_apply_texture reads texture copies).
// Forward in training is 3 dispatches, in evaluation 2; backward 3 (2 when nothing is summed).
//
// Batch groups (the step context's batchGroups, set by withBatchGroups or scoring): BioNAS-EG
// scores a generation's candidates in one pass by stacking G copies of a batch, one per
// candidate; each copy must then be normalised by its own statistics, as if it had run alone.
// With G > 1, batch-statistics batch norm computes them per group of N / G images and leaves
// the running statistics alone. Forward only: a grouped batch norm records no gradient.
// `updateRunning: false` normalises with the batch's statistics without touching the running
// ones (evaluation-mode scoring).

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { Tensor, fmt } from '../tensor.js';
import { record } from '../tape.js';
import { context, isGradEnabled } from '../context.js';
import partialSource from '../../shaders/batchnorm/partial.wgsl';
import statsSource from '../../shaders/batchnorm/stats.wgsl';
import coefSource from '../../shaders/batchnorm/backward_coef.wgsl';
import applySource from '../../shaders/batchnorm/apply.wgsl';
import applyTextureSource from '../../shaders/batchnorm/apply_texture.wgsl';
import partialTextureSource from '../../shaders/batchnorm/partial_texture.wgsl';
import { TEXTURE_COPY_SHIFT, readsTextureCopies, withTextureCopies } from './texture_copy.js';

const partialGroupKernel = new Kernel('batchnorm_partial_group', partialSource, 'group_main');
const partialThreadKernel = new Kernel('batchnorm_partial_thread', partialSource, 'thread_main');
const partialTextureKernel = new Kernel('batchnorm_partial_texture', partialTextureSource);
const statsKernel = new Kernel('batchnorm_stats', statsSource);
const coefKernel = new Kernel('batchnorm_backward_coef', coefSource);
const applyKernel = new Kernel('batchnorm_apply', applySource);
const applyTextureKernel = new Kernel('batchnorm_apply_texture', applyTextureSource);

export interface BatchNorm2dOptions {
  /** [C] scale, or null/undefined for affine = false. */
  weight?: Tensor | null;
  /** [C] shift, or null/undefined. */
  bias?: Tensor | null;
  /** [C], updated in place in training. */
  runningMean: Tensor;
  /** [C], updated in place in training (with the unbiased batch variance). */
  runningVar: Tensor;
  /** Normalise with the batch's statistics (else with the running ones). */
  training: boolean;
  /** In training, also update the running statistics (default true; never with batch groups). */
  updateRunning?: boolean;
  /** Default 0.1. */
  momentum?: number;
  /** Default 1e-5. */
  eps?: number;
}

/** What the backward needs from the forward. */
export interface BatchNormSaved {
  /** [4, C]: mean, invstd, scale, shift as used by the forward. */
  stats: Tensor;
  training: boolean;
}

function checkChannelVector(name: string, t: Tensor, C: number, xShape: readonly number[]): void {
  if (t.dtype !== 'f32' || t.rank !== 1 || t.shape[0] !== C) {
    throw new Error(`batchNorm2d: ${name} ${fmt(t.shape)} (${t.dtype}) must be f32 [${C}] for input ${fmt(xShape)}`);
  }
}

export { withBatchGroups } from '../context.js';

function dims(x: Tensor): { N: number; C: number; HW: number; M: number } {
  const [N, C, H, W] = x.shape;
  return { N, C, HW: H * W, M: N * H * W };
}

/**
 * Per-channel partial sums (mode 0: of x; mode 1: of g and g * (x - mean); mode 2: of g and g * x) into [C, S, 2].
 * GPUs: a workgroup per chunk of a channel (grid S x C). llvmpipe (tuning.reduceByThreads):
 * a thread per contiguous run inside an (n, c) plane, reading texture copies where
 * tuning.texturedElementwise allows. S = 0 for an empty batch.
 */
function partialSums(x: Tensor, g: Tensor | null, mean: Tensor | null, mode: 0 | 1 | 2, G = 1): { partial: Tensor; S: number } {
  const rt = gpu();
  const { N, C, HW } = dims(x);
  const Ng = N / G;
  const M = Ng * HW;
  const tune = rt.tuning;
  const byThreads = tune.reduceByThreads;
  const chunk = byThreads ? tune.reduceThreadChunk : tune.reduceChunk;
  const SP = Math.ceil(HW / chunk);
  const S = byThreads ? Ng * SP : Math.ceil(M / chunk);
  const partial = Tensor.empty([Math.max(1, 2 * G * C * S)], 'f32', 'batchnorm.partial');
  const buffers = { x: x.buffer, g: (g ?? x).buffer, mean: (mean ?? x).buffer, partial: partial.buffer };
  const uniforms = { C, HW, M, chunk, S, Ng, planes: N * C };
  if (S > 0 && C > 0) {
    const read = g ? [x, g] : [x];
    if (byThreads && HW % 4 === 0 && chunk % 4 === 0 && readsTextureCopies(x.size, read)) {
      withTextureCopies(read, 'batchnorm_partial_texture', ([tx, tg]) =>
        rt.dispatch1d(partialTextureKernel, { x: tx, g: tg ?? tx, mean: buffers.mean, partial: buffers.partial }, uniforms, N * C * SP,
          { WG: tune.reduceWorkgroup, MODE: mode, WT_SHIFT: TEXTURE_COPY_SHIFT }));
    } else if (byThreads) rt.dispatch1d(partialThreadKernel, buffers, uniforms, N * C * SP, { WG: tune.reduceWorkgroup, MODE: mode });
    else rt.dispatch(partialGroupKernel, buffers, uniforms, [S, G * C], { WG: tune.reduceWorkgroup, MODE: mode });
  }
  return { partial, S };
}

/** One pass over x: the per-channel affine map of the forward (mode 0) or the backward (mode 1). */
function apply(x: Tensor, g: Tensor | null, coef: Tensor, mode: 0 | 1, G = 1): Tensor {
  const rt = gpu();
  const { N, C, HW } = dims(x);
  const Ng = N / G;
  const out = Tensor.empty(x.shape, 'f32', mode === 0 ? 'batchnorm' : 'batchnorm.dx');
  const rows = N * C;
  if (out.size === 0) return out;
  const wg = rt.tuning.elementwiseWorkgroup;
  const read = g ? [x, g] : [x];
  if (HW % 4 === 0 && readsTextureCopies(out.size, read)) {
    const HW4 = HW / 4;
    const PER = [4, 2, 1].find((p) => HW4 % p === 0)!;
    withTextureCopies(read, 'batchnorm_apply_texture', ([tx, tg]) =>
      rt.dispatch1d(applyTextureKernel, { x: tx, g: tg ?? tx, coef: coef.buffer, out: out.buffer },
        { C, HW4, texels: out.size / 4, Ng, GC: G * C }, out.size / 4 / PER, { MODE: mode, PER, WT_SHIFT: TEXTURE_COPY_SHIFT }));
    return out;
  }
  const PER = rt.tuning.pixelsPerThread;
  const max = rt.info.limits.maxComputeWorkgroupsPerDimension ?? 65535;
  const z = Math.ceil(rows / max);
  rt.dispatch(
    applyKernel,
    { x: x.buffer, g: (g ?? x).buffer, coef: coef.buffer, out: out.buffer },
    { C, HW, rows, Ng, GC: G * C },
    [Math.ceil(HW / (wg * PER)), Math.ceil(rows / z), z],
    { WG: wg, MODE: mode, PER },
  );
  return out;
}

function validate(x: Tensor, opts: BatchNorm2dOptions): void {
  if (x.rank !== 4) throw new Error(`batchNorm2d: input ${fmt(x.shape)} must be [N, C, H, W] (rank 4, got rank ${x.rank})`);
  if (x.dtype !== 'f32') throw new Error(`batchNorm2d: needs an f32 input, got ${x.dtype} ${fmt(x.shape)}`);
  const { C, M } = dims(x);
  if (!opts.runningMean || !opts.runningVar) throw new Error(`batchNorm2d: runningMean and runningVar are required (input ${fmt(x.shape)})`);
  checkChannelVector('runningMean', opts.runningMean, C, x.shape);
  checkChannelVector('runningVar', opts.runningVar, C, x.shape);
  if (opts.runningMean.buffer === opts.runningVar.buffer) throw new Error('batchNorm2d: runningMean and runningVar share memory');
  if (opts.weight) checkChannelVector('weight', opts.weight, C, x.shape);
  if (opts.bias) checkChannelVector('bias', opts.bias, C, x.shape);
  const G = opts.training ? context().batchGroups : 1;
  if (x.shape[0] % G !== 0) throw new Error(`batchNorm2d: input ${fmt(x.shape)} does not split into ${G} batch groups`);
  if (opts.training && M / G <= 1) {
    throw new Error(`batchNorm2d: training needs more than one value per channel${G > 1 ? ` and batch group (${G} groups)` : ''}, got input ${fmt(x.shape)}`);
  }
  const max = gpu().info.limits.maxComputeWorkgroupsPerDimension ?? 65535;
  if (G * C > max) throw new Error(`batchNorm2d: input ${fmt(x.shape)} has more than ${max} channels${G > 1 ? ` over its ${G} batch groups` : ''}`);
  const momentum = opts.momentum ?? 0.1;
  const eps = opts.eps ?? 1e-5;
  if (!Number.isFinite(momentum) || !(eps >= 0)) throw new Error(`batchNorm2d: bad momentum ${momentum} or eps ${eps}`);
}

/**
 * Raw forward: the normalised output and the statistics the backward needs. In training the
 * running statistics are updated in place (as recorded, before any later reader).
 */
export function batchNorm2dForward(x: Tensor, opts: BatchNorm2dOptions): { out: Tensor; saved: BatchNormSaved } {
  validate(x, opts);
  const rt = gpu();
  const { N, C, HW } = dims(x);
  const training = opts.training;
  const G = training ? context().batchGroups : 1;
  // A group's statistics are not the batch's: with groups the running ones stay as they are.
  const update = training && G === 1 && (opts.updateRunning ?? true);
  const weight = opts.weight ?? null;
  const bias = opts.bias ?? null;
  const { partial, S } = training ? partialSums(x, null, null, 0, G) : { partial: null, S: 0 };
  const stats = Tensor.empty([4, G * C], 'f32', 'batchnorm.stats');
  if (C > 0) {
    rt.dispatch1d(
      statsKernel,
      {
        partial: (partial ?? x).buffer, x: x.buffer, weight: (weight ?? x).buffer, bias: (bias ?? x).buffer,
        runningMean: opts.runningMean.buffer, runningVar: opts.runningVar.buffer, stats: stats.buffer,
      },
      {
        C, HW, M: (N / G) * HW, S, momentum: opts.momentum ?? 0.1, eps: opts.eps ?? 1e-5,
        hasWeight: weight ? 1 : 0, hasBias: bias ? 1 : 0, G, Ng: N / G, update: update ? 1 : 0,
      },
      G * C,
      { TRAINING: training ? 1 : 0 },
    );
  }
  partial?.release();
  const out = apply(x, null, stats, 0, G);
  return { out, saved: { stats, training } };
}

/**
 * Raw backward. Training: dx = invstd * w / M * (M * g - sum(g) - xhat * sum(g * xhat));
 * evaluation: dx = g * w * invstd. dweight = sum(g * xhat), dbias = sum(g) (per channel).
 * Only the gradients asked for are returned (the others are null). fromOutput (affine = false):
 * `x` is the forward's output, which is xhat itself, so the input need not be kept.
 */
export function batchNorm2dBackward(
  g: Tensor, x: Tensor, saved: BatchNormSaved, weight: Tensor | null,
  want: { x: boolean; weight: boolean; bias: boolean }, fromOutput = false,
): { dx: Tensor | null; dweight: Tensor | null; dbias: Tensor | null } {
  if (fromOutput && weight) throw new Error('batchNorm2dBackward: the backward from the output is for affine = false only');
  if (g.size !== x.size || g.rank !== x.rank || g.shape.some((d, i) => d !== x.shape[i])) {
    throw new Error(`batchNorm2dBackward: gradient ${fmt(g.shape)} does not match input ${fmt(x.shape)}`);
  }
  const rt = gpu();
  const { C, M } = dims(x);
  // The sums are needed for the parameter gradients, and in training for dx.
  const needSums = want.weight || want.bias || (want.x && saved.training);
  // From the output y = xhat the sums are centred at 0, not at the mean (mode 2).
  const { partial, S } = needSums ? partialSums(x, g, saved.stats, fromOutput ? 2 : 1) : { partial: null, S: 0 };
  const dweight = Tensor.empty([C], 'f32', 'batchnorm.dweight');
  const dbias = Tensor.empty([C], 'f32', 'batchnorm.dbias');
  const coef = Tensor.empty([4, C], 'f32', 'batchnorm.coef');
  if (C > 0) {
    rt.dispatch1d(
      coefKernel,
      {
        partial: (partial ?? x).buffer, stats: saved.stats.buffer, weight: (weight ?? x).buffer,
        dweight: dweight.buffer, dbias: dbias.buffer, coef: coef.buffer,
      },
      { C, M, S, hasWeight: weight ? 1 : 0 },
      C,
      { TRAINING: saved.training ? 1 : 0, FROM_OUTPUT: fromOutput ? 1 : 0 },
    );
  }
  partial?.release();
  const dx = want.x ? apply(x, g, coef, 1) : null;
  coef.release();
  if (!want.weight) dweight.release();
  if (!want.bias) dbias.release();
  return { dx, dweight: want.weight ? dweight : null, dbias: want.bias ? dbias : null };
}

/** Whether batchNorm2d's backward reads its input (affine) or only its output (affine = false). */
export function batchNormReadsInput(opts: Pick<BatchNorm2dOptions, 'weight' | 'bias'>): boolean {
  return !!(opts.weight || opts.bias);
}

/** Batch norm of x [N, C, H, W]; see BatchNorm2dOptions. */
export function batchNorm2d(x: Tensor, opts: BatchNorm2dOptions): Tensor {
  const batchGroups = context().batchGroups;
  if (opts.training && batchGroups > 1 && isGradEnabled() && [x, opts.weight, opts.bias].some((t) => t?.requiresGrad)) {
    throw new Error(`batchNorm2d: batch groups (${batchGroups}) are forward only; run under noGrad (input ${fmt(x.shape)})`);
  }
  const { out, saved } = batchNorm2dForward(x, opts);
  const weight = opts.weight ?? null;
  const bias = opts.bias ?? null;
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  // Without affine parameters the output is xhat: the backward reads it, and x may be freed
  // (batchNormReadsInput), which saves a tensor per BN in a supernet.
  const fromOutput = !weight && !bias;
  const recorded = record(out, 'batchNorm2d', inputs, (g) => {
    const r = batchNorm2dBackward(g, fromOutput ? out : x, saved, weight, {
      x: x.requiresGrad, weight: !!weight?.requiresGrad, bias: !!bias?.requiresGrad,
    }, fromOutput);
    return [r.dx, ...(weight ? [r.dweight] : []), ...(bias ? [r.dbias] : [])];
  });
  // Without a backward node nothing reads the statistics again.
  if (!recorded.node) saved.stats.release();
  return recorded;
}
