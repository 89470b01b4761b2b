// From alphas to a genotype (DARTS' parse): for each intermediate node keep the two incoming
// edges whose strongest non-'none' pair weighs most, and on each that pair. Weights are
// softmax(alpha) per edge; ties go to the lower index, as Python's stable sort and max do.
// NAS-Bench-201: the argmax of every edge, 'none' included.

import type { Genotype, GenotypeEdge } from '../models/genotype.js';
import type { Nb201Genotype } from '../models/nb201.js';
import type { SearchSpace } from './space.js';
import { isRuleArbitrary } from '../models/operations.js';

export function softmaxRows(alpha: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, alpha[r * cols + c]);
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += out[r * cols + c] = Math.exp(alpha[r * cols + c] - max);
    for (let c = 0; c < cols; c++) out[r * cols + c] /= sum;
  }
  return out;
}

/** One cell type: `weights` = softmax rows [edges x pairs], `steps` intermediate nodes. */
export function deriveCell(weights: ArrayLike<number>, space: SearchSpace, steps = 4): GenotypeEdge[] {
  const P = space.pairs.length;
  const none = space.pairs.findIndex((p) => p.op === 'none');
  const best = (e: number) => {
    let k = -1;
    for (let j = 0; j < P; j++) if (j !== none && (k < 0 || weights[e * P + j] > weights[e * P + k])) k = j;
    return k;
  };
  const gene: GenotypeEdge[] = [];
  let start = 0;
  for (let i = 0; i < steps; i++) {
    const n = i + 2;
    const inputs = Array.from({ length: n }, (_, j) => j);
    const score = (j: number) => weights[(start + j) * P + best(start + j)];
    const kept = [...inputs].sort((a, b) => score(b) - score(a)).slice(0, 2);
    for (const j of kept) {
      const pair = space.pairs[best(start + j)];
      gene.push({ op: pair.op, rule: pair.rule, input: j });
    }
    start += n;
  }
  return gene;
}

export function deriveGenotype(alphaNormal: ArrayLike<number>, alphaReduce: ArrayLike<number>, space: SearchSpace, steps = 4): Genotype {
  const edges = (steps * (steps + 3)) / 2;
  const P = space.pairs.length;
  const concat = Array.from({ length: steps }, (_, i) => i + 2);
  return {
    normal: deriveCell(softmaxRows(alphaNormal, edges, P), space, steps), normal_concat: concat,
    reduce: deriveCell(softmaxRows(alphaReduce, edges, P), space, steps), reduce_concat: concat,
  };
}

export function deriveNb201(alpha: ArrayLike<number>, space: SearchSpace): Nb201Genotype {
  const P = space.pairs.length;
  return Array.from({ length: 6 }, (_, e) => {
    let k = 0;
    for (let j = 1; j < P; j++) if (alpha[e * P + j] > alpha[e * P + k]) k = j;
    return { ...space.pairs[k] };
  });
}

/**
 * One line per genotype edge whose rule label is arbitrary (isRuleArbitrary in the op catalogue), when the
 * space names a rule on skip_connect at all: in a normal cell every edge has stride 1, in a
 * reduction cell those from its two inputs have stride 2.
 */
export function arbitraryRuleNotes(g: Genotype, space: SearchSpace): string[] {
  const skips = space.pairs.filter((p) => p.op === 'skip_connect');
  if (!skips.some((p) => p.rule !== 'bp') && skips.length < 2) return [];
  const notes: string[] = [];
  for (const cell of ['normal', 'reduce'] as const) {
    g[cell].forEach((e, i) => {
      const stride = cell === 'reduce' && e.input < 2 ? 2 : 1;
      if (e.op !== 'skip_connect' || !isRuleArbitrary(e.op, stride)) return;
      notes.push(`${cell} cell, node ${Math.floor(i / 2) + 2} <- ${e.input}: skip_connect/${e.rule} at stride 1 is the identity, so its rule label is arbitrary` +
        (skips.length > 1 ? ` (the space's ${skips.length} skip_connect pairs are the same op there)` : ''));
    });
  }
  return notes;
}
