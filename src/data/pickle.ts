// A small, safe reader and writer for Python pickles: enough for dicts of numpy arrays, lists,
// numbers, strings and bytes (the Downsampled-ImageNet / ImageNet16 batch files), with no Python.
//
// Reader (`unpickle`): the pickle VM for protocols 0-5, minus what such files never hold
// (sets, persistent ids, extension registry, INST/OBJ, out-of-band buffers). GLOBAL is never
// resolved to code: only this fixed list is recognised, anything else is an error naming it:
//   numpy.core.multiarray._reconstruct (also numpy._core.* for numpy 2) + BUILD -> NdArray
//   numpy.ndarray (as _reconstruct's argument), numpy.dtype + BUILD -> a dtype
//   numpy.core.multiarray.scalar                                     -> number | bigint | boolean
//   numpy.core.numeric._frombuffer (protocol 5)                     -> NdArray
//   _codecs.encode(str, 'latin1') (bytes in protocols 0-2 from Python 3) -> Uint8Array
//   __builtin__/builtins .bytes and .bytearray                     -> Uint8Array
// Python 2 `str` (STRING / BINSTRING / SHORT_BINSTRING) is read the way pickle.load(f,
// encoding='latin1') does: text decoded as latin-1, except where numpy takes it as raw bytes.
//
// Values: None -> null, bool -> boolean, int -> number (bigint beyond 2^53), float -> number,
// str -> string, bytes/bytearray -> Uint8Array, list and tuple -> array, dict -> Map,
// ndarray -> NdArray { dtype, shape, data } in C order, data a typed array.
//
// Writer (`pickleDump`): protocol 2, byte for byte what CPython 3's pickle.dumps(obj, protocol=2)
// writes for the same objects (with numpy arrays as numpy 1.x/2.x reduce them), for dicts with
// string keys, lists, ints, floats, strings, bytes, booleans, None and NdArrays.

export type TypedData = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array |
  BigUint64Array | BigInt64Array | Float32Array | Float64Array;

/** A numpy array: C-order data, dtype by numpy's name ('uint8', 'float64', 'bool', ...). */
export class NdArray {
  constructor(public dtype: string, public shape: number[], public data: TypedData) {}
}

export type PyValue = null | boolean | number | bigint | string | Uint8Array | NdArray | PyValue[] | PyDict;
export type PyDict = Map<PyKey, PyValue>;
export type PyKey = string | number | bigint | boolean | null | PyValue[];

// ---------------------------------------------------------------- dtypes

interface DTypeInfo {
  kind: 'b' | 'i' | 'u' | 'f';
  size: number;
  name: string;
}

const DTYPES: Record<string, DTypeInfo> = {
  b1: { kind: 'b', size: 1, name: 'bool' },
  i1: { kind: 'i', size: 1, name: 'int8' }, u1: { kind: 'u', size: 1, name: 'uint8' },
  i2: { kind: 'i', size: 2, name: 'int16' }, u2: { kind: 'u', size: 2, name: 'uint16' },
  i4: { kind: 'i', size: 4, name: 'int32' }, u4: { kind: 'u', size: 4, name: 'uint32' },
  i8: { kind: 'i', size: 8, name: 'int64' }, u8: { kind: 'u', size: 8, name: 'uint64' },
  f4: { kind: 'f', size: 4, name: 'float32' }, f8: { kind: 'f', size: 8, name: 'float64' },
};
const BY_NAME: Record<string, string> = Object.fromEntries(Object.entries(DTYPES).map(([code, d]) => [d.name, code]));
// Single-character type codes (numpy's _reconstruct gets b'b', int8).
const TYPECODES: Record<string, string> = { '?': 'b1', b: 'i1', B: 'u1', h: 'i2', H: 'u2', i: 'i4', I: 'u4', l: 'i8', L: 'u8', q: 'i8', Q: 'u8', f: 'f4', d: 'f8' };

/** numpy.dtype(...) while being built. */
class DType {
  /** '<', '>', '|' or '=' */
  endian = '=';
  constructor(public code: string, public info: DTypeInfo) {}
}

/** A Python 2 `str`: raw bytes, read as latin-1 text unless numpy wants the bytes. */
class Py2Str {
  constructor(public bytes: Uint8Array) {}
}

/**
 * A long Python 3 str kept as its encoded bytes until needed: numpy's raw data in protocols 0-2
 * is such a str passed to _codecs.encode(s, 'latin1'), and going through a JS string is slow.
 */
class BigText {
  constructor(public bytes: Uint8Array, public rawEscape: boolean) {}
  text(): string { return this.rawEscape ? rawUnicodeEscape(this.bytes) : utf8.decode(this.bytes); }
  /** The latin-1 bytes of the text, or null if a character is above U+00FF (or the UTF-8 is bad). */
  latin1(): Uint8Array | null {
    const b = this.bytes;
    const out = new Uint8Array(b.length);
    let n = 0;
    for (let i = 0; i < b.length; i++) {
      const c = b[i];
      if (this.rawEscape) {
        if (c === 0x5c && (b[i + 1] === 0x75 || b[i + 1] === 0x55)) {
          const digits = b[i + 1] === 0x75 ? 4 : 8;
          let v = 0;
          for (let k = 0; k < digits; k++) { const h = HEX[b[i + 2 + k]] ?? -1; if (h < 0) { v = -1; break; } v = v * 16 + h; }
          if (v >= 0) { if (v > 0xff) return null; out[n++] = v; i += 1 + digits; continue; }
        }
        out[n++] = c;
      } else if (c < 0x80) out[n++] = c;
      else if ((c === 0xc2 || c === 0xc3) && (b[i + 1] & 0xc0) === 0x80) out[n++] = ((c & 0x03) << 6) | (b[++i] & 0x3f);
      else return null;
    }
    return out.subarray(0, n);
  }
}
const BIG_TEXT = 1 << 16;

/** A module attribute named by GLOBAL / STACK_GLOBAL (only the recognised ones are created). */
class PyGlobal {
  constructor(public module: string, public name: string) {}
  get full(): string { return `${this.module}.${this.name}`; }
}

const MARK = Symbol('MARK');
type Item = PyValue | DType | Py2Str | BigText | PyGlobal | typeof MARK;

// Which (module, name) pairs may appear, and what they are.
const NUMPY_CORE = ['numpy.core', 'numpy._core'];
function recognise(module: string, name: string): string | null {
  const core = NUMPY_CORE.find((c) => module === `${c}.multiarray` || module === `${c}.numeric`);
  if (core && module.endsWith('.multiarray') && (name === '_reconstruct' || name === 'scalar')) return name;
  if (core && module.endsWith('.numeric') && name === '_frombuffer') return name;
  if (module === 'numpy' && (name === 'ndarray' || name === 'dtype')) return name;
  if (module === '_codecs' && name === 'encode') return 'encode';
  if ((module === '__builtin__' || module === 'builtins') && (name === 'bytes' || name === 'bytearray')) return name;
  return null;
}

// ---------------------------------------------------------------- reader

const OPNAMES: Record<number, string> = {
  0x80: 'PROTO', 0x95: 'FRAME', 0x2e: 'STOP', 0x28: 'MARK', 0x7d: 'EMPTY_DICT', 0x64: 'DICT', 0x5d: 'EMPTY_LIST',
  0x6c: 'LIST', 0x61: 'APPEND', 0x65: 'APPENDS', 0x29: 'EMPTY_TUPLE', 0x74: 'TUPLE', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x73: 'SETITEM', 0x75: 'SETITEMS', 0x4a: 'BININT', 0x4b: 'BININT1', 0x4d: 'BININT2', 0x8a: 'LONG1',
  0x8b: 'LONG4', 0x47: 'BINFLOAT', 0x4e: 'NONE', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8c: 'SHORT_BINUNICODE',
  0x58: 'BINUNICODE', 0x8d: 'BINUNICODE8', 0x55: 'SHORT_BINSTRING', 0x54: 'BINSTRING', 0x43: 'SHORT_BINBYTES',
  0x42: 'BINBYTES', 0x8e: 'BINBYTES8', 0x96: 'BYTEARRAY8', 0x98: 'READONLY_BUFFER', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT',
  0x94: 'MEMOIZE', 0x68: 'BINGET', 0x6a: 'LONG_BINGET', 0x63: 'GLOBAL', 0x93: 'STACK_GLOBAL', 0x52: 'REDUCE',
  0x62: 'BUILD', 0x81: 'NEWOBJ', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x49: 'INT', 0x4c: 'LONG', 0x46: 'FLOAT',
  0x53: 'STRING', 0x56: 'UNICODE', 0x70: 'PUT', 0x67: 'GET',
};
// Known opcodes this reader refuses (not needed for data files, or would run code).
const REFUSED: Record<number, string> = {
  0x50: 'PERSID', 0x51: 'BINPERSID', 0x69: 'INST', 0x6f: 'OBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4',
  0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x97: 'NEXT_BUFFER',
};

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf16 = new TextDecoder('utf-16le');

// Python 2 string escapes: the byte each simple one stands for (0: not simple), and hex digits.
const ESCAPES = new Uint8Array(256);
for (const [e, v] of [['\\', 0x5c], ["'", 0x27], ['"', 0x22], ['n', 0x0a], ['r', 0x0d], ['t', 0x09], ['a', 0x07], ['b', 0x08], ['f', 0x0c], ['v', 0x0b]] as const) {
  ESCAPES[e.charCodeAt(0)] = v;
}
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) { HEX['0123456789abcdef'.charCodeAt(i)] = i; HEX['0123456789ABCDEF'.charCodeAt(i)] = i; }

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}

function toNumber(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Little-endian two's complement bytes (LONG1/LONG4). */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return toNumber(v);
}

/** Reads a pickle. `file` names it in every error. */
export function unpickle(bytes: Uint8Array, file = '<pickle>'): PyValue {
  return new Unpickler(bytes, file).load();
}

class Unpickler {
  private pos = 0;
  private stack: Item[] = [];
  private marks: number[] = [];
  private memo = new Map<number, Item>();
  private view: DataView;
  private op = 0;
  private opAt = 0;

  constructor(private bytes: Uint8Array, private file: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private fail(what: string): never {
    const op = OPNAMES[this.op] ?? `0x${this.op.toString(16)}`;
    throw new Error(`${this.file}: ${what} (pickle opcode ${op} at byte ${this.opAt})`);
  }

  private need(n: number): number {
    if (n > this.bytes.length - this.pos) {
      const op = OPNAMES[this.op] ?? `0x${this.op.toString(16)}`;
      throw new Error(`${this.file}: truncated pickle: ${op} at byte ${this.opAt} needs ${n} more bytes at byte ${this.pos}, ` +
        `but the file ends at byte ${this.bytes.length} (incomplete download or copy?)`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  private take(n: number): Uint8Array {
    const at = this.need(n);
    return this.bytes.subarray(at, at + n);
  }

  private u8(): number { return this.bytes[this.need(1)]; }
  private u16(): number { return this.view.getUint16(this.need(2), true); }
  private i32(): number { return this.view.getInt32(this.need(4), true); }
  private u32(): number { return this.view.getUint32(this.need(4), true); }
  private u64(): number {
    const v = this.view.getBigUint64(this.need(8), true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`length ${v} is out of range`);
    return Number(v);
  }

  /** A protocol-0 text argument: the bytes up to the next newline. */
  private line(): Uint8Array {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) {
      const op = OPNAMES[this.op] ?? `0x${this.op.toString(16)}`;
      throw new Error(`${this.file}: truncated pickle: ${op} at byte ${this.opAt} has no end of line before the end of the file at byte ${this.bytes.length}`);
    }
    const s = this.bytes.subarray(this.pos, end);
    this.pos = end + 1;
    return s;
  }

  private textLine(): string { return latin1(this.line()); }

  private intLine(what: string): number | bigint {
    const s = this.textLine().trim();
    const m = /^([+-]?\d+)L?$/.exec(s);
    if (!m) this.fail(`${what} ${JSON.stringify(s)} is not an integer`);
    return toNumber(BigInt(m[1]));
  }

  private push(v: Item): void { this.stack.push(v); }

  private pop(): Item {
    if (this.stack.length === 0 || (this.marks.length && this.stack.length <= this.marks[this.marks.length - 1])) this.fail('stack underflow (corrupt pickle)');
    return this.stack.pop() as Item;
  }

  private top(): Item {
    if (this.stack.length === 0) this.fail('stack underflow (corrupt pickle)');
    return this.stack[this.stack.length - 1];
  }

  private popMark(): Item[] {
    const at = this.marks.pop();
    if (at === undefined) this.fail('no MARK on the stack (corrupt pickle)');
    return this.stack.splice(at);
  }

  private memoGet(i: number): Item {
    if (!this.memo.has(i)) this.fail(`memo entry ${i} was never stored (corrupt pickle)`);
    return this.memo.get(i) as Item;
  }

  private memoPut(i: number): void {
    this.memo.set(i, this.top());
  }

  load(): PyValue {
    const b = this.bytes;
    if (b.length === 0) throw new Error(`${this.file}: empty file (not a pickle)`);
    for (;;) {
      if (this.pos >= b.length) {
        throw new Error(`${this.file}: truncated pickle: no STOP opcode before the end of the file at byte ${b.length} (incomplete download or copy?)`);
      }
      this.opAt = this.pos;
      const op = (this.op = b[this.pos++]);
      switch (op) {
        case 0x80: { // PROTO
          const p = this.u8();
          if (p > 5) this.fail(`pickle protocol ${p} is newer than 5`);
          break;
        }
        case 0x95: this.u64(); break; // FRAME: a length hint only
        case 0x2e: return finish(this.stack.length === 1 && !this.marks.length ? this.stack[0] : this.fail(`STOP with ${this.stack.length} items on the stack (corrupt pickle)`), this.file);
        case 0x28: this.marks.push(this.stack.length); break; // MARK
        case 0x30: this.pop(); break; // POP
        case 0x31: this.popMark(); break; // POP_MARK
        case 0x32: this.push(this.top()); break; // DUP
        case 0x7d: this.push(new Map()); break; // EMPTY_DICT
        case 0x64: { // DICT
          const items = this.popMark();
          if (items.length % 2) this.fail('DICT with an odd number of items (corrupt pickle)');
          const d: PyDict = new Map();
          for (let i = 0; i < items.length; i += 2) d.set(this.key(items[i]), this.value(items[i + 1]));
          this.push(d);
          break;
        }
        case 0x5d: this.push([]); break; // EMPTY_LIST
        case 0x6c: this.push(this.popMark().map((v) => this.value(v))); break; // LIST
        case 0x61: { // APPEND
          const v = this.pop();
          this.list(this.top()).push(this.value(v));
          break;
        }
        case 0x65: { // APPENDS
          const items = this.popMark();
          const l = this.list(this.top());
          for (const v of items) l.push(this.value(v));
          break;
        }
        case 0x29: this.push([]); break; // EMPTY_TUPLE
        case 0x74: this.push(this.popMark().map((v) => this.value(v))); break; // TUPLE
        case 0x85: case 0x86: case 0x87: { // TUPLE1..3
          const n = op - 0x84;
          if (this.stack.length - n < (this.marks.at(-1) ?? 0)) this.fail('stack underflow (corrupt pickle)');
          this.push(this.stack.splice(this.stack.length - n).map((v) => this.value(v)));
          break;
        }
        case 0x73: { // SETITEM
          const v = this.pop(), k = this.pop();
          this.dict(this.top()).set(this.key(k), this.value(v));
          break;
        }
        case 0x75: { // SETITEMS
          const items = this.popMark();
          if (items.length % 2) this.fail('SETITEMS with an odd number of items (corrupt pickle)');
          const d = this.dict(this.top());
          for (let i = 0; i < items.length; i += 2) d.set(this.key(items[i]), this.value(items[i + 1]));
          break;
        }
        case 0x4a: this.push(this.i32()); break; // BININT
        case 0x4b: this.push(this.u8()); break; // BININT1
        case 0x4d: this.push(this.u16()); break; // BININT2
        case 0x8a: this.push(decodeLong(this.take(this.u8()))); break; // LONG1
        case 0x8b: { // LONG4
          const n = this.i32();
          if (n < 0) this.fail(`negative length ${n}`);
          this.push(decodeLong(this.take(n)));
          break;
        }
        case 0x47: this.push(this.view.getFloat64(this.need(8), false)); break; // BINFLOAT (big-endian)
        case 0x4e: this.push(null); break; // NONE
        case 0x88: this.push(true); break; // NEWTRUE
        case 0x89: this.push(false); break; // NEWFALSE
        case 0x8c: this.push(this.text(this.take(this.u8()))); break; // SHORT_BINUNICODE
        case 0x58: this.push(this.text(this.take(this.u32()))); break; // BINUNICODE
        case 0x8d: this.push(this.text(this.take(this.u64()))); break; // BINUNICODE8
        case 0x55: this.push(new Py2Str(this.take(this.u8()))); break; // SHORT_BINSTRING
        case 0x54: { // BINSTRING
          const n = this.i32();
          if (n < 0) this.fail(`negative length ${n}`);
          this.push(new Py2Str(this.take(n)));
          break;
        }
        case 0x43: this.push(this.take(this.u8())); break; // SHORT_BINBYTES
        case 0x42: this.push(this.take(this.u32())); break; // BINBYTES
        case 0x8e: this.push(this.take(this.u64())); break; // BINBYTES8
        case 0x96: this.push(this.take(this.u64())); break; // BYTEARRAY8
        case 0x98: break; // READONLY_BUFFER: in-band buffers are already bytes
        case 0x71: this.memoPut(this.u8()); break; // BINPUT
        case 0x72: this.memoPut(this.u32()); break; // LONG_BINPUT
        case 0x94: this.memoPut(this.memo.size); break; // MEMOIZE
        case 0x68: this.push(this.memoGet(this.u8())); break; // BINGET
        case 0x6a: this.push(this.memoGet(this.u32())); break; // LONG_BINGET
        case 0x70: this.memoPut(Number(this.intLine('PUT index'))); break; // PUT
        case 0x67: this.push(this.memoGet(Number(this.intLine('GET index')))); break; // GET
        case 0x63: { // GLOBAL
          const module = this.textLine(), name = this.textLine();
          this.push(this.global(module, name));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = this.pop(), module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs two strings (corrupt pickle)');
          this.push(this.global(module, name));
          break;
        }
        case 0x52: case 0x81: { // REDUCE, NEWOBJ: f(*args) for the recognised callables only
          const args = this.pop(), f = this.pop();
          if (!Array.isArray(args)) this.fail('the arguments are not a tuple (corrupt pickle)');
          this.push(this.call(f, args));
          break;
        }
        case 0x62: { // BUILD
          const state = this.pop();
          this.build(this.top(), state);
          break;
        }
        case 0x49: { // INT (also protocol 0's booleans I00 / I01)
          const s = this.textLine().trim();
          if (s === '00' || s === '01') { this.push(s === '01'); break; }
          if (!/^[+-]?\d+$/.test(s)) this.fail(`INT ${JSON.stringify(s)} is not an integer`);
          this.push(toNumber(BigInt(s)));
          break;
        }
        case 0x4c: this.push(this.intLine('LONG')); break; // LONG
        case 0x46: { // FLOAT
          const s = this.textLine().trim();
          const v = s === 'inf' ? Infinity : s === '-inf' ? -Infinity : s === 'nan' ? NaN : Number(s);
          if (Number.isNaN(v) && s !== 'nan') this.fail(`FLOAT ${JSON.stringify(s)} is not a number`);
          this.push(v);
          break;
        }
        case 0x53: this.push(new Py2Str(this.stringLiteral(this.line()))); break; // STRING
        case 0x56: { // UNICODE
          const l = this.line();
          this.push(l.length > BIG_TEXT ? new BigText(l, true) : rawUnicodeEscape(l));
          break;
        }
        default:
          if (REFUSED[op]) this.fail(`${REFUSED[op]} is not supported by this reader (only dicts, lists, numbers, strings, bytes and numpy arrays)`);
          this.fail(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')} (not a pickle, or corrupt)`);
      }
    }
  }

  private text(b: Uint8Array): string | BigText {
    if (b.length > BIG_TEXT) return new BigText(b, false);
    try {
      return utf8.decode(b);
    } catch {
      return this.fail('string is not valid UTF-8 (corrupt pickle)');
    }
  }

  /** Protocol 0 STRING: a Python 2 repr, quoted, with backslash escapes. */
  private stringLiteral(s: Uint8Array): Uint8Array {
    let end = s.length;
    while (end > 0 && (s[end - 1] === 0x0d || s[end - 1] === 0x20)) end--;
    const q = s[0];
    if (end < 2 || (q !== 0x27 && q !== 0x22) || s[end - 1] !== q) this.fail('STRING argument is not a quoted string (corrupt pickle)');
    const last = end - 1; // the closing quote
    const out = new Uint8Array(last - 1);
    let n = 0;
    for (let i = 1; i < last; i++) {
      const c = s[i];
      if (c !== 0x5c) { out[n++] = c; continue; }
      if (++i >= last) this.fail('STRING ends with a lone backslash (corrupt pickle)');
      const e = s[i];
      const simple = ESCAPES[e];
      if (simple) out[n++] = simple;
      else if (e === 0x78) { // \xNN
        const hi = i + 2 < last ? HEX[s[i + 1]] : -1, lo = i + 2 < last ? HEX[s[i + 2]] : -1;
        if (hi < 0 || lo < 0) this.fail(`bad \\x escape in STRING at byte ${this.opAt + 1 + i}`);
        out[n++] = (hi << 4) | lo;
        i += 2;
      } else if (e >= 0x30 && e <= 0x37) { // octal, up to 3 digits
        let v = e - 0x30, k = 1;
        while (k < 3 && i + 1 < last && s[i + 1] >= 0x30 && s[i + 1] <= 0x37) { v = v * 8 + s[++i] - 0x30; k++; }
        out[n++] = v & 0xff;
      } else if (e !== 0x0a) { out[n++] = 0x5c; out[n++] = e; } // unknown escapes stay as written, as in Python; \<newline> is dropped
    }
    return n * 2 < out.length ? out.slice(0, n) : out.subarray(0, n); // do not keep a mostly empty buffer alive
  }

  private key(k: Item): PyKey {
    if (k instanceof Py2Str) return latin1(k.bytes); // dict keys are text at once (encoding='latin1')
    if (k instanceof BigText) return this.bigText(k);
    const v = this.value(k);
    if (v instanceof Map || v instanceof Uint8Array || v instanceof NdArray) this.fail('unhashable dict key');
    return v as PyKey;
  }

  /** What goes into a container: Python 2 strs stay raw until the end (numpy may want the bytes). */
  private value(v: Item): PyValue {
    if (v === MARK) this.fail('MARK used as a value (corrupt pickle)');
    return v as PyValue;
  }

  private bigText(t: BigText): string {
    try {
      return t.text();
    } catch {
      return this.fail('string is not valid UTF-8 (corrupt pickle)');
    }
  }

  private list(v: Item): PyValue[] {
    if (!Array.isArray(v)) this.fail('APPEND to something that is not a list (corrupt pickle)');
    return v;
  }

  private dict(v: Item): PyDict {
    if (!(v instanceof Map)) this.fail('SETITEM on something that is not a dict (corrupt pickle)');
    return v;
  }

  private global(module: string, name: string): PyGlobal {
    if (!recognise(module, name)) {
      this.fail(`the pickle refers to ${module}.${name}, which this reader does not load: it only reads numpy arrays, ` +
        'dicts, lists, numbers, strings and bytes, and never runs code named by a pickle');
    }
    return new PyGlobal(module, name);
  }

  private call(f: Item, args: Item[]): Item {
    if (!(f instanceof PyGlobal)) this.fail('REDUCE on something that is not a recognised global (corrupt pickle)');
    const what = recognise(f.module, f.name);
    switch (what) {
      case '_reconstruct': {
        // _reconstruct(ndarray, shape, typecode): an empty array that BUILD then fills.
        const [cls, , code] = args;
        if (!(cls instanceof PyGlobal && cls.name === 'ndarray')) this.fail(`${f.full} is only read for numpy.ndarray, not a subclass`);
        const c = TYPECODES[this.asText(code, 'typecode')] ?? 'i1';
        return new NdArray(DTYPES[c].name, [0], typed(DTYPES[c], new Uint8Array(0), '|'));
      }
      case 'dtype': {
        const code = this.asText(args[0], 'dtype');
        return this.dtype(code);
      }
      case 'scalar': {
        const [dt, raw] = args;
        if (!(dt instanceof DType)) this.fail(`${f.full} without a dtype`);
        const bytes = this.asBytes(raw, 'scalar data');
        if (bytes.length !== dt.info.size) this.fail(`numpy scalar of ${dt.info.name} has ${bytes.length} bytes, not ${dt.info.size}`);
        const v = typed(dt.info, bytes, dt.endian)[0];
        return dt.info.kind === 'b' ? v !== 0 : typeof v === 'bigint' ? toNumber(v) : v;
      }
      case '_frombuffer': {
        const [buf, dt, shape, order] = args;
        if (!(dt instanceof DType)) this.fail(`${f.full} without a dtype`);
        return this.array(dt, this.shape(shape), this.asBytes(buf, 'array data'), this.asText(order ?? 'C', 'order') === 'F');
      }
      case 'encode': {
        const [s, enc] = args;
        const e = this.asText(enc ?? 'utf-8', 'encoding').toLowerCase().replace('_', '-');
        if (e !== 'latin1' && e !== 'latin-1' && e !== 'iso-8859-1') this.fail(`_codecs.encode with encoding ${JSON.stringify(e)} (only latin1 is read)`);
        if (s instanceof BigText) return s.latin1() ?? this.fail('_codecs.encode: the text is not latin-1');
        if (typeof s !== 'string') this.fail('_codecs.encode of something that is not a string');
        const out = new Uint8Array(s.length);
        for (let i = 0; i < s.length; i++) {
          const c = s.charCodeAt(i);
          if (c > 255) this.fail(`_codecs.encode: character U+${c.toString(16)} is not latin-1`);
          out[i] = c;
        }
        return out;
      }
      case 'bytes': case 'bytearray': {
        if (args.length === 0) return new Uint8Array(0);
        const a = args[0];
        if (a instanceof Uint8Array) return a.slice();
        if (Array.isArray(a) && a.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < 256)) return Uint8Array.from(a as number[]);
        return this.fail(`${f.full} with arguments this reader does not handle`);
      }
      default:
        return this.fail(`${f.full} cannot be called here (corrupt pickle)`);
    }
  }

  private dtype(code: string): DType {
    let c = code;
    let endian = '=';
    if ('<>|='.includes(c[0])) { endian = c[0]; c = c.slice(1); }
    c = BY_NAME[c] ?? TYPECODES[c] ?? c;
    const info = DTYPES[c];
    if (!info) this.fail(`numpy dtype ${JSON.stringify(code)} is not supported (only bool, int8..int64, uint8..uint64, float32, float64)`);
    const d = new DType(c, info);
    d.endian = endian;
    return d;
  }

  private build(obj: Item, state: Item): void {
    if (obj instanceof DType) {
      // (version, endian, subarray, names, fields, elsize, alignment, flags[, metadata])
      if (!Array.isArray(state) || state.length < 8) this.fail('numpy dtype state is not the tuple numpy writes');
      const endian = state[1] instanceof Py2Str ? latin1(state[1].bytes) : state[1];
      if (typeof endian !== 'string' || !'<>|='.includes(endian)) this.fail(`numpy dtype byte order ${JSON.stringify(endian)}`);
      if (state[2] != null || state[3] != null) this.fail('structured or sub-array numpy dtypes are not supported');
      obj.endian = endian;
      return;
    }
    if (obj instanceof NdArray) {
      // (version, shape, dtype, is_fortran, data), or the 4-tuple without the version
      if (!Array.isArray(state) || (state.length !== 5 && state.length !== 4)) this.fail('numpy array state is not the tuple numpy writes');
      const s = state.length === 5 ? state.slice(1) : state;
      const [shape, dt, fortran, raw] = s as Item[];
      if (!(dt instanceof DType)) this.fail('numpy array state without a dtype');
      const shp = this.shape(shape);
      let a: NdArray;
      if (Array.isArray(raw)) {
        const n = shp.reduce((x, y) => x * y, 1);
        if (raw.length !== n) this.fail(`numpy array of shape [${shp}] has a list of ${raw.length} values`);
        const t = typed(dt.info, new Uint8Array(n * dt.info.size), '=');
        for (let i = 0; i < n; i++) {
          const v = raw[i];
          if (typeof v === 'bigint') (t as BigInt64Array)[i] = v;
          else if (typeof v === 'number' || typeof v === 'boolean') {
            if (t instanceof BigInt64Array || t instanceof BigUint64Array) t[i] = BigInt(v); else t[i] = Number(v);
          } else this.fail('numpy array list holds a value that is not a number');
        }
        a = new NdArray(dt.info.name, shp, fortran ? toCOrder(t, shp) : t);
      } else {
        a = this.array(dt, shp, this.asBytes(raw, 'array data'), fortran === true || fortran === 1);
      }
      obj.dtype = a.dtype;
      obj.shape = a.shape;
      obj.data = a.data;
      return;
    }
    this.fail('BUILD on an object this reader does not construct (only numpy arrays and dtypes)');
  }

  private array(dt: DType, shape: number[], bytes: Uint8Array, fortran: boolean): NdArray {
    const n = shape.reduce((x, y) => x * y, 1);
    if (bytes.length !== n * dt.info.size) {
      this.fail(`numpy array data has ${bytes.length} bytes, but shape [${shape}] of ${dt.info.name} needs ${n * dt.info.size}`);
    }
    const t = typed(dt.info, bytes, dt.endian);
    return new NdArray(dt.info.name, shape, fortran && shape.length > 1 ? toCOrder(t, shape) : t);
  }

  private shape(v: Item): number[] {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)) this.fail('numpy shape is not a tuple of sizes');
    return v as number[];
  }

  private asText(v: Item | undefined, what: string): string {
    if (typeof v === 'string') return v;
    if (v instanceof Py2Str) return latin1(v.bytes);
    if (v instanceof BigText) return this.bigText(v);
    if (v instanceof Uint8Array) return latin1(v);
    return this.fail(`${what} is not a string`);
  }

  private asBytes(v: Item, what: string): Uint8Array {
    if (v instanceof Uint8Array) return v;
    if (v instanceof Py2Str) return v.bytes;
    if (v instanceof BigText) return v.latin1() ?? this.fail(`${what} is text that is not latin-1`);
    if (typeof v === 'string') { // a Python 2 str read as text elsewhere: back to bytes, like numpy does
      const out = new Uint8Array(v.length);
      for (let i = 0; i < v.length; i++) out[i] = v.charCodeAt(i);
      return out;
    }
    return this.fail(`${what} is not bytes`);
  }
}

/** Protocol 0 UNICODE: raw-unicode-escape (\\uXXXX, \\UXXXXXXXX; other bytes are latin-1). */
function rawUnicodeEscape(b: Uint8Array): string {
  const units = new Uint16Array(b.length);
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === 0x5c && (b[i + 1] === 0x75 || b[i + 1] === 0x55)) {
      const digits = b[i + 1] === 0x75 ? 4 : 8;
      let v = 0, ok = i + 2 + digits <= b.length;
      for (let k = 0; ok && k < digits; k++) { const h = HEX[b[i + 2 + k]]; if (h < 0) ok = false; else v = v * 16 + h; }
      if (ok && v <= 0x10ffff) {
        if (v > 0xffff) { v -= 0x10000; units[n++] = 0xd800 + (v >> 10); units[n++] = 0xdc00 + (v & 0x3ff); } else units[n++] = v;
        i += 1 + digits;
        continue;
      }
    }
    units[n++] = c;
  }
  return utf16.decode(units.subarray(0, n));
}

/** Typed array over the bytes: a view when aligned and little-endian, else a copy. */
function typed(info: DTypeInfo, bytes: Uint8Array, endian: string): TypedData {
  const n = bytes.length / info.size;
  const swap = endian === '>' && info.size > 1;
  const ctor = typedCtor(info);
  if (info.size === 1) return info.kind === 'i' ? new Int8Array(bytes.buffer, bytes.byteOffset, n) : bytes;
  let src = bytes;
  if (swap || bytes.byteOffset % info.size !== 0) {
    src = bytes.slice();
    if (swap) for (let i = 0; i < src.length; i += info.size) src.subarray(i, i + info.size).reverse();
  }
  return new ctor(src.buffer, src.byteOffset, n);
}

type TypedCtor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => TypedData;
function typedCtor(info: DTypeInfo): TypedCtor {
  const table: Record<string, TypedCtor> = {
    i1: Int8Array, u1: Uint8Array, b1: Uint8Array, i2: Int16Array, u2: Uint16Array, i4: Int32Array, u4: Uint32Array,
    i8: BigInt64Array, u8: BigUint64Array, f4: Float32Array, f8: Float64Array,
  } as unknown as Record<string, TypedCtor>;
  return table[info.kind + info.size];
}

/** Column-major data to row-major. */
function toCOrder(t: TypedData, shape: number[]): TypedData {
  const n = t.length;
  const out = new (t.constructor as new (n: number) => TypedData)(n);
  const nd = shape.length;
  const fStride = new Array<number>(nd);
  let s = 1;
  for (let d = 0; d < nd; d++) { fStride[d] = s; s *= shape[d]; }
  const idx = new Array<number>(nd).fill(0);
  for (let c = 0; c < n; c++) {
    let f = 0;
    for (let d = 0; d < nd; d++) f += idx[d] * fStride[d];
    (out as unknown as number[])[c] = (t as unknown as number[])[f];
    for (let d = nd - 1; d >= 0; d--) { if (++idx[d] < shape[d]) break; idx[d] = 0; }
  }
  return out;
}

/** The finished value: Python 2 strs become latin-1 text, internal objects their plain form. */
function finish(v: Item, file: string): PyValue {
  const seen = new Set<object>();
  const conv = (x: Item): PyValue => {
    if (x instanceof Py2Str) return latin1(x.bytes);
    if (x instanceof BigText) {
      try {
        return x.text();
      } catch {
        throw new Error(`${file}: a string is not valid UTF-8 (corrupt pickle)`);
      }
    }
    if (x instanceof DType) return x.info.name;
    if (x instanceof PyGlobal) throw new Error(`${file}: the pickle holds ${x.full} itself, not data`);
    if (Array.isArray(x)) {
      if (!seen.has(x)) { seen.add(x); for (let i = 0; i < x.length; i++) x[i] = conv(x[i]); }
      return x;
    }
    if (x instanceof Map) {
      if (!seen.has(x)) {
        seen.add(x);
        for (const [k, val] of x) x.set(k, conv(val));
      }
      return x;
    }
    return x as PyValue;
  };
  return conv(v);
}

// ---------------------------------------------------------------- writer

/** Forces a JS number to be written as a Python float. */
export class PyFloat {
  constructor(public value: number) {}
}

export type DumpValue = null | boolean | number | bigint | string | Uint8Array | NdArray | PyFloat | DumpValue[] |
  Map<string, DumpValue> | { [key: string]: DumpValue };

export interface DumpOptions {
  /** numpy's core package name in the pickle: numpy 1.x writes 'numpy.core' (the default), numpy 2 'numpy._core'. */
  numpyCore?: 'numpy.core' | 'numpy._core';
}

class Out {
  buf = new Uint8Array(1 << 16);
  n = 0;
  reserve(k: number): void {
    if (this.n + k <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.n + k) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.n));
    this.buf = b;
  }
  byte(...v: number[]): void { this.reserve(v.length); for (const x of v) this.buf[this.n++] = x; }
  u16(v: number): void { this.byte(v & 0xff, (v >>> 8) & 0xff); }
  u32(v: number): void { this.byte(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff); }
  bytes(b: Uint8Array): void { this.reserve(b.length); this.buf.set(b, this.n); this.n += b.length; }
  ascii(s: string): void { this.reserve(s.length); for (let i = 0; i < s.length; i++) this.buf[this.n++] = s.charCodeAt(i); }
}

const DTYPE_CODE: Record<string, string> = Object.fromEntries(Object.entries(DTYPES).map(([c, d]) => [d.name, c]));

/**
 * Protocol 2 pickle bytes, as CPython 3 + numpy write them. Integers are JS integers (or bigint),
 * other numbers floats (PyFloat forces a float); arrays are lists; Maps and plain objects dicts.
 */
export function pickleDump(value: DumpValue, opts: DumpOptions = {}): Uint8Array {
  const core = opts.numpyCore ?? 'numpy.core';
  const out = new Out();
  // Memo by identity, as CPython's: objects, plus keys for the values that are shared there
  // (a string's value; numpy's constant b'b' and dtype singletons; the 'latin1' constant).
  const memo = new Map<unknown, number>();
  const put = (key: unknown) => {
    const i = memo.size;
    memo.set(key, i);
    if (i < 256) out.byte(0x71, i); else { out.byte(0x72); out.u32(i); }
  };
  const get = (key: unknown): boolean => {
    const i = memo.get(key);
    if (i === undefined) return false;
    if (i < 256) out.byte(0x68, i); else { out.byte(0x6a); out.u32(i); }
    return true;
  };
  const str = (s: string, key: unknown = `s:${s}`) => {
    if (get(key)) return;
    const b = new TextEncoder().encode(s);
    out.byte(0x58); out.u32(b.length); out.bytes(b);
    put(key);
  };
  const global = (module: string, name: string) => {
    const key = `g:${module}\n${name}`;
    if (get(key)) return;
    out.byte(0x63); out.ascii(`${module}\n${name}\n`);
    put(key);
  };
  const int = (v: number | bigint) => {
    if (typeof v === 'number' && v >= 0 && v < 256) out.byte(0x4b, v);
    else if (typeof v === 'number' && v >= 0 && v < 65536) { out.byte(0x4d); out.u16(v); }
    else if (typeof v === 'number' && v >= -(2 ** 31) && v < 2 ** 31) { out.byte(0x4a); out.u32(v >>> 0); }
    else {
      const b = encodeLong(BigInt(v));
      if (b.length < 256) out.byte(0x8a, b.length); else { out.byte(0x8b); out.u32(b.length); }
      out.bytes(b);
    }
  };
  const float = (v: number) => {
    out.byte(0x47);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, false);
    out.bytes(b);
  };
  // A tuple: items written by `items`, memoized unless empty.
  const tuple = (n: number, items: () => void) => {
    if (n === 0) { out.byte(0x29); return; }
    if (n > 3) out.byte(0x28);
    items();
    out.byte(n > 3 ? 0x74 : 0x84 + n);
    put({});
  };
  // bytes in protocol 2: _codecs.encode(latin-1 text, 'latin1'), or bytes() when empty.
  const bytes = (b: Uint8Array, key: unknown = b) => {
    if (get(key)) return;
    if (b.length === 0) {
      global('__builtin__', 'bytes');
      tuple(0, () => {});
    } else {
      global('_codecs', 'encode');
      tuple(2, () => {
        // The text is a new object each time: not looked up in the memo, but stored in it.
        let len = 0;
        for (let i = 0; i < b.length; i++) len += b[i] < 0x80 ? 1 : 2;
        out.byte(0x58); out.u32(len);
        out.reserve(len);
        const buf = out.buf;
        let n = out.n;
        for (let i = 0; i < b.length; i++) {
          const c = b[i];
          if (c < 0x80) buf[n++] = c; else { buf[n++] = 0xc0 | (c >> 6); buf[n++] = 0x80 | (c & 0x3f); }
        }
        out.n = n;
        put({});
        str('latin1', 'latin1-constant');
      });
    }
    out.byte(0x52);
    put(key);
  };
  const dtype = (name: string) => {
    const code = DTYPE_CODE[name];
    if (!code) throw new Error(`pickleDump: numpy dtype ${name} is not supported`);
    const key = `dtype:${name}`;
    if (get(key)) return;
    global('numpy', 'dtype');
    tuple(3, () => { str(code, {}); out.byte(0x89, 0x88); });
    out.byte(0x52);
    put(key);
    const endian = DTYPES[code].size === 1 ? '|' : '<';
    tuple(8, () => { int(3); str(endian, `endian:${endian}`); out.byte(0x4e, 0x4e, 0x4e); int(-1); int(-1); int(0); });
    out.byte(0x62);
  };
  const ndarray = (a: NdArray) => {
    if (get(a)) return;
    global(`${core}.multiarray`, '_reconstruct');
    tuple(3, () => {
      global('numpy', 'ndarray');
      tuple(1, () => int(0));
      bytes(new Uint8Array([0x62]), 'numpy-b-constant');
    });
    out.byte(0x52);
    put(a);
    const n = a.shape.reduce((x, y) => x * y, 1);
    if (a.data.length !== n) throw new Error(`pickleDump: array of shape [${a.shape}] has ${a.data.length} values`);
    tuple(5, () => {
      int(1);
      tuple(a.shape.length, () => a.shape.forEach((d) => int(d)));
      dtype(a.dtype);
      out.byte(0x89);
      bytes(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength), {});
    });
    out.byte(0x62);
  };
  const save = (v: DumpValue): void => {
    if (v === null) out.byte(0x4e);
    else if (v === true) out.byte(0x88);
    else if (v === false) out.byte(0x89);
    else if (typeof v === 'number') { if (Number.isInteger(v)) int(v); else float(v); }
    else if (typeof v === 'bigint') int(v);
    else if (v instanceof PyFloat) float(v.value);
    else if (typeof v === 'string') str(v);
    else if (v instanceof Uint8Array) bytes(v);
    else if (v instanceof NdArray) ndarray(v);
    else if (Array.isArray(v)) {
      if (get(v)) return;
      out.byte(0x5d);
      put(v);
      batched(v.length, (i) => save(v[i]), 0x61, 0x65);
    } else {
      if (get(v)) return;
      const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
      out.byte(0x7d);
      put(v);
      batched(entries.length, (i) => { save(entries[i][0]); save(entries[i][1]); }, 0x73, 0x75);
    }
  };
  // CPython writes list and dict items in batches of 1000: one item alone, more between MARK and APPENDS/SETITEMS.
  const batched = (n: number, item: (i: number) => void, one: number, many: number) => {
    for (let at = 0; at < n; at += 1000) {
      const k = Math.min(1000, n - at);
      if (k > 1) out.byte(0x28);
      for (let i = at; i < at + k; i++) item(i);
      out.byte(k > 1 ? many : one);
    }
  };
  out.byte(0x80, 2);
  save(value);
  out.byte(0x2e);
  return out.buf.slice(0, out.n);
}

/** Python's pickle.encode_long: minimal little-endian two's complement. */
function encodeLong(x: bigint): Uint8Array {
  if (x === 0n) return new Uint8Array(0);
  let n = ((x < 0n ? -x : x).toString(2).length >> 3) + 1; // (x.bit_length() >> 3) + 1
  const out: number[] = [];
  let v = x < 0n ? (1n << BigInt(8 * n)) + x : x;
  for (let i = 0; i < n; i++) { out.push(Number(v & 0xffn)); v >>= 8n; }
  if (x < 0n && n > 1 && out[n - 1] === 0xff && (out[n - 2] & 0x80) !== 0) { out.pop(); n--; }
  return Uint8Array.from(out);
}
