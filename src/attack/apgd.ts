// APGD (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble of
// diverse parameter-free attacks"), Linf, torchattacks 3.5.1 semantics (SPEC 6): only images the
// model classifies correctly are attacked; each restart starts at x0 + eps * t / max|t|,
// t ~ U(-1, 1); the step size starts at 2 eps; steps with momentum 0.75 (the first without);
// at the checkpoints of ./apgd_schedule.ts an image halves its step and goes back to its best
// point when its loss rose in at most rho * k of the window's k iterations, or when it was not
// halved at the previous checkpoint and its best loss has not improved since. Loss CE or DLR.
// Returns, per image, the first misclassified iterate, else the clean image.
//
// All per-image state lives on the GPU (src/ops/attack_steps.ts: a state tensor and kernels for
// the decisions), so an iteration is one submit with no readback; nothing is read back at all.
//
// Choices of bionas where the reference code differs (docs/ATTACKS.md):
// - bionas choice: the first checkpoint counts the loss increases from the start point's loss,
//   as the paper's condition does; the reference compares its first iterate with an unwritten
//   zero (loss_steps[-1] wraps around to the last, still-zero row).
// - bionas choice (SPEC 6): the first misclassified iterate is returned; the reference keeps
//   overwriting it, so it returns the last misclassified one (both are adversarial).
// - bionas choice: a restart draws t for the whole batch and runs every image (the state masks
//   the ones already done) instead of gathering the images still to attack, so nothing is read
//   back between restarts; the reference draws t for that subset only.

import { keep, scope, type Tensor } from '../tensor.js';
import { gpu } from '../gpu/runtime.js';
import { copy } from '../ops/elementwise.js';
import { apgdMergeInPlace, apgdRecordInPlace, apgdSamples, apgdStart, apgdState, apgdStepInPlace } from '../ops/attack_steps.js';
import { registerAttack, type Attack, type AttackInput, type AttackOutput } from './attack.js';
import { targetLogits } from './target.js';
import { apgdCheckpoints } from './apgd_schedule.js';
import { crossEntropyRows, dlrRows, type RowLoss } from './losses.js';
import { checkAttackInput, intOption, lossGradient, numberOption } from './white_box.js';

/** Momentum of the step, fixed (Croce & Hein 2020: alpha = 0.75; the first step uses 1). */
export const APGD_MOMENTUM = 0.75;

export const APGD_LOSSES = ['ce', 'dlr'] as const;

export const APGD: Attack = registerAttack({
  name: 'apgd',
  title: 'APGD',
  help: 'auto-PGD: step size halved at checkpoints, momentum, first misclassified iterate (Croce & Hein 2020)',
  kind: 'white-box',
  flags: {
    'apgd-steps': { type: 'int', min: 1, default: 50, help: 'apgd: iterations per restart (BioNAS Table 4: 50; torchattacks default 10)' },
    'apgd-restarts': { type: 'int', min: 1, default: 1, help: 'apgd: random restarts, each on the images not fooled yet (BioNAS Table 4: 1)' },
    'apgd-loss': { type: 'string', choices: APGD_LOSSES, default: 'ce', help: 'apgd: loss ascended, cross-entropy or DLR (the difference of logits ratio; needs 3 classes)' },
    'apgd-rho': { type: 'number', min: 0, max: 1, default: 0.75, help: 'apgd: halve the step when the loss rose in at most rho of a window\'s iterations (Croce & Hein: 0.75)' },
  },
  describe: (o) => `steps ${o['apgd-steps']}, ${o['apgd-restarts']} restart${o['apgd-restarts'] === 1 ? '' : 's'}, loss ${o['apgd-loss']}`,
  run: (input: AttackInput) => runApgd(input),
});

/**
 * A window on APGD's iterates for tests: called after every iteration (restart r, 0-based
 * iteration i) with the iterate x after the iteration's bookkeeping and the state tensor
 * [APGD_FIELDS, N]; what it reads back is its own (the attack itself reads nothing back).
 */
export type ApgdObserver = (restart: number, iteration: number, x: Tensor, state: Tensor) => void;

/** The attack's run, with an optional observer. */
export function runApgd(input: AttackInput, observe?: ApgdObserver): AttackOutput {
  const { N } = checkAttackInput('apgd', input);
  const steps = intOption('apgd', input, 'apgd-steps', 1);
  const restarts = intOption('apgd', input, 'apgd-restarts', 1);
  const rho = numberOption('apgd', input, 'apgd-rho', 0, 1);
  const lossName = input.options['apgd-loss'];
  if (lossName !== 'ce' && lossName !== 'dlr') throw new Error(`apgd: apgd-loss must be ce or dlr, got ${String(lossName)}`);
  if (lossName === 'dlr' && input.target.numClasses < 3) throw new Error(`apgd: the DLR loss needs at least 3 classes; ${input.target.name} has ${input.target.numClasses}`);
  const rows: RowLoss = lossName === 'dlr' ? dlrRows(input.y) : crossEntropyRows(input.y);
  const windows = new Map(apgdCheckpoints(steps).map((c) => [c.iteration, c.window]));
  const { x: x0, y, eps } = input;
  // The gradient, logits and rows of lossGradient are owned here (released by hand); the
  // scopes release the rest.

  const state = keep(apgdState(N));
  const adv = keep(copy(x0));
  try {
    const clean = targetLogits(input.target, x0);
    apgdSamples('clean', state, { logits: clean, labels: y });
    clean.release();
    for (let r = 0; r < restarts; r++) {
      scope(() => {
        const t = input.draws.uniform(x0.shape, -1, 1);
        const x = apgdStart(x0, t, state, eps);
        const first = lossGradient(input, x, rows);
        apgdSamples('init', state, { logits: first.logits, labels: y, loss: first.loss, eps });
        first.loss.release();
        first.logits.release();
        const xPrev = copy(x), xBest = copy(x), xAdv = copy(x), gBest = copy(first.grad);
        let g = first.grad;
        for (let i = 0; i < steps; i++) {
          g = scope(() => {
            apgdStepInPlace(x, xPrev, x0, g, state, eps, i === 0 ? 1 : APGD_MOMENTUM);
            g.release();
            const next = lossGradient(input, x, rows);
            const window = windows.get(i);
            apgdSamples('iterate', state, { logits: next.logits, labels: y, loss: next.loss, checkpoint: window ? { window, rho } : null });
            apgdRecordInPlace(state, x, next.grad, xBest, gBest, xAdv);
            next.loss.release();
            next.logits.release();
            observe?.(r, i, x, state);
            return next.grad;
          });
          gpu().recorder.flush();
          input.progress?.(r * steps + i + 1, restarts * steps);
        }
        g.release();
        apgdMergeInPlace(state, xAdv, adv);
      });
    }
  } catch (e) {
    adv.release();
    throw e;
  } finally {
    state.release();
  }
  return { adv };
}
