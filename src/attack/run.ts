// Adversarial evaluation (SPEC 6): every (attack setting, eps, gradient source) on every model,
// on one fixed set of test images chosen by seed (the same for every model), images in [0, 1]
// with the normalisation inside the model. Per record: clean accuracy on exactly the attacked
// images, robust accuracy, attack success rate, mean perturbation norms, queries, seconds.
// After each batch the adversarials are checked (inside [0, 1], within eps, the clean images
// untouched); a broken invariant throws naming the attack, model and image: a wrong number in
// a robustness table is worse than none.
//
// Transfer attacks (kind 'transfer') craft on the setting's `source` model: the runner calls
// their run() once per batch with that model as `source` (and as target: a transfer attack
// reads no target logits), and evaluates that batch's adversarials on every model, so each
// model sees the very same images.

import { Tensor, fmt } from '../tensor.js';
import { BatchLoader } from '../data/loader.js';
import { permutation, subset, type ImageDataset } from '../data/dataset.js';
import type { FlagValues } from '../options.js';
import type { Attack } from './attack.js';
import { targetLogits, type AttackTarget, type GradientSource } from './target.js';
import { seededDraws } from './draws.js';

/** Slack of the eps check: float32 rounding of x + delta, far below 1/255 (bionas choice). */
export const EPS_TOLERANCE = 1e-6;

/** One row of the table: an attack with its options (and source model, for a transfer). */
export interface AttackSetting {
  /** Row label, e.g. 'PGD-10'. */
  label: string;
  attack: Attack;
  options: FlagValues;
  /** Transfer attacks only: the model the adversarials are crafted on. */
  source?: AttackTarget;
  /**
   * The perturbation is bounded by pixel count, not by eps (One-Pixel, an L0 attack): it runs
   * once whatever the eps list, and only [0, 1] is checked.
   */
  l0?: boolean;
}

export interface EvaluationPlan {
  targets: AttackTarget[];
  /** The attacked images (attackedImages() picks them); raw bytes, normalised inside the models. */
  images: ImageDataset;
  settings: AttackSetting[];
  /** Linf radii in [0, 1] units. */
  eps: number[];
  /** Gradient sources of white-box (and transfer) attacks; black-box attacks run once. */
  gradients: GradientSource[];
  batch: number;
  seed: number;
  /** After each (setting, eps, gradient, batch, model) step: done and total steps, and what ran. */
  progress?: (done: number, total: number, what: string) => void;
  /** Called with each record as it is complete (results.jsonl is written from it). */
  onRecord?: (r: AttackRecord) => void;
}

export interface AttackRecord {
  attack: string;
  title: string;
  label: string;
  /** The attack's own description of its options. */
  settings: string;
  options: FlagValues;
  kind: Attack['kind'];
  /** Linf radius in [0, 1] units (null: an L0 attack). */
  eps: number | null;
  /** The same in /255, as the command line takes it. */
  eps255: number | null;
  /** Gradient source (null: a black-box attack needs none). */
  gradient: GradientSource | null;
  model: string;
  /** Transfer: the model the adversarials were crafted on. */
  source: string | null;
  images: number;
  /** Accuracy on the clean attacked images. */
  cleanAccuracy: number;
  /** Images classified correctly both clean and attacked (RobustBench: a misclassified clean image counts as already broken). */
  robustAccuracy: number;
  /** Plain accuracy on the adversarial images (can exceed robustAccuracy when an attack fixes a wrong prediction). */
  advAccuracy: number;
  /** Among the initially correct images, the share the attack made wrong (null when none was correct). */
  successRate: number | null;
  /** Mean over images of the Linf and L2 norms of adv - x, in [0, 1] units. */
  meanLinf: number;
  meanL2: number;
  /** Mean pixels (positions over all channels) changed per image. */
  meanPixels: number;
  /** Mean model queries per image (black-box attacks that report them), else null. */
  queries: number | null;
  seconds: number;
}

/** The attacked images: n of the test set by a seeded permutation, the same for every model. */
export function attackedImages(test: ImageDataset, n: number, seed: number): ImageDataset {
  if (!(Number.isInteger(n) && n >= 1)) throw new Error(`attacked images: n must be a positive integer, got ${n}`);
  if (n > test.count) throw new Error(`--n ${n} is larger than the test set (${test.name}: ${test.count} images)`);
  return subset(test, permutation(test.count, (seed ^ 0x41544b) >>> 0).subarray(0, n), `${test.name}[attacked ${n}, seed ${seed}]`);
}

interface Job {
  setting: AttackSetting;
  settingIndex: number;
  eps: number | null;
  epsIndex: number;
  gradient: GradientSource | null;
}

/** The (setting, eps, gradient) triples to run: black-box attacks once per eps, L0 ones once. */
export function planJobs(settings: AttackSetting[], eps: number[], gradients: GradientSource[]): Job[] {
  const jobs: Job[] = [];
  settings.forEach((setting, settingIndex) => {
    const radii: (number | null)[] = setting.l0 ? [null] : eps;
    const sources: (GradientSource | null)[] = setting.attack.kind === 'black-box' ? [null] : gradients;
    radii.forEach((e, epsIndex) => sources.forEach((gradient) => jobs.push({ setting, settingIndex, eps: e, epsIndex, gradient })));
  });
  return jobs;
}

interface Sums {
  robust: number;
  adv: number;
  linf: number;
  l2: number;
  pixels: number;
  queries: number;
  hasQueries: boolean;
  seconds: number;
}

const argmaxRows = (logits: Float32Array, classes: number): Int32Array => {
  const n = logits.length / classes;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (logits[i * classes + k] > logits[i * classes + best]) best = k;
    out[i] = best;
  }
  return out;
};

async function predict(t: AttackTarget, x: Tensor): Promise<Int32Array> {
  const logits = targetLogits(t, x);
  try {
    return argmaxRows((await logits.data()) as Float32Array, t.numClasses);
  } finally {
    logits.release();
  }
}

/** Seed of a (setting, eps, batch) cell: the same draws for every model and gradient source, so comparisons are paired. */
const cellSeed = (seed: number, setting: number, eps: number, batch: number) =>
  (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(setting + 1, 0xc2b2ae35) + Math.imul(eps + 1, 0x27d4eb2f) + Math.imul(batch + 1, 0x165667b1)) >>> 0;

/** Runs the plan; returns one record per (setting, eps, gradient, model), in that order. */
export async function runAttacks(plan: EvaluationPlan): Promise<AttackRecord[]> {
  const { targets, images, settings } = plan;
  if (!targets.length) throw new Error('attack: no model to attack');
  if (!settings.length) throw new Error('attack: no attack to run');
  for (const e of plan.eps) if (!(e > 0 && e <= 1)) throw new Error(`attack: eps must be in (0, 1] ([0, 1] units), got ${e}`);
  for (const s of settings) {
    if (s.attack.kind === 'transfer' && !s.source) throw new Error(`attack ${s.label}: a transfer attack needs a source model to craft on`);
  }
  const jobs = planJobs(settings, plan.eps, plan.gradients);
  const loader = new BatchLoader(images, { batchSize: plan.batch, normalize: false });
  // The attacked images live on the GPU for the whole run (n x C x H x W floats), with a CPU copy for the checks.
  const batches: { x: Tensor; y: Tensor; cpu: Float32Array; labels: Int32Array }[] = [];
  try {
    for (const b of loader.epoch(0)) {
      batches.push({ x: b.x, y: b.y, cpu: (await b.x.data()) as Float32Array, labels: (await b.y.data()) as Int32Array });
    }
    const total = jobs.reduce((n, j) => n + batches.length * (targets.length + (j.setting.attack.kind === 'transfer' ? 1 : 0)), 0) + batches.length * targets.length;
    let done = 0;
    const step = (what: string) => plan.progress?.(++done, total, what);

    // Clean predictions, once per model: clean accuracy is on exactly the attacked images.
    const clean = targets.map(() => new Uint8Array(images.count));
    for (const [m, t] of targets.entries()) {
      let at = 0;
      for (const b of batches) {
        const pred = await predict(t, b.x);
        pred.forEach((p, i) => (clean[m][at + i] = p === b.labels[i] ? 1 : 0));
        at += pred.length;
        step(`clean ${t.name}`);
      }
    }
    const cleanCorrect = clean.map((c) => c.reduce((a, v) => a + v, 0));

    const records: AttackRecord[] = [];
    for (const job of jobs) {
      const { setting } = job;
      const eps = job.eps ?? 1;
      const sums: Sums[] = targets.map(() => ({ robust: 0, adv: 0, linf: 0, l2: 0, pixels: 0, queries: 0, hasQueries: false, seconds: 0 }));
      let at = 0;
      for (const [bi, b] of batches.entries()) {
        const draws = () => seededDraws(cellSeed(plan.seed, job.settingIndex, job.epsIndex, bi));
        const attackOn = async (t: AttackTarget) => {
          const out = await setting.attack.run({
            target: t, x: b.x, y: b.y, eps, gradient: job.gradient ?? 'exact', draws: draws(), options: setting.options, source: setting.source,
          });
          if (out.adv.shape.join() !== b.x.shape.join()) {
            out.adv.release();
            throw new Error(`attack ${setting.label} on ${t.name}: returned images of shape ${fmt(out.adv.shape)} for inputs ${fmt(b.x.shape)}`);
          }
          return out;
        };
        let crafted: { adv: Tensor; queries?: Float32Array; seconds: number } | null = null;
        if (setting.attack.kind === 'transfer') {
          const t0 = performance.now();
          crafted = { ...(await attackOn(setting.source!)), seconds: 0 };
          crafted.seconds = (performance.now() - t0) / 1000;
          step(`${setting.label} crafting on ${setting.source!.name}`);
        }
        try {
          for (const [m, t] of targets.entries()) {
            const t0 = performance.now();
            const out = crafted ?? (await attackOn(t));
            try {
              const adv = (await out.adv.data()) as Float32Array;
              const what = `${setting.label}${job.eps === null ? '' : ` eps ${fmtEps(job.eps)}`}${job.gradient ? ` (${job.gradient} gradient)` : ''} on ${t.name}`;
              await checkUntouched(b.x, b.cpu, what);
              const norms = perturbation(adv, b.cpu, b.x.shape, job.eps, at, what);
              const pred = await predict(t, out.adv);
              const s = sums[m];
              pred.forEach((p, i) => {
                const right = p === b.labels[i];
                s.adv += right ? 1 : 0;
                s.robust += right && clean[m][at + i] ? 1 : 0;
              });
              s.linf += norms.linf;
              s.l2 += norms.l2;
              s.pixels += norms.pixels;
              if (out.queries) {
                s.hasQueries = true;
                s.queries += out.queries.reduce((a, q) => a + q, 0);
              }
              s.seconds += (performance.now() - t0) / 1000 + (crafted?.seconds ?? 0) / targets.length;
            } finally {
              if (!crafted) out.adv.release();
            }
            step(`${setting.label} on ${t.name}`);
          }
        } finally {
          crafted?.adv.release();
        }
        at += b.labels.length;
      }
      for (const [m, t] of targets.entries()) {
        const s = sums[m], n = images.count, c = cleanCorrect[m];
        const r: AttackRecord = {
          attack: setting.attack.name, title: setting.attack.title, label: setting.label,
          settings: setting.attack.describe(setting.options), options: setting.options, kind: setting.attack.kind,
          eps: job.eps, eps255: job.eps === null ? null : round(job.eps * 255, 6), gradient: job.gradient, model: t.name,
          source: setting.source?.name ?? null, images: n,
          cleanAccuracy: c / n, robustAccuracy: s.robust / n, advAccuracy: s.adv / n,
          successRate: c ? (c - s.robust) / c : null,
          meanLinf: s.linf / n, meanL2: s.l2 / n, meanPixels: s.pixels / n,
          queries: s.hasQueries ? s.queries / n : null, seconds: s.seconds,
        };
        // By construction; a check that it stays so (the table's promise).
        if (r.robustAccuracy > r.cleanAccuracy) throw new Error(`${r.label} on ${t.name}: robust accuracy ${r.robustAccuracy} above clean ${r.cleanAccuracy}`);
        records.push(r);
        plan.onRecord?.(r);
      }
    }
    return records;
  } finally {
    for (const b of batches) {
      b.x.release();
      b.y.release();
    }
  }
}

const round = (v: number, digits: number) => Number(v.toFixed(digits));
const fmtEps = (eps: number) => `${round(eps * 255, 3)}/255`;

/** The attack must not write into its input images. */
async function checkUntouched(x: Tensor, cpu: Float32Array, what: string): Promise<void> {
  const now = (await x.data()) as Float32Array;
  for (let i = 0; i < now.length; i++) {
    if (now[i] !== cpu[i]) throw new Error(`attack invariant broken: ${what} changed its input images (element ${i}: ${cpu[i]} became ${now[i]})`);
  }
}

/**
 * Sums over the batch of per-image Linf and L2 norms of adv - x and of changed pixel positions;
 * throws when an adversarial leaves [0, 1] or (eps not null) the eps ball.
 */
export function perturbation(adv: Float32Array, x: Float32Array, shape: readonly number[], eps: number | null, first: number, what: string):
  { linf: number; l2: number; pixels: number } {
  const [n, c, h, w] = shape;
  const per = c * h * w, plane = h * w;
  let linf = 0, l2 = 0, pixels = 0;
  for (let i = 0; i < n; i++) {
    let maxAbs = 0, sq = 0;
    const changed = new Uint8Array(plane);
    for (let j = 0; j < per; j++) {
      const k = i * per + j;
      const v = adv[k];
      if (!(v >= 0 && v <= 1)) throw new Error(`attack invariant broken: ${what}: image ${first + i} has value ${v} at element ${j}, outside [0, 1]`);
      const d = Math.abs(v - x[k]);
      if (eps !== null && !(d <= eps + EPS_TOLERANCE)) {
        throw new Error(`attack invariant broken: ${what}: image ${first + i} moved ${d} (${round(d * 255, 4)}/255) at element ${j}, beyond eps ${eps} (${fmtEps(eps)})`);
      }
      if (d > 0) changed[j % plane] = 1;
      if (d > maxAbs) maxAbs = d;
      sq += d * d;
    }
    linf += maxAbs;
    l2 += Math.sqrt(sq);
    pixels += changed.reduce((a, v) => a + v, 0);
  }
  return { linf, l2, pixels };
}
