// Plain float64 references of the white-box attacks' losses and loops (torchattacks 3.5.1
// semantics with bionas' documented choices, docs/ATTACKS.md) on a model given as logits and
// input-gradient functions. The APGD loop follows the reference code's own counters (counter3
// and k), not src/attack/apgd_schedule.ts, so the test checks the schedule too.

/** A model on flattened images: N rows of D values in [0, 1] -> N rows of K logits. */
export interface RefModel {
  K: number;
  D: number;
  logits(x: Float64Array, N: number): Float64Array;
  /** d(sum_n l_n)/dx given dl/dz [N, K]. */
  inputGrad(x: Float64Array, dz: Float64Array, N: number): Float64Array;
}

/**
 * A linear model on normalised images, z = W ((x - mean_c) / std_c) + b, pixels of channel c
 * at d in [c * HW, (c + 1) * HW); its input gradient sends dz back through F (W, or FA's B).
 */
export function linearRef(W: ArrayLike<number>, b: ArrayLike<number>, F: ArrayLike<number>, K: number, D: number, mean: number[], std: number[]): RefModel {
  const HW = D / mean.length;
  const ch = (d: number) => Math.floor(d / HW);
  return {
    K, D,
    logits(x, N) {
      const z = new Float64Array(N * K);
      for (let n = 0; n < N; n++) {
        for (let k = 0; k < K; k++) {
          let s = b[k];
          for (let d = 0; d < D; d++) s += W[k * D + d] * (x[n * D + d] - mean[ch(d)]) / std[ch(d)];
          z[n * K + k] = s;
        }
      }
      return z;
    },
    inputGrad(_x, dz, N) {
      const g = new Float64Array(N * D);
      for (let n = 0; n < N; n++) {
        for (let d = 0; d < D; d++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += dz[n * K + k] * F[k * D + d];
          g[n * D + d] = s / std[ch(d)];
        }
      }
      return g;
    },
  };
}

// ---- losses: rows [N] and d(sum rows)/dz [N, K] ----------------------------------------------

export interface RowsAndGrad { rows: Float64Array; dz: Float64Array }

function logSumExp(z: ArrayLike<number>, base: number, K: number): number {
  let m = -Infinity;
  for (let k = 0; k < K; k++) m = Math.max(m, z[base + k]);
  let s = 0;
  for (let k = 0; k < K; k++) s += Math.exp(z[base + k] - m);
  return m + Math.log(s);
}

export function softmaxRef(z: ArrayLike<number>, N: number, K: number): Float64Array {
  const p = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    const l = logSumExp(z, n * K, K);
    for (let k = 0; k < K; k++) p[n * K + k] = Math.exp(z[n * K + k] - l);
  }
  return p;
}

/** Cross-entropy rows; sign -1 gives the targeted loss -CE(targets). */
export function ceRef(z: ArrayLike<number>, y: ArrayLike<number>, N: number, K: number, sign = 1): RowsAndGrad {
  const rows = new Float64Array(N), dz = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    const l = logSumExp(z, n * K, K);
    rows[n] = sign * (l - z[n * K + y[n]]);
    for (let k = 0; k < K; k++) dz[n * K + k] = sign * (Math.exp(z[n * K + k] - l) - (k === y[n] ? 1 : 0));
  }
  return { rows, dz };
}

/** KL(p || softmax(z)) rows. */
export function klRef(z: ArrayLike<number>, p: ArrayLike<number>, N: number, K: number): RowsAndGrad {
  const rows = new Float64Array(N), dz = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    const l = logSumExp(z, n * K, K);
    let kl = 0, sumP = 0;
    for (let k = 0; k < K; k++) {
      const pk = p[n * K + k];
      sumP += pk;
      if (pk > 0) kl += pk * (Math.log(pk) - (z[n * K + k] - l));
    }
    rows[n] = kl;
    for (let k = 0; k < K; k++) dz[n * K + k] = Math.exp(z[n * K + k] - l) * sumP - p[n * K + k];
  }
  return { rows, dz };
}

/**
 * DLR rows -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3 + 1e-12), by sorting (as the reference);
 * the gradient of a row whose label is the third-largest logit is 0 (the loss is flat there).
 */
export function dlrRef(z: ArrayLike<number>, y: ArrayLike<number>, N: number, K: number, float32Rows = false): RowsAndGrad {
  const rows = new Float64Array(N), dz = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    const row = Array.from({ length: K }, (_, k) => z[n * K + k]);
    const order = row.map((_, k) => k).sort((a, b) => row[b] - row[a] || a - b);
    const [p1, , p3] = order;
    const m = order[0] === y[n] ? order[1] : order[0];
    const u = row[y[n]] - row[m];
    const D = row[p1] - row[p3] + 1e-12;
    // float32Rows: rounded as the kernel stores them. Where the label is the third-largest logit
    // the loss is 1 - 1e-12 / D in float64 but exactly 1 in float32, and APGD compares losses.
    rows[n] = float32Rows ? Math.fround(-u / D) : -u / D;
    if (y[n] === p3) continue; // flat: the loss is 1 up to the 1e-12 (bionas: gradient 0)
    const at = (k: number, v: number) => (dz[n * K + k] += v);
    at(y[n], -1 / D);
    at(m, 1 / D);
    at(p1, u / (D * D));
    at(p3, -u / (D * D));
  }
  return { rows, dz };
}

// ---- attacks ------------------------------------------------------------------------------------

type Loss = (z: Float64Array, N: number) => RowsAndGrad;

const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);

function argmax(z: ArrayLike<number>, base: number, K: number): number {
  let best = 0;
  for (let k = 1; k < K; k++) if (z[base + k] > z[base + best]) best = k;
  return best;
}

function evaluate(model: RefModel, x: Float64Array, N: number, loss: Loss) {
  const z = model.logits(x, N);
  const { rows, dz } = loss(z, N);
  return { z, rows, grad: model.inputGrad(x, dz, N) };
}

/** FGSM / PGD / TPGD: `steps` signed steps from `start`; returns the last iterate. */
export function signedStepsRef(model: RefModel, x0: Float64Array, start: Float64Array, N: number, loss: Loss, steps: number, alpha: number, eps: number): Float64Array {
  const x = start.slice();
  for (let s = 0; s < steps; s++) {
    const { grad } = evaluate(model, x, N, loss);
    for (let i = 0; i < x.length; i++) {
      const d = clamp(x[i] + alpha * Math.sign(grad[i]) - x0[i], -eps, eps);
      x[i] = clamp(x0[i] + d, 0, 1);
    }
  }
  return x;
}

export function ceLoss(model: RefModel, y: ArrayLike<number>, sign = 1): Loss {
  return (z, N) => ceRef(z, y, N, model.K, sign);
}

/**
 * APGD, Linf, with `t[r]` the U(-1, 1) draw of restart r for the whole batch. The loop is the
 * reference code's (counter3 / k); the differences are bionas' documented choices. `observe`
 * sees every iterate (after the iteration's bookkeeping) and the step sizes.
 */
export function apgdRef(model: RefModel, x0: Float64Array, y: ArrayLike<number>, N: number, eps: number, o: { steps: number; rho: number; loss: Loss }, t: ArrayLike<number>[],
  observe?: (restart: number, iteration: number, x: Float64Array, step: Float64Array) => void): Float64Array {
  const { D, K } = model;
  const adv = x0.slice();
  const z0 = model.logits(x0, N);
  const done = Array.from({ length: N }, (_, n) => argmax(z0, n * K, K) !== y[n]);
  const steps2 = Math.max(Math.trunc(0.22 * o.steps), 1);
  const stepsMin = Math.max(Math.trunc(0.06 * o.steps), 1);
  const sizeDecr = Math.max(Math.trunc(0.03 * o.steps), 1);
  for (const [r, tr] of t.entries()) {
    const x = new Float64Array(N * D);
    for (let n = 0; n < N; n++) {
      let m = 0;
      for (let d = 0; d < D; d++) m = Math.max(m, Math.abs(tr[n * D + d]));
      for (let d = 0; d < D; d++) x[n * D + d] = clamp(x0[n * D + d] + eps * tr[n * D + d] / m, 0, 1);
    }
    let { z, rows, grad } = evaluate(model, x, N, o.loss);
    const step = new Float64Array(N).fill(2 * eps);
    const lossBest = rows.slice(), lossLast = rows.slice(), bestAtCheck = rows.slice();
    const increases = new Float64Array(N);
    const halvedAtCheck = new Array<boolean>(N).fill(true);
    const fooled = Array.from({ length: N }, (_, n) => argmax(z, n * K, K) !== y[n]);
    const xBest = x.slice(), xAdv = x.slice(), xPrev = x.slice();
    const gBest = grad.slice();
    let counter3 = 0, k = steps2;
    for (let i = 0; i < o.steps; i++) {
      const a = i === 0 ? 1 : 0.75;
      for (let j = 0; j < x.length; j++) {
        const n = Math.floor(j / D);
        const P = (v: number) => clamp(Math.min(Math.max(v, x0[j] - eps), x0[j] + eps), 0, 1);
        const zj = P(x[j] + step[n] * Math.sign(grad[j]));
        const next = P(x[j] + (zj - x[j]) * a + (x[j] - xPrev[j]) * (1 - a));
        xPrev[j] = x[j];
        x[j] = next;
      }
      ({ z, rows, grad } = evaluate(model, x, N, o.loss));
      counter3++;
      const checkpoint = counter3 === k;
      for (let n = 0; n < N; n++) {
        const row = (arr: Float64Array, src: Float64Array) => arr.set(src.subarray(n * D, (n + 1) * D), n * D);
        if (!fooled[n] && argmax(z, n * K, K) !== y[n]) {
          fooled[n] = true;
          row(xAdv, x);
        }
        if (rows[n] > lossBest[n]) {
          lossBest[n] = rows[n];
          row(xBest, x);
          row(gBest, grad);
        }
        if (rows[n] > lossLast[n]) increases[n]++;
        lossLast[n] = rows[n];
        if (checkpoint) {
          const halve = increases[n] <= k * o.rho || (!halvedAtCheck[n] && bestAtCheck[n] >= lossBest[n]);
          halvedAtCheck[n] = halve;
          bestAtCheck[n] = lossBest[n];
          increases[n] = 0;
          if (halve) {
            step[n] /= 2;
            row(x, xBest);
            row(grad, gBest);
          }
        }
      }
      if (checkpoint) {
        counter3 = 0;
        k = Math.max(k - sizeDecr, stepsMin);
      }
      observe?.(r, i, x, step);
    }
    for (let n = 0; n < N; n++) {
      if (fooled[n] && !done[n]) adv.set(xAdv.subarray(n * D, (n + 1) * D), n * D);
      if (fooled[n]) done[n] = true;
    }
  }
  return adv;
}
