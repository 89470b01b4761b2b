// The NAS-Bench-201 tables shipped with bionas (data/nb201.bin.gz, packed by
// scripts/pack-nb201.mjs; origin in data/NB201-SOURCE.md): for each of the 15,625 cells, its
// isomorphism class and its accuracies on CIFAR-10, CIFAR-100 and ImageNet16-120 after the
// benchmark's 12-epoch schedule (validation and test) and its 200-epoch one (test).
// Row i is the benchmark's architecture index i. A cell is also named by its ops: six numbers,
// one per edge in the benchmark's order (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2), each an index
// into NB201_TABLE_OPS; its `code` is those digits in base 5, edge 1<-0 most significant.
// The benchmark's own index order is not the base-5 order (index 0 is an avg_pool cell), so
// the table keeps both and maps between them.

export const NB201_TABLE_OPS = ['none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3'] as const;
export const NB201_EDGE_COUNT = 6;
export const NB201_CELLS = 5 ** NB201_EDGE_COUNT;
export const NB201_DATASETS = ['cifar10', 'cifar100', 'imagenet16'] as const;
export type Nb201Dataset = (typeof NB201_DATASETS)[number];
/** valid12: the 12-epoch validation accuracy (the benchmark's search signal); test200: the 200-epoch test accuracy (an oracle). */
export const NB201_SIGNALS = ['valid12', 'test200'] as const;
export type Nb201Signal = (typeof NB201_SIGNALS)[number];
export type Nb201Column = `${Nb201Dataset}.${'valid12' | 'test12' | 'test200'}`;

const MAGIC = 'BIONAS-NB201 1';

/** The ops of a cell from its architecture string |op~0|+|op~0|op~1|+|op~0|op~1|op~2|. */
export function archToOps(arch: string): number[] {
  const m = /^\|(\w+)~0\|\+\|(\w+)~0\|(\w+)~1\|\+\|(\w+)~0\|(\w+)~1\|(\w+)~2\|$/.exec(arch.trim());
  if (!m) throw new Error(`NAS-Bench-201 architecture '${arch}': expected |op~0|+|op~0|op~1|+|op~0|op~1|op~2|`);
  return m.slice(1).map((op) => {
    const k = (NB201_TABLE_OPS as readonly string[]).indexOf(op);
    if (k < 0) throw new Error(`NAS-Bench-201 architecture '${arch}': unknown op '${op}' (ops: ${NB201_TABLE_OPS.join(', ')})`);
    return k;
  });
}

export function opsToArch(ops: readonly number[]): string {
  const o = checkOps(ops).map((k) => NB201_TABLE_OPS[k]);
  return `|${o[0]}~0|+|${o[1]}~0|${o[2]}~1|+|${o[3]}~0|${o[4]}~1|${o[5]}~2|`;
}

export function opsToCode(ops: readonly number[]): number {
  return checkOps(ops).reduce((c, k) => c * 5 + k, 0);
}

export function codeToOps(code: number): number[] {
  if (!Number.isInteger(code) || code < 0 || code >= NB201_CELLS) throw new Error(`NAS-Bench-201 cell code ${code}: expected an integer in [0, ${NB201_CELLS})`);
  const ops = new Array<number>(NB201_EDGE_COUNT);
  for (let e = NB201_EDGE_COUNT - 1; e >= 0; e--, code = Math.floor(code / 5)) ops[e] = code % 5;
  return ops;
}

function checkOps(ops: readonly number[]): readonly number[] {
  if (ops.length !== NB201_EDGE_COUNT || ops.some((k) => !Number.isInteger(k) || k < 0 || k >= NB201_TABLE_OPS.length)) {
    throw new Error(`NAS-Bench-201 cell [${ops.join(', ')}]: expected ${NB201_EDGE_COUNT} op indices in [0, ${NB201_TABLE_OPS.length})`);
  }
  return ops;
}

export function checkDataset(name: string): Nb201Dataset {
  if (!(NB201_DATASETS as readonly string[]).includes(name)) throw new Error(`NAS-Bench-201 dataset '${name}': expected one of ${NB201_DATASETS.join(', ')}`);
  return name as Nb201Dataset;
}

export interface Nb201Optimum {
  index: number;
  arch: string;
  /** The signal's value of that cell. */
  value: number;
  /** Its 200-epoch test accuracy. */
  test200: number;
}

export class Nb201Table {
  readonly rows: number;
  readonly classCount: number;
  private readonly codes: Uint16Array;
  private readonly classes: Uint16Array;
  private readonly columns: Map<string, Float32Array>;
  /** Row of each code. */
  private readonly rowOf: Int32Array;

  constructor(codes: Uint16Array, classes: Uint16Array, columns: Map<string, Float32Array>, classCount: number) {
    this.rows = codes.length;
    this.codes = codes;
    this.classes = classes;
    this.columns = columns;
    this.classCount = classCount;
    this.rowOf = new Int32Array(NB201_CELLS).fill(-1);
    codes.forEach((c, i) => (this.rowOf[c] = i));
    if (this.rowOf.includes(-1)) throw new Error('NAS-Bench-201 table: some cells are missing');
  }

  /** The benchmark's architecture index of a cell (given by ops or architecture string). */
  index(cell: readonly number[] | string): number {
    return this.rowOf[opsToCode(typeof cell === 'string' ? archToOps(cell) : cell)];
  }

  ops(index: number): number[] {
    return codeToOps(this.codes[this.checkIndex(index)]);
  }

  arch(index: number): string {
    return opsToArch(this.ops(index));
  }

  /** The isomorphism class: cells of one class compute the same function (the UniqueString column). */
  classOf(index: number): number {
    return this.classes[this.checkIndex(index)];
  }

  accuracy(index: number, column: Nb201Column): number {
    const col = this.columns.get(column);
    if (!col) throw new Error(`NAS-Bench-201 table: no column '${column}' (columns: ${[...this.columns.keys()].join(', ')})`);
    return col[this.checkIndex(index)];
  }

  /** The signal of a search on `dataset`: its 12-epoch validation or 200-epoch test accuracy. */
  signal(index: number, dataset: Nb201Dataset, signal: Nb201Signal): number {
    return this.accuracy(index, `${dataset}.${signal}`);
  }

  /** The cell with the highest signal (lowest index among ties). */
  optimum(dataset: Nb201Dataset, signal: Nb201Signal): Nb201Optimum {
    const col = this.columns.get(`${checkDataset(dataset)}.${signal}`)!;
    let best = 0;
    for (let i = 1; i < this.rows; i++) if (col[i] > col[best]) best = i;
    return { index: best, arch: this.arch(best), value: col[best], test200: this.accuracy(best, `${dataset}.test200`) };
  }

  private checkIndex(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.rows) throw new Error(`NAS-Bench-201 index ${index}: expected an integer in [0, ${this.rows})`);
    return index;
  }
}

/** Unpacks a table file's bytes (gzip), verifying its format and checksum. */
export async function parseNb201Table(gz: Uint8Array, where = 'NAS-Bench-201 table'): Promise<Nb201Table> {
  const { gunzipSync } = await import('node:zlib');
  const { createHash } = await import('node:crypto');
  const fail = (why: string) => new Error(`${where}: ${why}; repack it with node scripts/pack-nb201.mjs`);
  let raw: Buffer;
  try {
    raw = gunzipSync(gz);
  } catch (e) {
    throw fail(`not a readable gzip file (${(e as Error).message})`);
  }
  const nl1 = raw.indexOf(10), nl2 = raw.indexOf(10, nl1 + 1);
  if (nl1 < 0 || raw.subarray(0, nl1).toString() !== MAGIC || nl2 < 0) throw fail(`not a bionas NAS-Bench-201 table (no '${MAGIC}' header)`);
  let head: { rows: number; classes: number; columns: string[]; sha256: string };
  try {
    head = JSON.parse(raw.subarray(nl1 + 1, nl2).toString());
  } catch {
    throw fail('its header is not JSON');
  }
  // Copied out so the typed arrays below are aligned.
  const body = new Uint8Array(raw.subarray(nl2 + 1));
  const expected = head.rows * 4 + head.rows * 4 * head.columns.length;
  if (body.length !== expected) throw fail(`its body has ${body.length} bytes, the header says ${expected}`);
  const sha = createHash('sha256').update(body).digest('hex');
  if (sha !== head.sha256) throw fail(`checksum mismatch (sha256 ${sha}, the header says ${head.sha256}): the file is corrupt`);
  const n = head.rows;
  const codes = new Uint16Array(body.buffer, 0, n);
  const classes = new Uint16Array(body.buffer, 2 * n, n);
  const columns = new Map(head.columns.map((name, k) => [name, new Float32Array(body.buffer, 4 * n + 4 * n * k, n)] as const));
  return new Nb201Table(codes, classes, columns, head.classes);
}

/** Where the shipped table is: data/nb201.bin.gz of the package (found from src/ or dist/). */
async function defaultTablePath(): Promise<string> {
  const { existsSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const path = await import('node:path');
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 5; up++, dir = path.dirname(dir)) {
    const file = path.join(dir, 'data', 'nb201.bin.gz');
    if (existsSync(file)) return file;
  }
  throw new Error('NAS-Bench-201 table data/nb201.bin.gz not found next to bionas; build it with node scripts/pack-nb201.mjs');
}

const loaded = new Map<string, Promise<Nb201Table>>();

/** Loads (once per path) the shipped table or the one at `file` (Node only). */
export function loadNb201Table(file?: string): Promise<Nb201Table> {
  const key = file ?? '';
  let t = loaded.get(key);
  if (!t) {
    t = (async () => {
      const { readFile } = await import('node:fs/promises');
      const path = file ?? (await defaultTablePath());
      return parseNb201Table(await readFile(path), path);
    })();
    t.catch(() => loaded.delete(key));
    loaded.set(key, t);
  }
  return t;
}

/** What the benchmark says of a cell: its index, class and 200-epoch test accuracy per dataset. */
export async function lookupNb201(arch: string): Promise<{ index: number; class: number; test200: Record<Nb201Dataset, number> }> {
  const t = await loadNb201Table();
  const index = t.index(arch);
  const test200 = Object.fromEntries(NB201_DATASETS.map((d) => [d, t.accuracy(index, `${d}.test200`)])) as Record<Nb201Dataset, number>;
  return { index, class: t.classOf(index), test200 };
}
