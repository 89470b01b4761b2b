// The safetensors format (huggingface/safetensors), written from scratch: an 8-byte
// little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin,
// end]}, "__metadata__": {string: string}} padded with spaces so the data starts 8-byte
// aligned, then the raw little-endian bytes of every tensor, back to back, offsets counted
// from the end of the header. Any framework with a safetensors reader loads the result.

import type { DType } from '../tensor.js';

/** bionas dtypes and their safetensors names (4 bytes each). */
export const SAFETENSORS_DTYPES: Readonly<Record<DType, string>> = { f32: 'F32', i32: 'I32', u32: 'U32' };

/** The data section starts at a multiple of this (the reference writer aligns to 8). */
export const HEADER_ALIGNMENT = 8;

export interface NamedArray {
  name: string;
  dtype: DType;
  shape: readonly number[];
  data: Float32Array | Int32Array | Uint32Array;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Little-endian bytes of a typed array, whatever the platform's byte order. */
function littleEndian(a: Float32Array | Int32Array | Uint32Array): Uint8Array {
  const out = new Uint8Array(a.length * 4);
  const view = new DataView(out.buffer);
  if (a instanceof Float32Array) a.forEach((v, i) => view.setFloat32(i * 4, v, true));
  else if (a instanceof Int32Array) a.forEach((v, i) => view.setInt32(i * 4, v, true));
  else a.forEach((v, i) => view.setUint32(i * 4, v, true));
  return out;
}

/** The file's bytes; tensors keep the given order. Names must be unique and '__metadata__' is reserved. */
export function encodeSafetensors(tensors: NamedArray[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, HeaderEntry | Record<string, string>> = {};
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new Error(`safetensors: metadata '${k}' must be a string, got ${typeof v}`);
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || !t.name) throw new Error(`safetensors: '${t.name}' cannot name a tensor`);
    if (Object.hasOwn(header, t.name)) throw new Error(`safetensors: two tensors named '${t.name}'`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`safetensors: tensor '${t.name}' has shape [${t.shape.join(', ')}] (${count} elements) but ${t.data.length} values`);
    const dtype = SAFETENSORS_DTYPES[t.dtype];
    if (!dtype) throw new Error(`safetensors: tensor '${t.name}' has dtype ${t.dtype}, which has no safetensors name here`);
    header[t.name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + 4 * count] };
    offset += 4 * count;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil((8 + json.length) / HEADER_ALIGNMENT) * HEADER_ALIGNMENT - 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let at = 8 + padded;
  for (const t of tensors) {
    out.set(littleEndian(t.data), at);
    at += t.data.length * 4;
  }
  return out;
}
