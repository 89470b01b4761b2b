// What a search writes to its run folder, whatever the method: genotype.json, the alphas of
// each epoch (alphas.jsonl), SVG drawings of the cells and heat maps of softmax(alpha).

import type { Supernet } from './supernet.js';
import { pairName, type SearchSpace } from './space.js';
import { deriveGenotype, deriveNb201, softmaxRows, arbitraryRuleNotes } from './derive.js';
import { cellSvg } from '../viz/cell.js';
import { alphaHeatmapSvg } from '../viz/heatmap.js';
import { nb201String, NB201_EDGES } from '../models/nb201.js';
import type { Genotype } from '../models/genotype.js';

export interface AlphaSnapshot {
  epoch: number;
  /** softmax(alpha) rows per cell type, e.g. { normal: [[...], ...], reduce: [...] } */
  weights: Record<string, number[][]>;
}

export async function readAlphas(model: Supernet): Promise<Float32Array[]> {
  return Promise.all(model.alphas.map(async (a) => (await a.data()) as Float32Array));
}

export function snapshot(model: Supernet, alphas: Float32Array[], epoch: number): AlphaSnapshot {
  const weights: Record<string, number[][]> = {};
  model.alphas.forEach((a, i) => {
    const [rows, cols] = a.shape;
    const sm = softmaxRows(alphas[i], rows, cols);
    weights[model.alphaNames[i]] = Array.from({ length: rows }, (_, r) => Array.from(sm.subarray(r * cols, (r + 1) * cols)));
  });
  return { epoch, weights };
}

export interface DerivedResult {
  /** For DARTS spaces. */
  genotype?: Genotype;
  /** For NAS-Bench-201: the benchmark's architecture string and the edges with rules. */
  nb201?: { arch: string; edges: { op: string; rule: string }[] };
}

export function derive(space: SearchSpace, alphas: Float32Array[], steps = 4): DerivedResult {
  if (space.cell === 'nb201') {
    const edges = deriveNb201(alphas[0], space);
    return { nb201: { arch: nb201String(edges), edges } };
  }
  return { genotype: deriveGenotype(alphas[0], alphas[1], space, steps) };
}

export function describeDerived(d: DerivedResult): string {
  if (d.nb201) return d.nb201.arch + (d.nb201.edges.some((e) => e.rule !== 'bp') ? `  rules: ${d.nb201.edges.map((e) => e.rule).join(',')}` : '');
  const cell = (edges: Genotype['normal']) => edges.map((e) => `${e.op}${e.rule === 'bp' ? '' : '/' + e.rule}<-${e.input}`).join(' ');
  return `normal: ${cell(d.genotype!.normal)} | reduce: ${cell(d.genotype!.reduce)}`;
}

/**
 * Notes on the derived genotype a reader should see: a skip_connect picked where it is the
 * identity, whose rule label is then arbitrary.
 */
export function derivedNotes(space: SearchSpace, derived: DerivedResult): string[] {
  return derived.genotype ? arbitraryRuleNotes(derived.genotype, space) : [];
}

/** Writes genotype.json, the cell drawings and the heat maps through `put` (name, text: an atomic write). */
export function writeSearchOutputs(put: (name: string, text: string) => void, space: SearchSpace, derived: DerivedResult, history: AlphaSnapshot[], extra: Record<string, unknown>): void {
  const notes = derivedNotes(space, derived);
  const body = derived.genotype
    ? { genotype: { name: `bionas-${space.name}`, ...derived.genotype }, space: space.name, ...extra, ...(notes.length ? { notes } : {}) }
    : { nb201: derived.nb201, space: space.name, ...extra };
  put('genotype.json', JSON.stringify(body, null, 1) + '\n');
  if (derived.genotype) {
    put('normal.svg', cellSvg(`normal cell (${space.name})`, derived.genotype.normal, derived.genotype.normal_concat));
    put('reduce.svg', cellSvg(`reduction cell (${space.name})`, derived.genotype.reduce, derived.genotype.reduce_concat));
  } else if (derived.nb201) {
    // Draw the NB201 cell with the DARTS drawing: nodes 1..3 fed by every earlier node.
    const edges = derived.nb201.edges.map((e, k) => ({ op: e.op, rule: e.rule, input: NB201_EDGES[k][1] })) as never;
    put('cell.svg', cellSvg(`NAS-Bench-201 cell: ${derived.nb201.arch}`, edges, [3]));
  }
  const names = space.pairs.map(pairName);
  for (const cellType of Object.keys(history[0]?.weights ?? {})) {
    const rows = history[0].weights[cellType].length;
    const flat = history.map((h) => Float64Array.from(h.weights[cellType].flat()));
    put(`alphas_${cellType}.svg`, alphaHeatmapSvg(`softmax(alpha), ${cellType} cell`, flat, rows, names));
  }
}
