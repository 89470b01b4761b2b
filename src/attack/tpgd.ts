// TPGD (the attack of TRADES, Zhang et al. 2019), torchattacks 3.5.1 semantics (SPEC 6):
// p = softmax(f(x0)) fixed; start clamp01(x0 + 0.001 N(0, 1)); `steps` times the PGD step on
// the loss KL(p || softmax(f(x))) summed over the images; labels unused; returns the last iterate.

import { softmax } from '../ops/loss.js';
import { perturbedStart } from '../ops/attack_steps.js';
import { registerAttack, type Attack, type AttackInput } from './attack.js';
import { targetLogits } from './target.js';
import { klRows } from './losses.js';
import { PIXEL_LEVEL, checkAttackInput, intOption, numberOption, signedGradientSteps } from './white_box.js';

/** Standard deviation of TPGD's start noise (torchattacks: 0.001 * randn). */
export const TPGD_START_STD = 0.001;

export const TPGD: Attack = registerAttack({
  name: 'tpgd',
  title: 'TPGD',
  help: 'PGD on the KL divergence from the clean prediction, no labels (TRADES, Zhang et al. 2019)',
  kind: 'white-box',
  flags: {
    'tpgd-steps': { type: 'int', min: 1, default: 7, help: 'tpgd: iterations (BioNAS Table 4 and torchattacks: 7)' },
    'tpgd-alpha': { type: 'number', min: 0, default: 2, help: 'tpgd: step size in 1/255 units (torchattacks default 2/255)' },
  },
  describe: (o) => `steps ${o['tpgd-steps']}, alpha ${o['tpgd-alpha']}/255`,
  run(input: AttackInput) {
    checkAttackInput('tpgd', input);
    const steps = intOption('tpgd', input, 'tpgd-steps', 1);
    const alpha = numberOption('tpgd', input, 'tpgd-alpha', 0, PIXEL_LEVEL) / PIXEL_LEVEL;
    const clean = targetLogits(input.target, input.x);
    const p = softmax(clean);
    clean.release();
    const noise = input.draws.normal(input.x.shape, TPGD_START_STD);
    const start = perturbedStart(input.x, noise);
    noise.release();
    const adv = signedGradientSteps(input, start, klRows(p), steps, alpha);
    p.release();
    return { adv };
  },
});
