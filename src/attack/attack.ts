// An adversarial attack: given a target model, images in [0, 1] and their labels, it returns
// adversarial images within the Linf ball of radius eps (and inside [0, 1]). White-box attacks
// read input gradients from a chosen source (./target.ts); black-box ones only logits. Every
// random draw comes from an AttackDraws, seeded by default and injectable, so a run is
// reproducible bit for bit and comparable with another implementation on the same draws.
// Attacks register themselves (one file each in this folder; ./index.ts imports them all).

import type { Tensor } from '../tensor.js';
import type { FlagTable, FlagValues } from '../options.js';
import { Registry } from '../registry.js';
import type { AttackTarget, GradientSource } from './target.js';
import type { AttackDraws } from './draws.js';

export type AttackKind = 'white-box' | 'black-box' | 'transfer';

export interface AttackInput {
  target: AttackTarget;
  /** [N, C, H, W] clean images in [0, 1]; the attack must not change it. */
  x: Tensor;
  /** [N] i32 true labels. */
  y: Tensor;
  /** Linf radius in [0, 1] units (the CLI's --eps 8 means 8/255). */
  eps: number;
  /** Where white-box attacks take input gradients from; black-box attacks ignore it. */
  gradient: GradientSource;
  draws: AttackDraws;
  /** The attack's own options (its `flags`, defaults applied). */
  options: FlagValues;
  /** The model a transfer attack crafts its adversarials on (only 'transfer' reads it). */
  source?: AttackTarget;
  /** Called after each iteration with (done, total) for a progress bar; optional. */
  progress?: (done: number, total: number) => void;
}

export interface AttackOutput {
  /** [N, C, H, W] adversarial images in [0, 1], within eps of x (Linf). Owned by the caller. */
  adv: Tensor;
  /** Model queries (forward passes) per image, for black-box attacks. */
  queries?: Float32Array;
}

export interface Attack {
  /** The --attack value. */
  readonly name: string;
  /** Its name in tables, e.g. 'PGD'. */
  readonly title: string;
  readonly help: string;
  readonly kind: AttackKind;
  /** Options only this attack reads, with defaults (and where each default comes from, in help). */
  readonly flags?: FlagTable;
  /** A short description of its settings for the table's row label, e.g. 'steps 10, alpha 2/255'. */
  describe(options: FlagValues): string;
  run(input: AttackInput): AttackOutput | Promise<AttackOutput>;
}

const attacks = new Registry<Attack>('attack');

export function registerAttack(a: Attack): Attack {
  attacks.add(a);
  return a;
}

export const getAttack = (name: string): Attack => attacks.get(name);
export const attackNames = (): string[] => attacks.names();

/** The attack's options: its flags' defaults overridden by `given`; unknown keys are an error naming them. */
export function attackOptions(a: Attack, given: FlagValues = {}): FlagValues {
  const flags = a.flags ?? {};
  const unknown = Object.keys(given).filter((k) => !(k in flags));
  if (unknown.length) throw new Error(`attack ${a.name}: unknown option(s) ${unknown.join(', ')}; it takes: ${Object.keys(flags).join(', ') || 'none'}`);
  const out: FlagValues = {};
  for (const [k, spec] of Object.entries(flags)) out[k] = given[k] ?? spec.default;
  return out;
}
