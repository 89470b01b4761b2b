// PGD (Madry et al. 2018), torchattacks 3.5.1 semantics (SPEC 6): start clamp01(x + U(-eps, eps))
// (with random start), then `steps` times x <- clamp01(x0 + clamp(x + alpha * sign(g) - x0,
// -eps, eps)), g the CE gradient (minus the CE of the target class when targeted); returns the
// last iterate.

import { copy } from '../ops/elementwise.js';
import { perturbedStart } from '../ops/attack_steps.js';
import { registerAttack, type Attack, type AttackInput } from './attack.js';
import { crossEntropyRows, targetedRows } from './losses.js';
import { PIXEL_LEVEL, checkAttackInput, intOption, numberOption, signedGradientSteps, targetLabels, targetedFlag, type TargetMode } from './white_box.js';

export const PGD: Attack = registerAttack({
  name: 'pgd',
  title: 'PGD',
  help: 'projected gradient descent in the Linf ball, random start, last iterate (Madry et al. 2018)',
  kind: 'white-box',
  flags: {
    'pgd-steps': { type: 'int', min: 1, default: 10, help: 'pgd: iterations (BioNAS Table 4: 10)' },
    'pgd-alpha': { type: 'number', min: 0, default: 2, help: 'pgd: step size in 1/255 units (torchattacks default 2/255)' },
    'pgd-random-start': { type: 'bool', default: true, help: 'pgd: start from x + U(-eps, eps), clamped to [0, 1] (torchattacks default; BioNAS: random start)' },
    'pgd-targeted': targetedFlag('pgd'),
  },
  describe: (o) => `steps ${o['pgd-steps']}, alpha ${o['pgd-alpha']}/255${o['pgd-random-start'] ? ', random start' : ''}${o['pgd-targeted'] === 'none' ? '' : `, targeted (${o['pgd-targeted']})`}`,
  async run(input: AttackInput) {
    checkAttackInput('pgd', input);
    const steps = intOption('pgd', input, 'pgd-steps', 1);
    const alpha = numberOption('pgd', input, 'pgd-alpha', 0, PIXEL_LEVEL) / PIXEL_LEVEL;
    const mode = input.options['pgd-targeted'] as TargetMode;
    const targets = mode === 'none' ? null : await targetLabels(input, mode);
    let start;
    if (input.options['pgd-random-start']) {
      const noise = input.draws.uniform(input.x.shape, -input.eps, input.eps);
      start = perturbedStart(input.x, noise);
      noise.release();
    } else start = copy(input.x);
    const adv = signedGradientSteps(input, start, targets ? targetedRows(targets) : crossEntropyRows(input.y), steps, alpha);
    targets?.release();
    return { adv };
  },
});
