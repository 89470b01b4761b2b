// Transfer attack (SPEC 6): adversarials crafted by an inner attack (default PGD) on a source
// model, then evaluated on the target: the target's logits are never read. The source is
// always named: the `source` option is its name, which must be the name of the source target
// passed in AttackInput.source (bionas choice: a mismatch is an error, so the row label cannot
// name another model than the one used), and describe() puts it in the row label.

import { getAttack, attackOptions, registerAttack, type Attack, type AttackInput, type AttackOutput } from './attack.js';
import type { FlagValues } from '../options.js';

/** The inner attack by default: PGD, as the BioNAS paper's transfer row (SPEC 6: "e.g. PGD on the BP ResNet"). */
export const TRANSFER_INNER = 'pgd';

export async function runTransfer(input: AttackInput): Promise<AttackOutput> {
  const name = input.options.source as string;
  const innerName = input.options.inner as string;
  if (!name) throw new Error("transfer: name the source model (option 'source') and pass it as the attack's source target");
  if (!input.source) throw new Error(`transfer: no source target given for source '${name}'`);
  if (input.source.name !== name) throw new Error(`transfer: the source target is named '${input.source.name}' but the option names '${name}'`);
  const inner = getAttack(innerName);
  if (inner.kind === 'transfer') throw new Error(`transfer: the inner attack '${innerName}' is itself a transfer attack`);
  // bionas choice: the inner attack runs with its own defaults (its flags are not exposed here), on the source, with the same images, eps, gradient source and draws.
  const crafted = await inner.run({ ...input, target: input.source, source: undefined, options: attackOptions(inner) });
  return { adv: crafted.adv };
}

export const transfer: Attack = registerAttack({
  name: 'transfer',
  title: 'Transfer',
  help: 'transfer attack: adversarials crafted on a named source model by an inner attack (default PGD), evaluated on the target',
  kind: 'transfer',
  flags: {
    source: { type: 'string', default: '', help: 'the source model (its name, e.g. a checkpoint path); required' },
    inner: { type: 'string', default: TRANSFER_INNER, help: `the attack run on the source with its defaults (default ${TRANSFER_INNER})` },
  },
  describe: (o: FlagValues) => {
    const inner = o.inner as string;
    let title = inner;
    try {
      title = getAttack(inner).title;
    } catch {
      // an unknown inner attack is reported by run(); the label keeps its name
    }
    return `${title} on ${o.source || '(source not named)'}`;
  },
  run: runTransfer,
});
