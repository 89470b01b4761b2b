// The genome of a spiking network (SPEC 10): one network-wide wiring type (each cell reads the
// 2 or 3 previous cells), and per cell a motif of that wiring with, for each of its conv edges,
// a kernel (3 or 5) and a polarity (excitatory or inhibitory). As a vector for NSGA-II over
// the box [0, 1]^D: gene k with n choices decodes to floor(v * n) (v = 1 -> the last choice),
// and encodes to the middle of its bin, so decode(encode(g)) = g. D = 1 + cells * (1 + 2 *
// MAX_CONV_EDGES): a cell's slots beyond its motif's conv edges are unused (neutral genes).
// On disk a genotype is JSON: { "kind": "spiking", "wiring": 2, "cells": [{ "motif": 1,
// "edges": [{ "kernel": 3, "polarity": "exc" }, ...] }, ...] }, validated with errors that
// name the field.

import { MOTIFS, WIRINGS, MAX_CONV_EDGES, convEdges, type Motif, type Wiring } from './motifs.js';
import { POLARITIES, type Polarity } from '../ops/polarity.js';

/** Kernel sizes of a spiking conv edge (BrainCog's conv_3x3 / conv_5x5 choices). */
export const KERNELS = [3, 5] as const;
export type Kernel = (typeof KERNELS)[number];

export interface EdgeGene {
  kernel: Kernel;
  polarity: Polarity;
}

export interface CellGene {
  /** Index into MOTIFS[wiring]. */
  motif: number;
  /** One per conv edge of the motif, in convEdges order. */
  edges: EdgeGene[];
}

export interface SpikingGenome {
  wiring: Wiring;
  cells: CellGene[];
}

/** The marker a genotype file carries, so a spiking genotype is told from a DARTS one. */
export const SPIKING_KIND = 'spiking';

export function motifOf(wiring: Wiring, cell: CellGene): Motif {
  return MOTIFS[wiring][cell.motif];
}

/** Vector length for a network of `cells` cells. */
export function genomeDimension(cells: number): number {
  return 1 + cells * (1 + 2 * MAX_CONV_EDGES);
}

/** A uniformly random genome; `next` returns numbers in [0, 1) (e.g. mulberry32). */
export function randomGenome(cells: number, next: () => number): SpikingGenome {
  return decodeGenome(Array.from({ length: genomeDimension(cells) }, next), cells);
}

const pick = <T>(v: number, choices: readonly T[]): T => choices[Math.min(choices.length - 1, Math.max(0, Math.floor(v * choices.length)))];
const centre = (index: number, n: number) => (index + 0.5) / n;

/** A vector in [0, 1]^D (values outside are clamped) to a genome of `cells` cells. */
export function decodeGenome(v: ArrayLike<number>, cells: number): SpikingGenome {
  if (!Number.isInteger(cells) || cells < 1) throw new Error(`decodeGenome: cells must be a positive integer, got ${cells}`);
  const D = genomeDimension(cells);
  if (v.length !== D) throw new Error(`decodeGenome: a genome of ${cells} cells has ${D} genes, got a vector of ${v.length}`);
  for (let i = 0; i < D; i++) if (!Number.isFinite(v[i])) throw new Error(`decodeGenome: gene ${i} is ${v[i]}, not a finite number`);
  const wiring = pick(v[0], WIRINGS);
  const out: CellGene[] = [];
  for (let c = 0; c < cells; c++) {
    const base = 1 + c * (1 + 2 * MAX_CONV_EDGES);
    const motif = Math.min(MOTIFS[wiring].length - 1, Math.max(0, Math.floor(v[base] * MOTIFS[wiring].length)));
    const n = convEdges(MOTIFS[wiring][motif]).length;
    const edges = Array.from({ length: n }, (_, e) => ({ kernel: pick(v[base + 1 + 2 * e], KERNELS), polarity: pick(v[base + 2 + 2 * e], POLARITIES) }));
    out.push({ motif, edges });
  }
  return { wiring, cells: out };
}

/** The genome as a vector (each gene at the middle of its bin; unused slots 0.5). */
export function encodeGenome(g: SpikingGenome): number[] {
  checkGenome(g);
  const v = new Array<number>(genomeDimension(g.cells.length)).fill(0.5);
  v[0] = centre(WIRINGS.indexOf(g.wiring), WIRINGS.length);
  g.cells.forEach((cell, c) => {
    const base = 1 + c * (1 + 2 * MAX_CONV_EDGES);
    v[base] = centre(cell.motif, MOTIFS[g.wiring].length);
    cell.edges.forEach((e, k) => {
      v[base + 1 + 2 * k] = centre(KERNELS.indexOf(e.kernel), KERNELS.length);
      v[base + 2 + 2 * k] = centre(POLARITIES.indexOf(e.polarity), POLARITIES.length);
    });
  });
  return v;
}

const show = (v: unknown) => JSON.stringify(v) ?? String(v);

/** Validates a parsed JSON genotype (or a genome built in code); `where` names its source in errors. */
export function parseSpikingGenotype(raw: unknown, where = 'genotype'): SpikingGenome & { name?: string } {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${where}: a spiking genotype must be a JSON object {kind: "spiking", wiring, cells}`);
  const g = raw as Record<string, unknown>;
  if (g.kind !== undefined && g.kind !== SPIKING_KIND) throw new Error(`${where}: 'kind' must be "${SPIKING_KIND}", got ${show(g.kind)}`);
  if (!WIRINGS.includes(g.wiring as Wiring)) throw new Error(`${where}: 'wiring' must be one of ${WIRINGS.join(', ')} (cells read the 2 or 3 previous cells), got ${show(g.wiring)}`);
  const wiring = g.wiring as Wiring;
  if (!Array.isArray(g.cells) || g.cells.length === 0) throw new Error(`${where}: 'cells' must be a non-empty list of {motif, edges}, got ${show(g.cells)}`);
  const motifs = MOTIFS[wiring];
  const cells = g.cells.map((rawCell, c): CellGene => {
    const at = `${where}: cells[${c}]`;
    if (!rawCell || typeof rawCell !== 'object' || Array.isArray(rawCell)) throw new Error(`${at} must be an object {motif, edges}`);
    const cell = rawCell as Record<string, unknown>;
    if (!Number.isInteger(cell.motif) || (cell.motif as number) < 0 || (cell.motif as number) >= motifs.length) {
      throw new Error(`${at}.motif must be an integer 0..${motifs.length - 1} (motifs of wiring ${wiring}: ${motifs.map((m, i) => `${i} ${m.name}`).join(', ')}), got ${show(cell.motif)}`);
    }
    const motif = motifs[cell.motif as number];
    if (cell.motifName !== undefined && cell.motifName !== motif.name) throw new Error(`${at}.motifName ${show(cell.motifName)} does not match motif ${cell.motif} of wiring ${wiring}, which is ${motif.name}`);
    const n = convEdges(motif).length;
    if (!Array.isArray(cell.edges) || cell.edges.length !== n) {
      throw new Error(`${at}.edges must list ${n} conv edges {kernel, polarity} (motif ${cell.motif} ${motif.name}), got ${Array.isArray(cell.edges) ? `${cell.edges.length}` : show(cell.edges)}`);
    }
    const edges = cell.edges.map((rawEdge, e): EdgeGene => {
      const ea = `${at}.edges[${e}]`;
      if (!rawEdge || typeof rawEdge !== 'object') throw new Error(`${ea} must be an object {kernel, polarity}`);
      const { kernel, polarity } = rawEdge as Record<string, unknown>;
      if (!KERNELS.includes(kernel as Kernel)) throw new Error(`${ea}.kernel must be one of ${KERNELS.join(', ')}, got ${show(kernel)}`);
      if (!POLARITIES.includes(polarity as Polarity)) throw new Error(`${ea}.polarity must be one of ${POLARITIES.map((p) => `"${p}"`).join(', ')}, got ${show(polarity)}`);
      return { kernel: kernel as Kernel, polarity: polarity as Polarity };
    });
    return { motif: cell.motif as number, edges };
  });
  return { ...(typeof g.name === 'string' ? { name: g.name } : {}), wiring, cells };
}

/** Throws unless g is a valid genome. */
export function checkGenome(g: SpikingGenome): void {
  parseSpikingGenotype(g, 'genome');
}

/** The genotype JSON object of a genome (what a search writes and `bionas train --genotype` reads). */
export function genotypeJson(g: SpikingGenome, name?: string): Record<string, unknown> {
  checkGenome(g);
  return { kind: SPIKING_KIND, ...(name ? { name } : {}), wiring: g.wiring, cells: g.cells.map((c) => ({ motif: c.motif, motifName: MOTIFS[g.wiring][c.motif].name, edges: c.edges })) };
}

/** Whether a parsed genotype file is a spiking one (its 'kind'). */
export function isSpikingGenotype(raw: unknown): boolean {
  const inner = (raw as Record<string, unknown> | null)?.genotype ?? raw;
  return !!inner && typeof inner === 'object' && (inner as Record<string, unknown>).kind === SPIKING_KIND;
}

/** The genome with BrainCog's fixed polarities for every edge and the given kernel. */
export function authorsGenome(wiring: Wiring, motifs: number[], kernel: Kernel = 3): SpikingGenome {
  return { wiring, cells: motifs.map((m) => ({ motif: m, edges: convEdges(MOTIFS[wiring][m]).map((e) => ({ kernel, polarity: e.authorPolarity ?? 'exc' })) })) };
}

/**
 * Reads a genotype file and returns its genome when it is a spiking one (kind "spiking"), or
 * null when it is another kind of genotype, a preset name or unreadable (the DARTS loader then
 * reports). A search run's file may wrap the genotype as { genotype: ... }.
 */
export async function loadSpikingGenotype(path: string): Promise<SpikingGenome | null> {
  const fs = await import('node:fs/promises');
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch {
    return null;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isSpikingGenotype(json)) return null;
  const inner = (json as Record<string, unknown>).genotype ?? json;
  const { name: _name, ...genome } = parseSpikingGenotype(inner, path);
  return genome;
}
