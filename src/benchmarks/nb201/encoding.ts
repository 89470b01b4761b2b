// The path encoding of a NAS-Bench-201 cell (DCL-ENAS's "hard encoding", SPEC section 8): a
// cell is the multiset of its live input-to-output paths (node 0 -> node 3), each path the
// sequence of its non-identity ops, sorted canonically and padded to a fixed-length vector.
//
// Why skip_connect is dropped from a path and `none` cuts it: a node sums its inputs, so the
// cell computes the sum over its live paths of the composition of the path's ops (skip is the
// identity, a `none` edge makes its path contribute zero). A multiset of paths alone forgets
// which paths go through the same op (conv(a + b) vs conv(a) + conv(b)), so the code adds, for
// every pair of paths, how many non-skip ops they share at their output end.
// Measured on all 15,625 cells (test/dcl.test.ts): code equal <=> computationKey equal (4,930
// classes); equal UniqueString => equal code; the converse fails for 623 codes, all because
// UniqueString keeps zero terms ('#', '(#+#)@op') that differ between cells computing the same sum.
// Pure TypeScript: no GPU.

export const NB201_OPS = ['none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3'] as const;
export type Nb201Op = (typeof NB201_OPS)[number];
const NONE = 0;
const SKIP = 1;

/** Edges in the arch string's order: (to, from) = (1,0), (2,0), (2,1), (3,0), (3,1), (3,2). */
export const NB201_EDGES: readonly (readonly [number, number])[] = [[1, 0], [2, 0], [2, 1], [3, 0], [3, 1], [3, 2]];
export const NB201_EDGE_COUNT = 6;
/** 5^6 cells. */
export const NB201_CELL_COUNT = NB201_OPS.length ** NB201_EDGE_COUNT;

/** A cell: the op index (into NB201_OPS) of each edge, in NB201_EDGES order. */
export type Nb201Cell = readonly number[];

/** The four routes 0 -> 3, as edge indices; the longest has 3 edges. */
const ROUTES: readonly (readonly number[])[] = [[3], [0, 4], [1, 5], [0, 2, 5]];
/** Path slots: a path has at most 3 ops (the longest route). */
export const PATH_SLOTS = 3;
/** Paths kept: at most 4 routes lead from node 0 to node 3. */
export const MAX_PATHS = ROUTES.length;
/** Ops a slot can hold: the non-identity ops conv 1x1, conv 3x3, avg pool. */
const SLOT_OPS = [2, 3, 4];
/** Per path: a "present" flag, then PATH_SLOTS one-hots over SLOT_OPS. */
export const PATH_WIDTH = 1 + PATH_SLOTS * SLOT_OPS.length;
/** Pairs of paths, each with its shared-tail count. */
export const PATH_PAIRS = (MAX_PATHS * (MAX_PATHS - 1)) / 2;
/** Length of the code vector. */
export const PATH_CODE_LENGTH = MAX_PATHS * PATH_WIDTH + PATH_PAIRS;

/** Parses `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`. */
export function parseNb201(arch: string): Nb201Cell {
  const groups = arch.split('+');
  if (groups.length !== 3) throw new Error(`parseNb201: ${JSON.stringify(arch)} has ${groups.length} node groups, want 3`);
  const cell: number[] = [];
  groups.forEach((g, i) => {
    const items = g.split('|').filter((s) => s.length > 0);
    if (items.length !== i + 1) throw new Error(`parseNb201: node ${i + 1} of ${JSON.stringify(arch)} has ${items.length} inputs, want ${i + 1}`);
    items.forEach((item, j) => {
      const [op, from] = item.split('~');
      const k = NB201_OPS.indexOf(op as Nb201Op);
      if (k < 0) throw new Error(`parseNb201: unknown op ${JSON.stringify(op)} in ${JSON.stringify(arch)}`);
      if (Number(from) !== j) throw new Error(`parseNb201: input ${JSON.stringify(item)} of node ${i + 1} should read node ${j}`);
      cell.push(k);
    });
  });
  return cell;
}

export function formatNb201(cell: Nb201Cell): string {
  const g = (to: number) => '|' + NB201_EDGES.map((e, k) => [e, k] as const).filter(([e]) => e[0] === to)
    .map(([e, k]) => `${NB201_OPS[cell[k]]}~${e[1]}`).join('|') + '|';
  return [1, 2, 3].map(g).join('+');
}

/** Cell index in base 5 (edge 0 most significant); not the benchmark's row index. */
export function cellId(cell: Nb201Cell): number {
  return cell.reduce((acc, op) => acc * NB201_OPS.length + op, 0);
}

export function cellFromId(id: number): Nb201Cell {
  const cell = new Array<number>(NB201_EDGE_COUNT);
  for (let k = NB201_EDGE_COUNT - 1; k >= 0; k--) { cell[k] = id % NB201_OPS.length; id = Math.floor(id / NB201_OPS.length); }
  return cell;
}

/** A live path: its route's edges and its non-skip ops. */
interface LivePath { edges: readonly number[]; ops: number[] }

function livePaths(cell: Nb201Cell): LivePath[] {
  return ROUTES.filter((route) => route.every((e) => cell[e] !== NONE))
    .map((edges) => ({ edges, ops: edges.map((e) => cell[e]).filter((op) => op !== SKIP) }));
}

/**
 * Non-skip ops on the edges two paths have in common at their output end: the ops that see the
 * sum of both (conv(a + b) shares 1, conv(a) + conv(b) shares 0). Edges shared at the input end
 * do not count: their result is copied into both sums, as UniqueString copies the node's string.
 */
function sharedTail(cell: Nb201Cell, a: LivePath, b: LivePath): number {
  let n = 0;
  for (let i = a.edges.length - 1, j = b.edges.length - 1; i >= 0 && j >= 0 && a.edges[i] === b.edges[j]; i--, j--) {
    if (cell[a.edges[i]] !== SKIP) n++;
  }
  return n;
}

function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, k) => [...p.slice(0, k), n - 1, ...p.slice(k)]));
}

/**
 * The live paths in canonical order with the shared-tail counts of every pair ((0,1), (0,2),
 * (0,3), (1,2), (1,3), (2,3), absent pairs 0): paths sorted by their ops, ties between equal op
 * sequences broken by the smallest sharing vector (at most 4! orders to try).
 */
function canonicalPaths(cell: Nb201Cell): { paths: number[][]; shared: number[] } {
  const live = livePaths(cell);
  let best: { paths: number[][]; shared: number[]; key: string } | null = null;
  for (const perm of permutations(live.length)) {
    const ordered = perm.map((k) => live[k]);
    if (ordered.some((p, k) => k > 0 && comparePaths(ordered[k - 1].ops, p.ops) > 0)) continue;
    const shared: number[] = [];
    for (let i = 0; i < MAX_PATHS; i++) {
      for (let j = i + 1; j < MAX_PATHS; j++) shared.push(j < ordered.length ? sharedTail(cell, ordered[i], ordered[j]) : 0);
    }
    const key = shared.join('');
    if (!best || key < best.key) best = { paths: ordered.map((p) => p.ops), shared, key };
  }
  return best!;
}

/** The live paths' non-skip op sequences, sorted canonically. */
export function cellPaths(cell: Nb201Cell): number[][] {
  return canonicalPaths(cell).paths;
}

/** Shorter paths first, then lexicographic by op index. */
function comparePaths(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/**
 * The fixed-length code: MAX_PATHS blocks of PATH_WIDTH (absent paths all zero, at the end),
 * then the PATH_PAIRS shared-tail counts divided by PATH_SLOTS.
 */
export function encodePaths(cell: Nb201Cell, out = new Float32Array(PATH_CODE_LENGTH), offset = 0): Float32Array {
  out.fill(0, offset, offset + PATH_CODE_LENGTH);
  const { paths, shared } = canonicalPaths(cell);
  paths.forEach((path, p) => {
    const base = offset + p * PATH_WIDTH;
    out[base] = 1;
    path.forEach((op, s) => { out[base + 1 + s * SLOT_OPS.length + SLOT_OPS.indexOf(op)] = 1; });
  });
  shared.forEach((n, k) => { out[offset + MAX_PATHS * PATH_WIDTH + k] = n / PATH_SLOTS; });
  return out;
}

/** A string equal for two cells iff their codes are equal. */
export function pathKey(cell: Nb201Cell): string {
  const { paths, shared } = canonicalPaths(cell);
  return paths.map((p) => `[${p.join('')}]`).join('') + '/' + shared.join('');
}

/** L1 (= Hamming) distance of two path codes. */
export function pathDistance(a: Nb201Cell, b: Nb201Cell): number {
  const ca = encodePaths(a);
  const cb = encodePaths(b);
  let d = 0;
  for (let i = 0; i < ca.length; i++) d += Math.abs(ca[i] - cb[i]);
  return d;
}

/** Every cell one edge away (24 of them). */
export function neighbours(cell: Nb201Cell): Nb201Cell[] {
  const out: Nb201Cell[] = [];
  for (let k = 0; k < NB201_EDGE_COUNT; k++) {
    for (let op = 0; op < NB201_OPS.length; op++) {
      if (op === cell[k]) continue;
      const next = cell.slice();
      next[k] = op;
      out.push(next);
    }
  }
  return out;
}

/**
 * The cell's computation as a canonical string: NB201's UniqueString rule (skip flattens its
 * input's terms into the sum, summed terms sorted) with zeros removed for real: a `none` edge
 * or an op on a node that is zero contributes nothing. Equal strings compute the same function.
 */
export function computationKey(cell: Nb201Cell): string {
  const nodes: string[][] = [['0']];
  for (let to = 1; to <= 3; to++) {
    const terms: string[] = [];
    NB201_EDGES.forEach(([t, from], k) => {
      if (t !== to || cell[k] === NONE || nodes[from].length === 0) return;
      if (cell[k] === SKIP) terms.push(...nodes[from]);
      else terms.push(`(${nodes[from].join('+')})@${NB201_OPS[cell[k]]}`);
    });
    nodes.push(terms.sort());
  }
  return nodes[3].join('+') || '#';
}
