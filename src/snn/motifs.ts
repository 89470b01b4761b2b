// The circuit motifs of MSE-NAS as data: small fixed DAGs of spiking ops, one per cell, from
// the authors' BrainCog code (examples/Structure_Evolution/MSE-NAS/motifs.py), read and
// rewritten in this form. A motif belongs to a wiring type: with wiring w a cell reads the w
// previous cells' outputs, states 0..w-1 (oldest first, after preprocessing); its nodes are
// states w, w+1, ...; each node sums its edges. An edge is 'identity' (the state itself) or
// 'conv' (a spiking conv whose kernel, 3 or 5, and polarity come from the genome, one gene pair
// per conv edge in the order listed: forward edges node by node, then feedback edges).
//
// Feedback edges ("_back" in BrainCog) run inside the same time step: right after node `from`
// is computed, op(node) is added to the earlier state `to`, so nodes computed later and the
// cell's output read the updated state. The computation stays acyclic, so it runs in
// multi-step mode like every other edge (no per-step loop is needed).
//
// What was left out of the authors' lists, and why:
//   - their 'skip' op is a Zero at stride 1 (operations.py), so 'skip' edges (wiring 3 motifs)
//     are omitted here, and so is m3's 'skip_back' (a zero added to state 2);
//   - mm0 and m0 (all edges 'skip': a cell that outputs zeros);
//   - the wiring-4 motifs (t1..t5): the issue and SPEC 10 name wirings 2 and 3 only.
// Polarity: BrainCog fixes each conv edge's polarity inside the motif ('_p' / '_n'); bionas
// makes it a gene per conv edge (SPEC 10, issue 15), so a motif here is topology only; the
// authors' polarities are in `authorPolarity` for reference and for `authorsGenome`.

import type { Polarity } from '../ops/polarity.js';

export type Wiring = 2 | 3;
export const WIRINGS: readonly Wiring[] = [2, 3];

export type EdgeKind = 'identity' | 'conv';

export interface MotifEdge {
  /** The state it reads: 0..wiring-1 the cell's inputs, then the nodes. */
  from: number;
  kind: EdgeKind;
  /** BrainCog's polarity of this edge (conv edges). */
  authorPolarity?: Polarity;
}

export interface FeedbackEdge {
  /** The node whose output it sends back (after that node is computed). */
  from: number;
  /** The earlier state it is added to. */
  to: number;
  kind: EdgeKind;
  authorPolarity?: Polarity;
}

export interface Motif {
  /** BrainCog's name, for reference. */
  name: string;
  wiring: Wiring;
  /** nodes[j] lists the edges summed into state wiring + j. */
  nodes: MotifEdge[][];
  feedback: FeedbackEdge[];
  /** States concatenated (channels) as the cell's output. */
  concat: number[];
}

const c = (from: number, p: Polarity = 'exc'): MotifEdge => ({ from, kind: 'conv', authorPolarity: p });
const id = (from: number): MotifEdge => ({ from, kind: 'identity' });

/** Motifs by wiring; a genome's motif gene indexes the list of its wiring. */
export const MOTIFS: Readonly<Record<Wiring, readonly Motif[]>> = {
  2: [
    { name: 'mm1', wiring: 2, nodes: [[c(0), c(1)], [id(0), c(2)]], feedback: [], concat: [2, 3] },
    { name: 'mm2', wiring: 2, nodes: [[c(0), c(1)], [id(0), c(2, 'inh')], [c(2), c(3, 'inh')]], feedback: [], concat: [2, 3, 4] },
    {
      name: 'mm3', wiring: 2, nodes: [[c(0), c(1)], [id(0), c(2, 'inh')], [id(0), c(3)]],
      feedback: [{ from: 3, to: 2, kind: 'identity' }, { from: 4, to: 3, kind: 'conv', authorPolarity: 'exc' }], concat: [2, 3, 4],
    },
    { name: 'mm4', wiring: 2, nodes: [[c(0), c(1)], [c(0), c(1)], [c(2), c(3)], [id(0), c(4)], [id(0), c(4)]], feedback: [], concat: [2, 3, 4, 5, 6] },
    { name: 'mm5', wiring: 2, nodes: [[c(0), c(1)], [id(0), c(2)]], feedback: [{ from: 3, to: 2, kind: 'identity' }], concat: [2, 3] },
  ],
  3: [
    { name: 'm1', wiring: 3, nodes: [[c(0), c(1), c(2)], [c(3)]], feedback: [], concat: [3, 4] },
    { name: 'm2', wiring: 3, nodes: [[c(0), c(1), c(2)], [c(3, 'inh')], [c(3), c(4, 'inh')]], feedback: [], concat: [3, 4, 5] },
    {
      name: 'm3', wiring: 3, nodes: [[c(0), c(1), c(2)], [c(3)], [c(3)]],
      feedback: [{ from: 4, to: 3, kind: 'conv', authorPolarity: 'inh' }], concat: [3, 4, 5],
    },
    {
      name: 'm4', wiring: 3, nodes: [[c(0), c(1), c(2)], [c(0), c(1), c(2)], [c(3), c(4)], [c(3), c(5, 'inh')], [c(4), c(5, 'inh')]],
      feedback: [], concat: [3, 4, 5, 6, 7],
    },
    { name: 'm5', wiring: 3, nodes: [[c(0), c(1), c(2)], [c(3, 'inh')]], feedback: [{ from: 4, to: 3, kind: 'identity' }], concat: [3, 4] },
  ],
};

/** The conv edges of a motif, in gene order: forward edges node by node, then feedback edges. */
export function convEdges(m: Motif): (MotifEdge | FeedbackEdge)[] {
  return [...m.nodes.flat(), ...m.feedback].filter((e) => e.kind === 'conv');
}

/** The largest number of conv edges of any motif: the gene slots a cell has in a vector. */
export const MAX_CONV_EDGES = Math.max(...WIRINGS.flatMap((w) => MOTIFS[w].map((m) => convEdges(m).length)));

/** Throws unless the motif is well formed (edges read earlier states, feedback goes back, concat valid). */
export function checkMotif(m: Motif): void {
  const where = `motif ${m.name}`;
  m.nodes.forEach((edges, j) => {
    const node = m.wiring + j;
    if (edges.length === 0) throw new Error(`${where}: node ${node} has no edges`);
    for (const e of edges) if (!(Number.isInteger(e.from) && e.from >= 0 && e.from < node)) throw new Error(`${where}: node ${node} reads state ${e.from}, not an earlier one`);
  });
  const states = m.wiring + m.nodes.length;
  for (const f of m.feedback) {
    if (!(f.from >= m.wiring && f.from < states && f.to >= 0 && f.to < f.from)) throw new Error(`${where}: feedback ${f.from} -> ${f.to} must go from a node to an earlier state`);
  }
  if (m.concat.length === 0 || m.concat.some((s) => !Number.isInteger(s) || s < 0 || s >= states)) throw new Error(`${where}: concat ${JSON.stringify(m.concat)} must list states 0..${states - 1}`);
}
