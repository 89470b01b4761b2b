// The steps of the white-box attacks, as kernels so an iteration stays on the GPU: the projected
// signed-gradient step of FGSM / PGD / TPGD, their random start, and APGD's momentum step, start
// and per-image state machine (step size, best loss and point, counters, halving at checkpoints,
// the first misclassified iterate). Nothing here reads back; APGD's decisions are kernels over a
// state tensor f32 [APGD_FIELDS, N] (field f of image n at f * N + n).

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { Tensor, fmt } from '../tensor.js';
import signStepSource from '../../shaders/attack/sign_step.wgsl';
import perturbedStartSource from '../../shaders/attack/perturbed_start.wgsl';
import apgdSamplesSource from '../../shaders/attack/apgd_samples.wgsl';
import apgdStartSource from '../../shaders/attack/apgd_start.wgsl';
import apgdStepSource from '../../shaders/attack/apgd_step.wgsl';
import apgdRecordSource from '../../shaders/attack/apgd_record.wgsl';
import apgdMergeSource from '../../shaders/attack/apgd_merge.wgsl';

const signStepKernel = new Kernel('attack_sign_step', signStepSource);
const perturbedStartKernel = new Kernel('attack_perturbed_start', perturbedStartSource);
const apgdStartKernel = new Kernel('apgd_start', apgdStartSource);
const apgdStepKernel = new Kernel('apgd_step', apgdStepSource);
const apgdRecordKernel = new Kernel('apgd_record', apgdRecordSource);
const apgdMergeKernel = new Kernel('apgd_merge', apgdMergeSource);
const apgdSampleKernels = {
  clean: new Kernel('apgd_clean', apgdSamplesSource, 'clean_main'),
  tMax: new Kernel('apgd_t_max', apgdSamplesSource, 't_max_main'),
  init: new Kernel('apgd_init', apgdSamplesSource, 'init_main'),
  iterate: new Kernel('apgd_iterate', apgdSamplesSource, 'iterate_main'),
  finish: new Kernel('apgd_finish', apgdSamplesSource, 'finish_main'),
};

/** APGD's per-image state fields (rows of the state tensor); the WGSL files number them alike. */
export const APGD_FIELD = {
  step: 0, lossBest: 1, lossLast: 2, increases: 3, bestAtCheck: 4, halvedAtCheck: 5,
  fooled: 6, done: 7, improved: 8, newlyFooled: 9, halve: 10, tMax: 11,
} as const;
export const APGD_FIELDS = 12;

function sameShape(op: string, ...ts: Tensor[]): void {
  const [a] = ts;
  for (const t of ts) {
    if (t.dtype !== 'f32') throw new Error(`${op}: needs f32 tensors, got ${t.dtype} ${fmt(t.shape)}`);
    if (t.size !== a.size || t.rank !== a.rank || t.shape.some((d, i) => d !== a.shape[i])) {
      throw new Error(`${op}: shapes differ: ${fmt(a.shape)} and ${fmt(t.shape)}`);
    }
  }
}

function checkEps(op: string, eps: number): void {
  if (!(eps >= 0 && eps <= 1)) throw new Error(`${op}: eps ${eps} must be in [0, 1] (images are in [0, 1])`);
}

/** x <- clamp01(x0 + clamp(x + alpha * sign(g) - x0, -eps, eps)), in place; sign(0) = 0. */
export function signStepInPlace(x: Tensor, x0: Tensor, g: Tensor, alpha: number, eps: number): void {
  sameShape('signStep', x, x0, g);
  checkEps('signStep', eps);
  if (x.size > 0) gpu().dispatch1d(signStepKernel, { x0: x0.buffer, g: g.buffer, x: x.buffer }, { n: x.size, alpha, eps, pad: 0 }, x.size);
}

/** clamp01(x0 + noise): a random start. */
export function perturbedStart(x0: Tensor, noise: Tensor): Tensor {
  sameShape('perturbedStart', x0, noise);
  const out = Tensor.empty(x0.shape, 'f32', 'attack.start');
  if (out.size > 0) gpu().dispatch1d(perturbedStartKernel, { x0: x0.buffer, noise: noise.buffer, out: out.buffer }, { n: out.size }, out.size);
  return out;
}

// ---- APGD ----------------------------------------------------------------------------------------

/** Images [N, ...] as N rows of `per` values. */
function imageRows(op: string, x: Tensor): { N: number; per: number } {
  if (x.rank < 2) throw new Error(`${op}: images must be [N, ...], got ${fmt(x.shape)}`);
  const N = x.shape[0];
  return { N, per: N > 0 ? x.size / N : 0 };
}

function checkState(op: string, state: Tensor, N: number): void {
  if (state.dtype !== 'f32' || state.rank !== 2 || state.shape[0] !== APGD_FIELDS || state.shape[1] !== N) {
    throw new Error(`${op}: the APGD state must be f32 [${APGD_FIELDS}, ${N}], got ${state.dtype} ${fmt(state.shape)}`);
  }
}

/** A fresh (unset) APGD state for N images. */
export function apgdState(N: number): Tensor {
  return Tensor.empty([APGD_FIELDS, N], 'f32', 'apgd.state');
}

export type ApgdSampleStep = 'clean' | 'init' | 'iterate' | 'finish';

export interface ApgdSampleInputs {
  logits?: Tensor;
  labels?: Tensor;
  /** [N] per-image losses of the current iterate. */
  loss?: Tensor;
  eps?: number;
  /** iterate: this iteration ends a checkpoint window of `window` iterations. */
  checkpoint?: { window: number; rho: number } | null;
}

/**
 * One of APGD's per-image decisions (shaders/attack/apgd_samples.wgsl): 'clean' marks the images
 * misclassified clean as done, 'init' sets the state at the start point, 'iterate' records an
 * iteration (and decides the halving at a checkpoint), 'finish' ends a restart.
 */
export function apgdSamples(step: ApgdSampleStep, state: Tensor, o: ApgdSampleInputs = {}): void {
  const N = state.shape[1];
  checkState(`apgd ${step}`, state, N);
  const needs = { clean: ['logits', 'labels'], init: ['logits', 'labels', 'loss'], iterate: ['logits', 'labels', 'loss'], finish: [] }[step] as (keyof ApgdSampleInputs)[];
  for (const k of needs) if (!o[k]) throw new Error(`apgd ${step}: needs ${k}`);
  let K = 1;
  if (o.logits) {
    if (o.logits.rank !== 2 || o.logits.shape[0] !== N) throw new Error(`apgd ${step}: logits ${fmt(o.logits.shape)} must be [${N}, K]`);
    K = o.logits.shape[1];
  }
  if (o.labels && (o.labels.dtype !== 'i32' || o.labels.size !== N)) throw new Error(`apgd ${step}: labels must be i32 [${N}], got ${o.labels.dtype} ${fmt(o.labels.shape)}`);
  if (o.loss && o.loss.size !== N) throw new Error(`apgd ${step}: loss ${fmt(o.loss.shape)} must have ${N} values`);
  if (N === 0) return;
  // Every entry point takes every binding: unused ones get any buffer other than the state.
  const filler = o.logits ?? o.loss ?? o.labels ?? Tensor.empty([1], 'f32', 'apgd.unused');
  const pick = (t?: Tensor) => (t ?? filler).buffer;
  const cp = o.checkpoint ?? null;
  gpu().dispatch1d(apgdSampleKernels[step],
    { logits: pick(o.logits), labels: pick(o.labels), loss: pick(o.loss), t: pick(), state: state.buffer },
    { N, K, per: 1, checkpoint: cp ? 1 : 0, window: cp?.window ?? 0, rho: cp?.rho ?? 0, eps: o.eps ?? 0, pad: 0 }, N);
  if (filler !== o.logits && filler !== o.loss && filler !== o.labels) filler.release();
}

/** x = clamp01(x0 + eps * t / max|t| per image): APGD's Linf start (also sets state's T_MAX). */
export function apgdStart(x0: Tensor, t: Tensor, state: Tensor, eps: number): Tensor {
  sameShape('apgdStart', x0, t);
  checkEps('apgdStart', eps);
  const { N, per } = imageRows('apgdStart', x0);
  checkState('apgdStart', state, N);
  const x = Tensor.empty(x0.shape, 'f32', 'apgd.x');
  if (x.size === 0) return x;
  gpu().dispatch1d(apgdSampleKernels.tMax, { logits: t.buffer, labels: t.buffer, loss: t.buffer, t: t.buffer, state: state.buffer },
    { N, K: 1, per, checkpoint: 0, window: 0, rho: 0, eps, pad: 0 }, N);
  gpu().dispatch1d(apgdStartKernel, { x0: x0.buffer, t: t.buffer, state: state.buffer, x: x.buffer }, { n: x.size, per, N, eps }, x.size);
  return x;
}

/** APGD's momentum step in place on x and xPrev (a = 1 at the first iteration, then 0.75). */
export function apgdStepInPlace(x: Tensor, xPrev: Tensor, x0: Tensor, g: Tensor, state: Tensor, eps: number, a: number): void {
  sameShape('apgdStep', x, xPrev, x0, g);
  checkEps('apgdStep', eps);
  const { N, per } = imageRows('apgdStep', x);
  checkState('apgdStep', state, N);
  if (x.size === 0) return;
  gpu().dispatch1d(apgdStepKernel, { x0: x0.buffer, g: g.buffer, state: state.buffer, x: x.buffer, xPrev: xPrev.buffer },
    { n: x.size, per, N, eps, a, pad0: 0, pad1: 0, pad2: 0 }, x.size);
}

/** After apgdSamples('iterate'): best point and gradient, first misclassified iterate, restart from the best. */
export function apgdRecordInPlace(state: Tensor, x: Tensor, g: Tensor, xBest: Tensor, gBest: Tensor, xAdv: Tensor): void {
  sameShape('apgdRecord', x, g, xBest, gBest, xAdv);
  const { N, per } = imageRows('apgdRecord', x);
  checkState('apgdRecord', state, N);
  if (x.size === 0) return;
  gpu().dispatch1d(apgdRecordKernel, { state: state.buffer, x: x.buffer, g: g.buffer, xBest: xBest.buffer, gBest: gBest.buffer, xAdv: xAdv.buffer },
    { n: x.size, per, N, pad: 0 }, x.size);
}

/** End of a restart: adv takes xAdv for the images it fooled that were still attacked; they become done. */
export function apgdMergeInPlace(state: Tensor, xAdv: Tensor, adv: Tensor): void {
  sameShape('apgdMerge', xAdv, adv);
  const { N, per } = imageRows('apgdMerge', adv);
  checkState('apgdMerge', state, N);
  if (adv.size > 0) gpu().dispatch1d(apgdMergeKernel, { state: state.buffer, xAdv: xAdv.buffer, adv: adv.buffer }, { n: adv.size, per, N, pad: 0 }, adv.size);
  apgdSamples('finish', state);
}
