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

// Settings from SPEC 6 (the BioNAS paper's Table 4), written out even where they are the
// attack's default, so the row says what it ran; every other option takes the attack's default.
export const TABLE4_ROWS: readonly SuiteRow[] = [
  { label: 'FGSM', attack: 'fgsm', options: {} },
  { label: 'PGD-10', attack: 'pgd', options: { 'pgd-steps': 10, 'pgd-random-start': true } },
  { label: 'TPGD-7', attack: 'tpgd', options: { 'tpgd-steps': 7 } },
  { label: 'APGD-50', attack: 'apgd', options: { 'apgd-steps': 50, 'apgd-restarts': 1 } },
  // The paper's One-Pixel preset: population 10, 10 steps.
  { label: 'One-Pixel', attack: 'onepixel', options: { preset: 'paper' } },
  // Square's default budget, 5000 queries (torchattacks; Biotorch's notebooks used 50).
  { label: 'Square', attack: 'square', options: {} },
  // Transfer: the source model is named in the label (see attackSetting).
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

/**
 * One setting of a named attack with the given options (its defaults for the rest). A transfer
 * attack gets `source`; when it names its source in an option of that name (so that its row
 * cannot name another model than the one used), that option is set to the source's name.
 */
export function attackSetting(name: string, options: FlagValues, label?: string, source?: AttackTarget): AttackSetting {
  const attack = knownAttack(name);
  if (attack.kind !== 'transfer') return { label: label ?? attack.title, attack, options: attackOptions(attack, options), l0: L0_ATTACKS.has(name) };
  if (!source) throw new Error(`attack ${name}: a transfer attack needs a source model (--source CKPT, or several --checkpoint: the first is the source)`);
  const named = attack.flags && 'source' in attack.flags ? { ...options, source: source.name } : options;
  return { label: `${label ?? attack.title} from ${source.name}`, attack, options: attackOptions(attack, named), source, l0: L0_ATTACKS.has(name) };
}

/**
 * The Table 4 rows as settings; a row whose attack is not registered is an error naming it.
 * Without a source model the Transfer row is left out (it would attack the model with itself).
 */
export function suiteSettings(source?: AttackTarget): AttackSetting[] {
  const missing = TABLE4_ROWS.filter((r) => !attackNames().includes(r.attack)).map((r) => r.attack);
  if (missing.length) {
    throw new Error(`--attack suite: the Table 4 row(s) ${missing.join(', ')} need attacks that are not registered (known: ${attackNames().join(', ') || 'none'})`);
  }
  return TABLE4_ROWS.filter((r) => source || getAttack(r.attack).kind !== 'transfer').map((r) => attackSetting(r.attack, r.options, r.label, source));
}
