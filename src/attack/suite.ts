// The rows of the BioNAS paper's Table 4 (SPEC 6), built by name from the attack registry, so
// the suite runs whatever attacks are registered and names the one that is missing.

import type { FlagValues } from '../options.js';
import { attackNames, attackOptions, getAttack } from './attack.js';
import type { AttackTarget } from './target.js';
import type { AttackSetting } from './run.js';

/** Attacks whose perturbation is bounded by a pixel count, not by eps (One-Pixel is L0). */
export const L0_ATTACKS: ReadonlySet<string> = new Set(['onepixel']);

/** A Table 4 row: a label, the registered attack's name, and the options the paper fixes. */
export interface SuiteRow {
  label: string;
  attack: string;
  options: FlagValues;
}

// Settings from SPEC 6 (the BioNAS paper's Table 4); every option left out takes the attack's
// own default (torchattacks 3.5.1's, which each attack documents).
export const TABLE4_ROWS: readonly SuiteRow[] = [
  { label: 'FGSM', attack: 'fgsm', options: {} },
  // PGD: 10 steps, random start (torchattacks' defaults, stated again so the row says so).
  { label: 'PGD-10', attack: 'pgd', options: { steps: 10 } },
  { label: 'TPGD-7', attack: 'tpgd', options: { steps: 7 } },
  // APGD: 50 steps, 1 restart.
  { label: 'APGD-50', attack: 'apgd', options: { steps: 50 } },
  // One-Pixel, the paper's preset: population 10, 10 steps (torchattacks' defaults).
  { label: 'One-Pixel', attack: 'onepixel', options: {} },
  { label: 'Square', attack: 'square', options: {} },
  // Transfer: the source model is named in the table (see suiteSettings).
  { label: 'Transfer', attack: 'transfer', options: {} },
];

/** A registered attack by name, or an error listing the known ones. */
export function knownAttack(name: string, what = '--attack') {
  if (!attackNames().includes(name)) {
    const known = attackNames();
    throw new Error(`${what}: unknown attack '${name}'; known: ${known.length ? known.join(', ') : '(none registered)'}, suite`);
  }
  return getAttack(name);
}

/** One setting of a named attack with the given options (its defaults for the rest). */
export function attackSetting(name: string, options: FlagValues, label?: string, source?: AttackTarget): AttackSetting {
  const attack = knownAttack(name);
  if (attack.kind === 'transfer' && !source) throw new Error(`attack ${name}: a transfer attack needs a source model (--source CKPT, or several --checkpoint: the first is the source)`);
  return {
    label: (label ?? attack.title) + (attack.kind === 'transfer' && source ? ` from ${source.name}` : ''),
    attack, options: attackOptions(attack, options), source: attack.kind === 'transfer' ? source : undefined, l0: L0_ATTACKS.has(name),
  };
}

/** The Table 4 rows as settings; a row whose attack is not registered is an error naming it. */
export function suiteSettings(source?: AttackTarget): AttackSetting[] {
  const missing = TABLE4_ROWS.filter((r) => !attackNames().includes(r.attack)).map((r) => r.attack);
  if (missing.length) {
    throw new Error(`--attack suite: the Table 4 row(s) ${missing.join(', ')} need attacks that are not registered (known: ${attackNames().join(', ') || 'none'})`);
  }
  return TABLE4_ROWS.map((r) => attackSetting(r.attack, r.options, r.label, source));
}
