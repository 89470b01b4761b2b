// Saving and loading named tensors (a model's state, an optimizer's, a checkpoint's).
//
// File layout: 8-byte magic "BIONAS01", u32 little-endian length L, L bytes of JSON
// { meta, tensors: [{ name, shape, dtype, offset }] }, then the raw little-endian data,
// each tensor at `offset` bytes after the header. Written to a temporary file and renamed,
// so a killed run never leaves a half-written file under the real name.

import { Tensor, fmt, type DType } from '../tensor.js';
import { gpu } from '../gpu/runtime.js';

const MAGIC = 'BIONAS01';

interface Entry {
  name: string;
  shape: number[];
  dtype: DType;
  offset: number;
}

export interface SavedState {
  meta: Record<string, unknown>;
  tensors: Map<string, { shape: number[]; dtype: DType; data: Float32Array | Int32Array | Uint32Array }>;
}

/** Reads the tensors back (one sync) and serialises them with `meta` into bytes. */
export async function encodeState(tensors: [string, Tensor][], meta: Record<string, unknown> = {}): Promise<Uint8Array> {
  const names = new Set<string>();
  for (const [name] of tensors) {
    if (names.has(name)) throw new Error(`state: two tensors named '${name}'`);
    names.add(name);
  }
  const datas = await Promise.all(tensors.map(([, t]) => t.data()));
  const entries: Entry[] = [];
  let offset = 0;
  tensors.forEach(([name, t]) => {
    entries.push({ name, shape: [...t.shape], dtype: t.dtype, offset });
    offset += t.size * 4;
  });
  const header = new TextEncoder().encode(JSON.stringify({ meta, tensors: entries }));
  const headerBytes = Math.ceil(header.length / 4) * 4;
  const out = new Uint8Array(8 + 4 + headerBytes + offset);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, headerBytes, true);
  out.set(header, 12);
  out.fill(0x20, 12 + header.length, 12 + headerBytes);
  const base = 12 + headerBytes;
  datas.forEach((d, i) => out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), base + entries[i].offset));
  return out;
}

export function decodeState(bytes: Uint8Array, source = 'state'): SavedState {
  const fail = (why: string) => new Error(`${source}: not a bionas state file (${why})`);
  if (bytes.length < 12) throw fail(`only ${bytes.length} bytes`);
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) throw fail('bad magic');
  const headerBytes = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  if (12 + headerBytes > bytes.length) throw fail('header runs past the end: truncated file');
  let header: { meta: Record<string, unknown>; tensors: Entry[] };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerBytes)));
  } catch {
    throw fail('header is not JSON: corrupt file');
  }
  const base = 12 + headerBytes;
  const tensors: SavedState['tensors'] = new Map();
  for (const e of header.tensors) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    const start = base + e.offset;
    if (start + n * 4 > bytes.length) throw fail(`tensor '${e.name}' runs past the end: truncated file`);
    const copy = bytes.slice(start, start + n * 4);
    const data = e.dtype === 'i32' ? new Int32Array(copy.buffer) : e.dtype === 'u32' ? new Uint32Array(copy.buffer) : new Float32Array(copy.buffer);
    tensors.set(e.name, { shape: e.shape, dtype: e.dtype, data });
  }
  return { meta: header.meta ?? {}, tensors };
}

/** Writes into existing tensors by name; every tensor must be present with its shape. */
export function loadInto(targets: [string, Tensor][], saved: SavedState, source = 'state', { strict = true } = {}): void {
  for (const [name, t] of targets) {
    const s = saved.tensors.get(name);
    if (!s) {
      if (strict) throw new Error(`${source}: no tensor '${name}' in the file`);
      continue;
    }
    if (s.shape.length !== t.shape.length || s.shape.some((d, i) => d !== t.shape[i])) {
      throw new Error(`${source}: tensor '${name}' has shape ${fmt(s.shape)} in the file, ${fmt(t.shape)} in the model`);
    }
    t.write(s.data);
  }
  gpu().recorder.flush();
}

/** Atomic write: temporary file in the same folder, fsync, rename. Node only. */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const fs = await import('node:fs/promises');
  const tmp = `${path}.tmp-${process.pid}`;
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, path);
}

/**
 * The same for a small text file (SVGs, JSON summaries), synchronously: a temporary file beside
 * it, then a rename. `fs` is node:fs, passed in so browser bundles never import it.
 */
export function writeTextAtomic(fs: typeof import('node:fs'), path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, path);
}

export async function saveTensors(path: string, tensors: [string, Tensor][], meta: Record<string, unknown> = {}): Promise<void> {
  await writeFileAtomic(path, await encodeState(tensors, meta));
}

export async function readState(path: string): Promise<SavedState> {
  const fs = await import('node:fs/promises');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await fs.readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${path}: cannot read the state file (${code === 'ENOENT' ? 'no such file' : code ?? (e as Error).message})`);
  }
  return decodeState(bytes, path);
}
