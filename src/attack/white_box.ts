// What the white-box attacks share: input checks, the input gradient of a per-image loss from
// the chosen source, the target labels of torchattacks' targeted modes, and the projected
// signed-gradient loop of FGSM, PGD and TPGD (torchattacks 3.5.1 semantics, SPEC 6).

import { Tensor, scope, keep, fmt } from '../tensor.js';
import { gpu } from '../gpu/runtime.js';
import { sum } from '../ops/reduce.js';
import { signStepInPlace } from '../ops/attack_steps.js';
import type { FlagSpec } from '../options.js';
import type { AttackInput } from './attack.js';
import { inputGradient, targetLogits } from './target.js';
import type { RowLoss } from './losses.js';

/** One unit of the step flags: the CLI's --pgd-alpha 2 means 2/255 (as the eps of --eps 8). */
// bionas choice: flag names carry the attack's name (--pgd-steps, not --steps), so one command
// can run several attacks with their own settings and no two attacks' flags collide.
export const PIXEL_LEVEL = 255;

/** torchattacks' attack modes: untargeted, or targeted at a random / the least-likely other class. */
export type TargetMode = 'none' | 'random' | 'least-likely';
export const TARGET_MODES: readonly TargetMode[] = ['none', 'random', 'least-likely'];

export function targetedFlag(attack: string): FlagSpec {
  return {
    type: 'string', choices: TARGET_MODES, default: 'none',
    help: `${attack}: untargeted (none, default), or pushed toward a target class: random (uniform over the other classes) or least-likely (lowest clean logit among the others), as torchattacks' set_mode_targeted_*`,
  };
}

/** Throws naming the attack when images, labels or eps are not what an attack takes. */
export function checkAttackInput(attack: string, input: AttackInput): { N: number } {
  const { x, y, eps, target } = input;
  if (x.rank !== 4 || x.dtype !== 'f32') throw new Error(`${attack}: images must be f32 [N, C, H, W] in [0, 1], got ${x.dtype} ${fmt(x.shape)}`);
  const N = x.shape[0];
  if (y.dtype !== 'i32' || y.rank !== 1 || y.shape[0] !== N) throw new Error(`${attack}: labels must be i32 [${N}], got ${y.dtype} ${fmt(y.shape)}`);
  if (!(eps >= 0 && eps <= 1)) throw new Error(`${attack}: eps ${eps} must be in [0, 1] (the CLI's --eps 8 means 8/255)`);
  if (!(target.numClasses >= 2)) throw new Error(`${attack}: the target ${target.name} has ${target.numClasses} classes; an attack needs at least 2`);
  return { N };
}

/** An integer option, checked. */
export function intOption(attack: string, input: AttackInput, key: string, min: number): number {
  const v = input.options[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Error(`${attack}: ${key} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

/** A number option, checked. */
export function numberOption(attack: string, input: AttackInput, key: string, min: number, max = Infinity): number {
  const v = input.options[key];
  if (typeof v !== 'number' || !(v >= min && v <= max)) throw new Error(`${attack}: ${key} must be a number in [${min}, ${max}], got ${String(v)}`);
  return v;
}

/**
 * The input gradient of sum(rows(logits)) at x from the input's gradient source, with the
 * logits and the rows [N] (all owned by the caller).
 */
export function lossGradient(input: AttackInput, x: Tensor, rows: RowLoss): { grad: Tensor; logits: Tensor; loss: Tensor } {
  const kept: { loss?: Tensor } = {};
  const { grad, logits } = inputGradient(input.target, x, (z) => sum(kept.loss = keep(rows(z))), input.gradient);
  return { grad, logits, loss: kept.loss! };
}

/**
 * Target labels [N] (i32) of a targeted mode, as torchattacks picks them: 'random' takes
 * floor((K - 1) * u) among the classes other than the label (u from draws.scalar(), one per
 * image in order); 'least-likely' the class other than the label with the lowest clean logit
 * (the first on ties). Reads the labels (and the clean logits) back once, before the attack.
 */
export async function targetLabels(input: AttackInput, mode: Exclude<TargetMode, 'none'>): Promise<Tensor> {
  const K = input.target.numClasses;
  const labels = await input.y.data();
  const N = labels.length;
  const out = new Int32Array(N);
  if (mode === 'random') {
    for (let n = 0; n < N; n++) {
      const t = Math.min(Math.floor((K - 1) * input.draws.scalar()), K - 2);
      out[n] = t < labels[n] ? t : t + 1;
    }
  } else {
    const z = targetLogits(input.target, input.x);
    const logits = await z.data();
    z.release();
    for (let n = 0; n < N; n++) {
      let best = -1;
      for (let k = 0; k < K; k++) {
        if (k !== labels[n] && (best < 0 || logits[n * K + k] < logits[n * K + best])) best = k;
      }
      out[n] = best;
    }
  }
  return Tensor.fromData(out, [N], 'i32');
}

/**
 * The loop of FGSM, PGD and TPGD: from `start` (owned by the loop), `steps` times
 * x <- clamp01(x0 + clamp(x + alpha * sign(grad) - x0, -eps, eps)); returns the last iterate.
 * Each iteration is recorded into one submit, with no readback.
 */
export function signedGradientSteps(input: AttackInput, start: Tensor, rows: RowLoss, steps: number, alpha: number): Tensor {
  const x = keep(start);
  try {
    for (let i = 0; i < steps; i++) {
      scope(() => {
        const { grad, logits, loss } = lossGradient(input, x, rows);
        signStepInPlace(x, input.x, grad, alpha, input.eps);
        for (const t of [grad, logits, loss]) t.release();
      });
      gpu().recorder.flush();
      input.progress?.(i + 1, steps);
    }
  } catch (e) {
    x.release();
    throw e;
  }
  return x;
}
