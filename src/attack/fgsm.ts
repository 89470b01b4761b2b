// FGSM (Goodfellow et al. 2015), torchattacks 3.5.1 semantics (SPEC 6):
// x' = clamp01(x + eps * sign(dCE/dx)), sign(0) = 0; targeted: x' = clamp01(x - eps * sign(dCE(target)/dx)).

import { copy } from '../ops/elementwise.js';
import { registerAttack, type Attack, type AttackInput } from './attack.js';
import { crossEntropyRows, targetedRows } from './losses.js';
import { checkAttackInput, signedGradientSteps, targetLabels, targetedFlag, type TargetMode } from './white_box.js';

export const FGSM: Attack = registerAttack({
  name: 'fgsm',
  title: 'FGSM',
  help: 'fast gradient sign method: one step of size eps along the sign of the input gradient (Goodfellow et al. 2015)',
  kind: 'white-box',
  flags: { 'fgsm-targeted': targetedFlag('fgsm') },
  describe: (o) => (o['fgsm-targeted'] === 'none' ? 'one step' : `one step, targeted (${o['fgsm-targeted']})`),
  async run(input: AttackInput) {
    checkAttackInput('fgsm', input);
    const mode = input.options['fgsm-targeted'] as TargetMode;
    const targets = mode === 'none' ? null : await targetLabels(input, mode);
    const rows = targets ? targetedRows(targets) : crossEntropyRows(input.y);
    // One signed step of size eps from x itself: the projection changes nothing but float rounding.
    const adv = signedGradientSteps(input, copy(input.x), rows, 1, input.eps);
    targets?.release();
    return { adv };
  },
});
