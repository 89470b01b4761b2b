// The search space is data: an ordered list of (operation, learning rule) pairs that every
// edge mixes. Presets: the paper's 22 pairs, the same plus Hebbian and predictive-coding
// convs, DARTS' 8 BP ops, and NAS-Bench-201's 5 ops. A user may pass their own list as JSON.

import { checkPair, OP_RULE_USE, DARTS_OPS, NB201_OPS, type OpName } from '../models/operations.js';
import type { RuleName } from '../rules/rule.js';

export interface Pair {
  op: OpName;
  rule: RuleName;
}

export type CellKind = 'darts' | 'nb201';

export interface SearchSpace {
  name: string;
  /** darts: 4-node cells of 14 edges, normal and reduce; nb201: 6 edges, one cell type. */
  cell: CellKind;
  pairs: Pair[];
}

export const pairName = (p: Pair) => OP_RULE_USE[p.op] !== 'none' && p.rule !== 'bp' ? `${p.op}/${p.rule}` : p.op;

const times = (op: OpName, rules: RuleName[]): Pair[] => rules.map((rule) => ({ op, rule }));

/** The BioNAS reference code's 22 primitives, in its order (SPEC 2). */
const BIONAS_PAIRS: Pair[] = [
  { op: 'none', rule: 'bp' }, { op: 'max_pool_3x3', rule: 'bp' }, { op: 'avg_pool_3x3', rule: 'bp' },
  ...times('skip_connect', ['usf', 'frsf', 'brsf']),
  ...times('sep_conv_3x3', ['usf', 'brsf', 'frsf', 'fa']),
  ...times('sep_conv_5x5', ['usf', 'brsf', 'frsf', 'fa']),
  ...times('dil_conv_3x3', ['usf', 'brsf', 'frsf', 'fa']),
  ...times('dil_conv_5x5', ['usf', 'brsf', 'frsf', 'fa']),
];

export const SPACE_PRESETS: Record<string, SearchSpace> = {
  bionas: { name: 'bionas', cell: 'darts', pairs: BIONAS_PAIRS },
  'bionas-hl-pc': {
    name: 'bionas-hl-pc', cell: 'darts',
    pairs: [...BIONAS_PAIRS, { op: 'hebbian_conv_3x3', rule: 'bp' }, { op: 'pc_conv_3x3', rule: 'bp' }],
  },
  darts: { name: 'darts', cell: 'darts', pairs: DARTS_OPS.map((op) => ({ op, rule: 'bp' as RuleName })) },
  nb201: { name: 'nb201', cell: 'nb201', pairs: NB201_OPS.map((op) => ({ op, rule: 'bp' as RuleName })) },
};

/** Checks a list of pairs (a preset or a user's JSON); `where` names the source in errors. */
export function parseSpace(raw: unknown, where: string): SearchSpace {
  const obj = Array.isArray(raw) ? { pairs: raw } : (raw as Record<string, unknown>);
  if (!obj || !Array.isArray(obj.pairs)) throw new Error(`${where}: a search space is a JSON list of {op, rule} pairs (or {cell, pairs})`);
  const cell = (obj.cell ?? 'darts') as CellKind;
  if (cell !== 'darts' && cell !== 'nb201') throw new Error(`${where}: cell must be 'darts' or 'nb201', got '${String(obj.cell)}'`);
  const seen = new Set<string>();
  const pairs = (obj.pairs as unknown[]).map((p, i) => {
    const at = `${where}: pair ${i}`;
    if (!p || typeof p !== 'object') throw new Error(`${at} must be an object {op, rule}`);
    const { op, rule } = p as Record<string, unknown>;
    let pair: Pair;
    try {
      pair = checkPair(op, rule);
    } catch (e) {
      throw new Error(`${at}: ${(e as Error).message}`);
    }
    if (cell === 'nb201' && !(NB201_OPS as readonly string[]).includes(pair.op)) throw new Error(`${at}: '${pair.op}' is not a NAS-Bench-201 op (${NB201_OPS.join(', ')})`);
    const key = pairName(pair);
    if (seen.has(key)) throw new Error(`${at}: '${key}' appears twice`);
    seen.add(key);
    return pair;
  });
  if (pairs.length < 2) throw new Error(`${where}: a search space needs at least 2 pairs`);
  return { name: typeof obj.name === 'string' ? obj.name : where, cell, pairs };
}

/** A preset name or a JSON file. */
export async function loadSpace(nameOrPath: string): Promise<SearchSpace> {
  const preset = SPACE_PRESETS[nameOrPath];
  if (preset) return preset;
  const fs = await import('node:fs/promises');
  let text: string;
  try {
    text = await fs.readFile(nameOrPath, 'utf8');
  } catch {
    throw new Error(`search space '${nameOrPath}' is neither a preset (${Object.keys(SPACE_PRESETS).join(', ')}) nor a readable JSON file`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${nameOrPath}: not valid JSON (${(e as Error).message})`);
  }
  return parseSpace(json, nameOrPath);
}
