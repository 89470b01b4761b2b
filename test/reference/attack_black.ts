// Plain-TypeScript (float64) references of the black-box attacks' kernels and of Square as
// torchattacks 3.5.1 writes it (per-image loop over the active set), for a linear softmax model
// z = W ((x - mean) / std) + b on images [N, C, H, W] in [0, 1].

export interface Shape4 {
  N: number;
  C: number;
  H: number;
  W: number;
}

export interface LinearModel {
  W: ArrayLike<number>;
  b: ArrayLike<number>;
  K: number;
  mean: readonly number[];
  std: readonly number[];
}

/** Logits [K] of one image (C*H*W values). */
export function linearLogits(m: LinearModel, img: ArrayLike<number>, C: number): number[] {
  const D = img.length, hw = D / C;
  return Array.from({ length: m.K }, (_, k) => {
    let z = m.b[k];
    for (let d = 0; d < D; d++) {
      const c = Math.floor(d / hw);
      z += m.W[k * D + d] * ((img[d] - m.mean[c]) / m.std[c]);
    }
    return z;
  });
}

export function margin(z: readonly number[], y: number): number {
  let other = -Infinity;
  z.forEach((v, k) => { if (k !== y) other = Math.max(other, v); });
  return z[y] - other;
}

export function softmaxProb(z: readonly number[], y: number): number {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  return e[y] / e.reduce((a, b) => a + b, 0);
}

/** numpy's argmax: the first maximum. */
export function argmax(z: readonly number[]): number {
  let a = 0;
  z.forEach((v, k) => { if (v > z[a]) a = k; });
  return a;
}

const clip = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);

/** torchattacks' p_selection with rescale_schedule, written as its if-chain. */
export function pSelection(i: number, nQueries: number, pInit: number): number {
  const it = Math.trunc((i / nQueries) * 10000);
  if (10 < it && it <= 50) return pInit / 2;
  if (50 < it && it <= 200) return pInit / 4;
  if (200 < it && it <= 500) return pInit / 8;
  if (500 < it && it <= 1000) return pInit / 16;
  if (1000 < it && it <= 2000) return pInit / 32;
  if (2000 < it && it <= 4000) return pInit / 64;
  if (4000 < it && it <= 6000) return pInit / 128;
  if (6000 < it && it <= 8000) return pInit / 256;
  if (8000 < it) return pInit / 512;
  return pInit;
}

/**
 * Square Linf after torchattacks 3.5.1 (perturb + attack_single_run, margin loss), with the
 * stripe draws t [N, C, W] in (-1, 1) and the CPU draws `scalar` (per iteration: vh, vw, one per
 * channel). Returns the adversarials and the queries per image.
 */
export function squareReference(
  m: LinearModel, x: ArrayLike<number>, y: readonly number[], s: Shape4, eps: number, nQueries: number, pInit: number,
  t: ArrayLike<number>, scalar: () => number,
): { adv: Float64Array; queries: Float64Array } {
  const { N, C, H, W } = s, D = C * H * W;
  const img = (n: number) => Array.from(x).slice(n * D, (n + 1) * D);
  const adv = Float64Array.from(x);
  const queries = new Float64Array(N);
  const toFool = Array.from({ length: N }, (_, n) => n).filter((n) => argmax(linearLogits(m, img(n), C)) === y[n]);
  const best = new Map<number, number[]>(), marginMin = new Map<number, number>();
  for (const n of toFool) {
    const xn = img(n);
    best.set(n, xn.map((v, d) => clip(v + eps * Math.sign(t[n * C * W + Math.floor(d / (H * W)) * W + (d % W)]), 0, 1)));
    marginMin.set(n, margin(linearLogits(m, best.get(n)!, C), y[n]));
    queries[n] = 1;
  }
  for (let i = 0; i < nQueries; i++) {
    const active = toFool.filter((n) => marginMin.get(n)! > 0);
    if (!active.length) break;
    const p = pSelection(i, nQueries, pInit);
    const side = Math.max(Math.round(Math.sqrt(p * H * W)), 1);
    const vh = Math.floor(scalar() * (H - side)), vw = Math.floor(scalar() * (W - side));
    const sign = Array.from({ length: C }, () => Math.sign(2 * scalar() - 1));
    for (const n of active) {
      const xn = img(n), xb = best.get(n)!;
      const xNew = xb.map((v, d) => {
        const c = Math.floor(d / (H * W)), h = Math.floor(d / W) % H, w = d % W;
        const inside = h >= vh && h < vh + side && w >= vw && w < vw + side;
        return clip(clip(v + (inside ? 2 * eps * sign[c] : 0), xn[d] - eps, xn[d] + eps), 0, 1);
      });
      const mg = margin(linearLogits(m, xNew, C), y[n]);
      if (mg < marginMin.get(n)! || mg <= 0) {
        marginMin.set(n, mg);
        best.set(n, xNew);
      }
      queries[n]++;
    }
  }
  for (const n of toFool) if (marginMin.get(n)! <= 0) adv.set(best.get(n)!, n * D);
  return { adv, queries };
}

/** One-Pixel's candidate: image img with pixels (row, col, values...) written, positions truncated and clamped. */
export function writePixelsReference(img: ArrayLike<number>, genome: ArrayLike<number>, pixels: number, s: Omit<Shape4, 'N'>): Float64Array {
  const { C, H, W } = s;
  const out = Float64Array.from(img);
  for (let k = 0; k < pixels; k++) {
    const g = k * (2 + C);
    const r = clip(Math.floor(genome[g]), 0, H - 1), c = clip(Math.floor(genome[g + 1]), 0, W - 1);
    for (let ch = 0; ch < C; ch++) out[ch * H * W + r * W + c] = genome[g + 2 + ch];
  }
  return out;
}
