// Saving and loading named tensors (a model's state, an optimizer's, a checkpoint's).
//
// File layout (format 2): 8-byte magic "BIONAS02", u32 little-endian header length L, u32
// little-endian CRC-32 of everything after it (header and data), L bytes of JSON
// { format, meta, tensors: [{ name, shape, dtype, offset }] } padded with spaces to a multiple
// of 4, then the raw little-endian data, each tensor at `offset` bytes after the header.
// Format 1 ("BIONAS01": no checksum field) is still read. Files are written to a temporary
// file, fsynced and renamed, so a killed run never leaves a half-written file under the real
// name; a load that finds a checksum mismatch says the file is damaged.

import { Tensor, fmt, type DType } from '../tensor.js';
import { gpu } from '../gpu/runtime.js';
import { crc32 } from './crc32.js';
import { NonFiniteError, firstNonFinite } from './finite.js';

export const STATE_FORMAT = 2;
const MAGIC_V1 = 'BIONAS01';
const MAGIC_V2 = 'BIONAS02';

interface Entry {
  name: string;
  shape: number[];
  dtype: DType;
  offset: number;
}

export interface SavedState {
  /** 1 or 2 (see the header). */
  format: number;
  meta: Record<string, unknown>;
  tensors: Map<string, { shape: number[]; dtype: DType; data: Float32Array | Int32Array | Uint32Array }>;
}

export interface EncodeOptions {
  /** Refuse (NonFiniteError) when a float tensor holds NaN or an infinity: never write a poisoned checkpoint. */
  checkFinite?: boolean;
}

/** Reads the tensors back (one sync) and serialises them with `meta` into bytes. */
export async function encodeState(tensors: [string, Tensor][], meta: Record<string, unknown> = {}, o: EncodeOptions = {}): Promise<Uint8Array> {
  const names = new Set<string>();
  for (const [name] of tensors) {
    if (names.has(name)) throw new Error(`state: two tensors named '${name}'`);
    names.add(name);
  }
  const datas = await Promise.all(tensors.map(([, t]) => t.data()));
  if (o.checkFinite) {
    tensors.forEach(([name, t], i) => {
      const at = t.dtype === 'f32' ? firstNonFinite(datas[i]) : -1;
      if (at >= 0) throw new NonFiniteError(`tensor '${name}' ${fmt(t.shape)} holds ${datas[i][at]} (at index ${at}): the run diverged; no checkpoint written`);
    });
  }
  const entries: Entry[] = [];
  let offset = 0;
  tensors.forEach(([name, t]) => {
    entries.push({ name, shape: [...t.shape], dtype: t.dtype, offset });
    offset += t.size * 4;
  });
  const header = new TextEncoder().encode(JSON.stringify({ format: STATE_FORMAT, meta, tensors: entries }));
  const headerBytes = Math.ceil(header.length / 4) * 4;
  const out = new Uint8Array(16 + headerBytes + offset);
  out.set(new TextEncoder().encode(MAGIC_V2), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, headerBytes, true);
  out.set(header, 16);
  out.fill(0x20, 16 + header.length, 16 + headerBytes);
  const base = 16 + headerBytes;
  datas.forEach((d, i) => out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), base + entries[i].offset));
  view.setUint32(12, crc32(out.subarray(16)), true);
  return out;
}

/** The JSON header of a state file: its meta and tensor list, checked against the checksum when `verify`. */
function decodeHeader(bytes: Uint8Array, source: string, verify: boolean): { format: number; meta: Record<string, unknown>; tensors: Entry[]; base: number } {
  const fail = (why: string) => new Error(`${source}: not a bionas state file (${why})`);
  if (bytes.length < 12) throw fail(`only ${bytes.length} bytes`);
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== MAGIC_V1 && magic !== MAGIC_V2) throw fail('bad magic');
  const format = magic === MAGIC_V2 ? 2 : 1;
  const start = format === 2 ? 16 : 12;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerBytes = view.getUint32(8, true);
  if (start + headerBytes > bytes.length) throw new Error(`${source}: header runs past the end: truncated file`);
  if (format === 2 && verify) {
    const stored = view.getUint32(12, true);
    const computed = crc32(bytes.subarray(16));
    if (stored !== computed) {
      throw new Error(`${source}: checksum mismatch (stored ${hex(stored)}, computed ${hex(computed)}): the file is damaged (a disk error or a copy cut short); use an earlier copy or start the run again`);
    }
  }
  let header: { meta?: Record<string, unknown>; tensors: Entry[] };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(start, start + headerBytes)));
  } catch {
    throw fail('header is not JSON: corrupt file');
  }
  return { format, meta: header.meta ?? {}, tensors: header.tensors, base: start + headerBytes };
}

const hex = (v: number) => '0x' + v.toString(16).padStart(8, '0');

export function decodeState(bytes: Uint8Array, source = 'state'): SavedState {
  const { format, meta, tensors: entries, base } = decodeHeader(bytes, source, true);
  const tensors: SavedState['tensors'] = new Map();
  for (const e of entries) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    const start = base + e.offset;
    if (start + n * 4 > bytes.length) throw new Error(`${source}: tensor '${e.name}' runs past the end: truncated file`);
    const copy = bytes.slice(start, start + n * 4);
    const data = e.dtype === 'i32' ? new Int32Array(copy.buffer) : e.dtype === 'u32' ? new Uint32Array(copy.buffer) : new Float32Array(copy.buffer);
    tensors.set(e.name, { shape: e.shape, dtype: e.dtype, data });
  }
  return { format, meta, tensors };
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

/** The suffix of the temporary files the atomic writers leave behind when killed mid-write. */
export const TEMP_SUFFIX = '.tmp-';

/** Atomic write: temporary file in the same folder, fsync, rename (then fsync of the folder). Node only. */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const fs = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  const tmp = `${path}${TEMP_SUFFIX}${process.pid}`;
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, path);
  // The rename itself reaches the disk when the folder's entry does.
  try {
    const dir = await fs.open(dirname(path), 'r');
    await dir.sync().finally(() => dir.close());
  } catch {
    // Some filesystems refuse to fsync a folder; the file itself is complete either way.
  }
}

/**
 * The same for a small text file (SVGs, JSON summaries, JSON lines), synchronously: a temporary
 * file beside it, then a rename. `fs` is node:fs, passed in so browser bundles never import it.
 */
export function writeTextAtomic(fs: typeof import('node:fs'), path: string, text: string): void {
  const tmp = `${path}${TEMP_SUFFIX}${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, path);
}

export async function saveTensors(path: string, tensors: [string, Tensor][], meta: Record<string, unknown> = {}, o: EncodeOptions = {}): Promise<void> {
  await writeFileAtomic(path, await encodeState(tensors, meta, o));
}

async function readBytes(path: string): Promise<Uint8Array> {
  const fs = await import('node:fs/promises');
  try {
    return new Uint8Array(await fs.readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${path}: cannot read the state file (${code === 'ENOENT' ? 'no such file' : code ?? (e as Error).message})`);
  }
}

export async function readState(path: string): Promise<SavedState> {
  return decodeState(await readBytes(path), path);
}

/** Only the meta of a state file (no tensors decoded, no checksum pass): what a resume compares first. */
export async function readStateMeta(path: string): Promise<{ format: number; meta: Record<string, unknown> }> {
  const fs = await import('node:fs/promises');
  let handle;
  try {
    handle = await fs.open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${path}: cannot read the state file (${code === 'ENOENT' ? 'no such file' : code ?? (e as Error).message})`);
  }
  try {
    const head = new Uint8Array(16);
    await handle.read(head, 0, 16, 0);
    const length = new DataView(head.buffer).getUint32(8, true);
    const size = (await handle.stat()).size;
    const bytes = new Uint8Array(Math.min(size, 16 + length));
    await handle.read(bytes, 0, bytes.length, 0);
    const { format, meta } = decodeHeader(bytes, path, false);
    return { format, meta };
  } finally {
    await handle.close();
  }
}
