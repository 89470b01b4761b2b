// A genotype: for each cell type, two incoming edges per intermediate node, each naming its
// input state (0 = c_{k-2}, 1 = c_{k-1}, 2.. = earlier nodes), its operation and its learning
// rule, plus the states concatenated as the cell's output. JSON on disk; validated on load.

import { checkPair, type OpName } from './operations.js';
import type { RuleName } from '../rules/rule.js';
import dartsV1 from './presets/darts_v1.json';
import dartsV2 from './presets/darts_v2.json';
import biodarts from './presets/biodarts.json';

export interface GenotypeEdge {
  op: OpName;
  rule: RuleName;
  input: number;
}

export interface Genotype {
  name?: string;
  normal: GenotypeEdge[];
  normal_concat: number[];
  reduce: GenotypeEdge[];
  reduce_concat: number[];
}

export const GENOTYPE_PRESETS: Record<string, unknown> = { darts_v1: dartsV1, darts_v2: dartsV2, biodarts };

function checkCell(raw: unknown, concatRaw: unknown, cell: string, where: string): { edges: GenotypeEdge[]; concat: number[] } {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length % 2) {
    throw new Error(`${where}: '${cell}' must be a list of an even number of edges (two per node), got ${Array.isArray(raw) ? raw.length : typeof raw}`);
  }
  const edges = raw.map((e, i) => {
    const at = `${where}: ${cell}[${i}]`;
    if (!e || typeof e !== 'object') throw new Error(`${at} must be an object {op, rule, input}`);
    const { op, rule, input } = e as Record<string, unknown>;
    // The same check as a search space's pairs: a genotype may name only what a space could hold.
    let pair: { op: OpName; rule: RuleName };
    try {
      pair = checkPair(op, rule);
    } catch (err) {
      throw new Error(`${at}: ${(err as Error).message}`);
    }
    const node = 2 + Math.floor(i / 2);
    if (!Number.isInteger(input) || (input as number) < 0 || (input as number) >= node) {
      throw new Error(`${at}: input ${String(input)} must be an earlier state, 0..${node - 1} (node ${node})`);
    }
    if (pair.op === 'none') throw new Error(`${at}: 'none' cannot be a chosen edge`);
    return { ...pair, input: input as number };
  });
  const nodes = edges.length / 2;
  const concat = concatRaw === undefined ? Array.from({ length: nodes }, (_, i) => i + 2) : concatRaw;
  if (!Array.isArray(concat) || concat.length === 0 || concat.some((c) => !Number.isInteger(c) || c < 0 || c >= nodes + 2)) {
    throw new Error(`${where}: '${cell}_concat' must list states 0..${nodes + 1}, got ${JSON.stringify(concatRaw)}`);
  }
  return { edges, concat: concat as number[] };
}

/** Validates a parsed JSON genotype; `where` names its source in errors. */
export function parseGenotype(raw: unknown, where = 'genotype'): Genotype {
  if (!raw || typeof raw !== 'object') throw new Error(`${where}: a genotype must be a JSON object with normal, reduce and their concat lists`);
  const g = raw as Record<string, unknown>;
  const normal = checkCell(g.normal, g.normal_concat, 'normal', where);
  const reduce = checkCell(g.reduce, g.reduce_concat, 'reduce', where);
  return { name: typeof g.name === 'string' ? g.name : undefined, normal: normal.edges, normal_concat: normal.concat, reduce: reduce.edges, reduce_concat: reduce.concat };
}

/** A preset name (darts_v1, darts_v2, biodarts) or a JSON file path. */
export async function loadGenotype(nameOrPath: string): Promise<Genotype> {
  const preset = GENOTYPE_PRESETS[nameOrPath.toLowerCase()];
  if (preset) return parseGenotype(preset, nameOrPath);
  const fs = await import('node:fs/promises');
  let text: string;
  try {
    text = await fs.readFile(nameOrPath, 'utf8');
  } catch {
    throw new Error(`genotype '${nameOrPath}' is neither a preset (${Object.keys(GENOTYPE_PRESETS).join(', ')}) nor a readable file`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${nameOrPath}: not valid JSON (${(e as Error).message})`);
  }
  // A search run's genotype.json may wrap the genotype with other fields.
  const inner = (json as Record<string, unknown>)?.genotype ?? json;
  return parseGenotype(inner, nameOrPath);
}
