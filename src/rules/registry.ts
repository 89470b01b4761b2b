// The learning rules by name. The built-in families register here; a user's rule registers
// with registerRule and is then accepted everywhere a rule is named: search spaces and
// genotypes (validated through the op catalogue's checkPair), layers (LayerOptions.rule),
// the CLI's --rule choices and --help (ruleNames()).

import type { Generator } from '../ops/random.js';
import { BP } from './bp.js';
import { FA } from './fa.js';
import { DFA } from './dfa.js';
import { USF, BRSF, FRSF } from './sign_symmetry.js';
import type { LearningRule, LayerRule, RuleLayerShape, RuleName } from './rule.js';

const rules = new Map<RuleName, LearningRule>();

const NAME = /^[a-z][a-z0-9_-]*$/;

/** Adds a rule; its name must be new, lower-case, a letter then letters, digits, '_' or '-'. */
export function registerRule(def: LearningRule): void {
  if (!def || typeof def.create !== 'function') throw new Error('registerRule: a rule needs a name and a create(layer, gen) function');
  if (typeof def.name !== 'string' || !NAME.test(def.name)) {
    throw new Error(`registerRule: rule name '${String(def.name)}' must be lower-case letters, digits, '_' or '-', starting with a letter`);
  }
  if (rules.has(def.name)) throw new Error(`registerRule: a rule named '${def.name}' is already registered`);
  rules.set(def.name, def);
}

/** Every registered rule's name, the built-ins first, in registration order. */
export function ruleNames(): RuleName[] {
  return [...rules.keys()];
}

/** The registered name of `name` (case-insensitive); throws listing the known rules. */
export function parseRule(name: string): RuleName {
  const lower = String(name).toLowerCase();
  if (rules.has(lower)) return lower;
  throw new Error(`unknown learning rule '${name}'; known rules: ${ruleNames().join(', ')}`);
}

export function getRule(name: string): LearningRule {
  return rules.get(parseRule(name))!;
}

/** The state of rule `name` for one layer. */
export function createRule(name: string, layer: RuleLayerShape, gen: Generator): LayerRule {
  return getRule(name).create(layer, gen);
}

// Registration order is the order of ruleNames() (and of error messages and --help).
for (const rule of [BP, FA, DFA, USF, BRSF, FRSF]) registerRule(rule);
