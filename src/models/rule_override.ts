// Learning-rule overrides of a genotype's edges (`bionas train --rules`), for the paper's
// claims that a mixed-rule network beats the same network under any single rule, and that
// re-assigning the found rules at random changes little (its Table 5):
//   as-found      each edge keeps the rule the search chose
//   single:RULE   every edge whose op can carry a rule takes RULE; ops without weights keep 'bp'
//   random        each edge draws, from a seed, one of the rules its op has in a search space
//                 (the pairs (op, rule) of the space); ops with one rule there keep it
// The result is an ordinary genotype: written into the run's description, it rebuilds the
// same network on resume and in `bionas eval`.

import { checkPair, OP_RULE_USE } from './operations.js';
import { parseRule } from '../rules/registry.js';
import { mulberry32 } from '../data/dataset.js';
import type { Genotype, GenotypeEdge } from './genotype.js';
import type { SearchSpace } from '../search/space.js';
import type { RuleName } from '../rules/rule.js';

export type RuleOverride = { mode: 'as-found' } | { mode: 'single'; rule: RuleName } | { mode: 'random' };

export const RULE_MODES = 'as-found|single:RULE|random';

/** Parses 'as-found', 'single:RULE' or 'random'; throws naming the accepted forms. */
export function parseRuleOverride(text: string): RuleOverride {
  if (text === 'as-found' || text === 'random') return { mode: text };
  if (text.startsWith('single:')) {
    try {
      return { mode: 'single', rule: parseRule(text.slice('single:'.length)) };
    } catch (e) {
      throw new Error(`--rules ${text}: ${(e as Error).message}`);
    }
  }
  throw new Error(`--rules must be ${RULE_MODES} (got '${text}')`);
}

/** The rules `op` has in `space`, in the space's order. */
export function rulesOfOp(space: SearchSpace, op: string): RuleName[] {
  return space.pairs.filter((p) => p.op === op).map((p) => p.rule);
}

/**
 * The genotype with its edges' rules replaced as `o` says. `random` needs the space to draw
 * from and a seed; the draw walks the normal edges, then the reduce edges, one number each.
 */
export function overrideRules(g: Genotype, o: RuleOverride, opts: { space?: SearchSpace; seed?: number } = {}): Genotype {
  if (o.mode === 'as-found') return g;
  let edge: (e: GenotypeEdge, where: string) => RuleName;
  if (o.mode === 'single') {
    edge = (e, where) => {
      if (OP_RULE_USE[e.op] === 'none') return 'bp';
      try {
        return checkPair(e.op, o.rule).rule;
      } catch (err) {
        throw new Error(`--rules single:${o.rule}: ${where} (${e.op}): ${(err as Error).message}`);
      }
    };
  } else {
    const { space, seed } = opts;
    if (!space || seed === undefined) throw new Error('--rules random needs a search space and a seed');
    const draw = mulberry32(seed);
    edge = (e, where) => {
      const allowed = rulesOfOp(space, e.op);
      if (!allowed.length) throw new Error(`--rules random: ${where} has op '${e.op}', which the space '${space.name}' does not hold (its ops: ${[...new Set(space.pairs.map((p) => p.op))].join(', ')}); choose a --space that has it`);
      // One draw per edge, even when there is one choice, so an edge's rule depends only on its position.
      const u = draw();
      return allowed[Math.min(allowed.length - 1, Math.floor(u * allowed.length))];
    };
  }
  const cell = (edges: GenotypeEdge[], name: string) => edges.map((e, i) => ({ ...e, rule: edge(e, `${name}[${i}]`) }));
  return { ...g, normal: cell(g.normal, 'normal'), reduce: cell(g.reduce, 'reduce') };
}

/** 'normal: sep_conv_3x3/usf skip_connect/frsf ...; reduce: ...' for logs and reports. */
export function describeRules(g: Genotype): string {
  const cell = (edges: GenotypeEdge[]) => edges.map((e) => (OP_RULE_USE[e.op] === 'none' ? e.op : `${e.op}/${e.rule}`)).join(' ');
  return `normal: ${cell(g.normal)}; reduce: ${cell(g.reduce)}`;
}
