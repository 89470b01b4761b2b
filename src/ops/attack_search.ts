// The kernels of the black-box attacks (src/attack/square.ts, src/attack/onepixel.ts): Square's
// stripe start, window proposal, per-image bookkeeping and row selection; One-Pixel's candidate
// images (k pixels written into copies of an image) and fitness (true-class probability). None
// records a backward: black-box attacks only read logits.

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { Tensor, fmt } from '../tensor.js';
import squareInitSource from '../../shaders/attack/square_init.wgsl';
import squareWindowSource from '../../shaders/attack/square_window.wgsl';
import squareMarginSource from '../../shaders/attack/square_margin.wgsl';
import selectRowsSource from '../../shaders/attack/select_rows.wgsl';
import writePixelsSource from '../../shaders/attack/write_pixels.wgsl';
import trueClassProbSource from '../../shaders/attack/true_class_prob.wgsl';

const squareInitKernel = new Kernel('square_init', squareInitSource);
const squareWindowKernel = new Kernel('square_window', squareWindowSource);
const squareMarginKernel = new Kernel('square_margin', squareMarginSource);
const selectRowsKernel = new Kernel('select_rows', selectRowsSource);
const writePixelsKernel = new Kernel('write_pixels', writePixelsSource);
const trueClassProbKernel = new Kernel('true_class_prob', trueClassProbSource);

/** The window's signs travel in a vec4 uniform: images of at most 4 channels. */
const MAX_CHANNELS = 4;

function checkImages(op: string, x: Tensor): void {
  if (x.rank !== 4) throw new Error(`${op}: images must be [N, C, H, W], got ${fmt(x.shape)}`);
  if (x.dtype !== 'f32') throw new Error(`${op}: images must be f32, got ${x.dtype}`);
}

function checkSame(op: string, a: Tensor, b: Tensor, what: string): void {
  if (a.shape.join() !== b.shape.join()) throw new Error(`${op}: ${what} ${fmt(b.shape)} differs from the images ${fmt(a.shape)}`);
}

/** Square's start: clamp(x + eps * sign(t[n, c, w]), 0, 1), t [N, C, W] (vertical stripes). */
export function squareStripes(x: Tensor, t: Tensor, eps: number): Tensor {
  checkImages('squareStripes', x);
  const [N, C, H, W] = x.shape;
  if (t.shape.join() !== [N, C, W].join()) throw new Error(`squareStripes: draws must be [${N}, ${C}, ${W}], got ${fmt(t.shape)}`);
  const out = Tensor.empty(x.shape);
  if (out.size) gpu().dispatch1d(squareInitKernel, { x: x.buffer, t: t.buffer, out: out.buffer }, { n: out.size, hw: H * W, w: W, eps }, out.size);
  return out;
}

export interface SquareWindow {
  top: number;
  left: number;
  side: number;
  /** One +-1 per channel. */
  sign: readonly number[];
}

/** Square's proposal: best + 2 eps sign[c] inside the window, projected on the eps ball around x and on [0, 1]. */
export function squareWindow(x: Tensor, best: Tensor, eps: number, win: SquareWindow): Tensor {
  checkImages('squareWindow', x);
  checkSame('squareWindow', x, best, 'best images');
  const [, C, H, W] = x.shape;
  if (C > MAX_CHANNELS) throw new Error(`squareWindow: at most ${MAX_CHANNELS} channels, got ${C}`);
  if (win.sign.length !== C) throw new Error(`squareWindow: ${C} channels but ${win.sign.length} signs`);
  if (!(win.side >= 1 && win.top >= 0 && win.left >= 0 && win.top + win.side <= H && win.left + win.side <= W)) {
    throw new Error(`squareWindow: window at (${win.top}, ${win.left}) of side ${win.side} leaves the ${H}x${W} image`);
  }
  const sign = [0, 0, 0, 0];
  win.sign.forEach((s, c) => (sign[c] = s));
  const out = Tensor.empty(x.shape);
  if (out.size) {
    gpu().dispatch1d(squareWindowKernel, { x: x.buffer, best: best.buffer, out: out.buffer },
      { sign, n: out.size, channels: C, h: H, w: W, top: win.top, left: win.left, side: win.side, eps }, out.size);
  }
  return out;
}

/** Square's per-image state, updated in place on the GPU by squareMargin. */
export interface SquareState {
  /** u32 [N]: initially correct (so attacked). */
  attacked: Tensor;
  /** f32 [N]: the lowest margin so far. */
  best: Tensor;
  /** f32 [N]: queries used. */
  queries: Tensor;
  /** u32 [N]: this iteration's proposal is kept (mode 'step'), or the image was fooled (mode 'final'). */
  accept: Tensor;
}

export const SQUARE_MARGIN_MODES = { clean: 0, start: 1, step: 2, final: 3 } as const;
export type SquareMarginMode = keyof typeof SQUARE_MARGIN_MODES;

/** The bookkeeping of shaders/attack/square_margin.wgsl (see its header) from logits [N, K]. */
export function squareMargin(logits: Tensor, labels: Tensor, s: SquareState, mode: SquareMarginMode): void {
  if (logits.rank !== 2) throw new Error(`squareMargin: logits must be [N, K], got ${fmt(logits.shape)}`);
  const [N, K] = logits.shape;
  if (labels.dtype !== 'i32' || labels.rank !== 1 || labels.shape[0] !== N) throw new Error(`squareMargin: labels must be i32 [${N}], got ${labels.dtype} ${fmt(labels.shape)}`);
  for (const [name, t] of Object.entries(s)) {
    if (t.size !== N) throw new Error(`squareMargin: state '${name}' has ${t.size} entries for ${N} images`);
  }
  if (N === 0) return;
  gpu().dispatch1d(squareMarginKernel,
    { logits: logits.buffer, labels: labels.buffer, attacked: s.attacked.buffer, best: s.best.buffer, queries: s.queries.buffer, accept: s.accept.buffer },
    { n: N, k: K, mode: SQUARE_MARGIN_MODES[mode], pad: 0 }, N);
}

/** dst[r] = src[r] where flag[r] != 0, in place, for rows r of dst [R, ...] (flag u32 [R]). */
export function selectRowsInto(dst: Tensor, src: Tensor, flag: Tensor): void {
  checkSame('selectRowsInto', dst, src, 'source');
  const R = dst.shape[0];
  if (flag.dtype !== 'u32' || flag.size !== R) throw new Error(`selectRowsInto: flags must be u32 [${R}], got ${flag.dtype} ${fmt(flag.shape)}`);
  if (dst.size) gpu().dispatch1d(selectRowsKernel, { dst: dst.buffer, src: src.buffer, flag: flag.buffer }, { n: dst.size, row: dst.size / R }, dst.size);
}

/**
 * One-Pixel's candidates: out[r] = x[image[r]] with `pixels` pixels written from genomes
 * [R, pixels * (2 + C)] (per pixel: row, col, value per channel). image is i32 [R].
 */
export function writePixels(x: Tensor, image: Tensor, genomes: Tensor, pixels: number): Tensor {
  checkImages('writePixels', x);
  const [, C, H, W] = x.shape;
  const R = image.size;
  const genes = pixels * (2 + C);
  if (image.dtype !== 'i32' || image.rank !== 1) throw new Error(`writePixels: image indices must be i32 [R], got ${image.dtype} ${fmt(image.shape)}`);
  if (!(Number.isInteger(pixels) && pixels >= 1)) throw new Error(`writePixels: pixels must be a positive integer, got ${pixels}`);
  if (genomes.rank !== 2 || genomes.shape[0] !== R || genomes.shape[1] !== genes) {
    throw new Error(`writePixels: genomes must be [${R}, ${genes}] (${pixels} pixel(s) of row, col and ${C} values), got ${fmt(genomes.shape)}`);
  }
  const out = Tensor.empty([R, C, H, W]);
  if (out.size) {
    gpu().dispatch1d(writePixelsKernel, { x: x.buffer, image: image.buffer, genomes: genomes.buffer, out: out.buffer },
      { n: out.size, channels: C, h: H, w: W, pixels, genes }, out.size);
  }
  return out;
}

/** [R, 2]: per row of logits [R, K], the softmax probability of labels[image[r]] and 1 if the argmax differs from it. */
export function trueClassProbability(logits: Tensor, image: Tensor, labels: Tensor): Tensor {
  if (logits.rank !== 2) throw new Error(`trueClassProbability: logits must be [R, K], got ${fmt(logits.shape)}`);
  const [R, K] = logits.shape;
  if (image.dtype !== 'i32' || image.size !== R) throw new Error(`trueClassProbability: image indices must be i32 [${R}], got ${image.dtype} ${fmt(image.shape)}`);
  if (labels.dtype !== 'i32' || labels.rank !== 1) throw new Error(`trueClassProbability: labels must be i32 [N], got ${labels.dtype} ${fmt(labels.shape)}`);
  const out = Tensor.empty([R, 2]);
  if (R) gpu().dispatch1d(trueClassProbKernel, { logits: logits.buffer, image: image.buffer, labels: labels.buffer, out: out.buffer }, { n: R, k: K }, R);
  return out;
}
