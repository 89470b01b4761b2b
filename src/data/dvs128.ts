// DVS128 Gesture (Amir et al., CVPR 2017): 11 hand gestures by 29 subjects under several
// lightings, recorded with a 128x128 DVS in AEDAT 3.1 files, one per subject and lighting
// (userNN_<lighting>.aedat), each with userNN_<lighting>_labels.csv giving the gestures'
// class (1..11) and start/end timestamps (us). trials_to_train.txt / trials_to_test.txt list
// the files of each part. A sample is one labelled segment, binned into frames (events.ts).
//
// AEDAT 3.1 (iniVation's format spec): '#' header lines ending with "#!END-HEADER", then packets.
// A packet: a 28-byte little-endian header
//   int16 eventType, int16 eventSource, int32 eventSize, int32 eventTSOffset,
//   int32 eventTSOverflow, int32 eventCapacity, int32 eventNumber, int32 eventValid
// then eventCapacity * eventSize bytes of events (as the dataset's reference readers step).
// Polarity events (type 1) are 8 bytes: uint32 data (bit 0 valid, bit 1 polarity, bits 2-16 y,
// bits 17-31 x), int32 timestamp; the full time is eventTSOverflow * 2^31 + timestamp.
// Other event types are skipped, as are events whose valid bit is 0.

import { emptyStream, sliceStream, lowerBound, binEvents, checkBinning, readHeaderLines, FrameCollector, type EventStream, type BinningOptions, type EventFrameDataset, type SensorSize } from './events.js';

export const DVS128_SENSOR: SensorSize = { height: 128, width: 128 };
export const DVS_GESTURE_CLASSES = 11;
/** The dataset's class names, labels 1..11 in order (from its README). */
export const DVS_GESTURE_CLASS_NAMES = [
  'hand_clapping', 'right_hand_wave', 'left_hand_wave', 'right_arm_clockwise', 'right_arm_counter_clockwise',
  'left_arm_clockwise', 'left_arm_counter_clockwise', 'arm_roll', 'air_drums', 'air_guitar', 'other_gestures',
];

const PACKET_HEADER_BYTES = 28;
const POLARITY_EVENT = 1;
const POLARITY_EVENT_BYTES = 8;
const AEDAT3_MAGIC = '#!AER-DAT3';
const END_HEADER = '#!END-HEADER';

/** Parses an AEDAT 3.x file's polarity events; errors name the file and the byte offset. */
export function parseAedat31(bytes: Uint8Array, file: string): EventStream {
  const { lines, dataStart } = readHeaderLines(bytes, file, END_HEADER);
  if (!lines[0]?.startsWith(AEDAT3_MAGIC)) {
    throw new Error(`${file}: not an AEDAT 3.x file (first line '${lines[0] ?? ''}', expected '${AEDAT3_MAGIC}.1')`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // First pass: count the events, checking every packet's bounds.
  type Packet = { body: number; number: number; overflow: number };
  const packets: Packet[] = [];
  let total = 0;
  for (let at = dataStart; at < bytes.length; ) {
    if (bytes.length - at < PACKET_HEADER_BYTES) {
      throw new Error(`${file}: packet at byte ${at}: header truncated (${bytes.length - at} bytes left, ${PACKET_HEADER_BYTES} needed)`);
    }
    const type = view.getInt16(at, true);
    const size = view.getInt32(at + 4, true);
    const overflow = view.getInt32(at + 12, true);
    const capacity = view.getInt32(at + 16, true);
    const number = view.getInt32(at + 20, true);
    if (size < 1 || capacity < 0 || number < 0 || number > capacity) {
      throw new Error(`${file}: packet at byte ${at}: corrupt header (eventSize ${size}, eventCapacity ${capacity}, eventNumber ${number})`);
    }
    const body = at + PACKET_HEADER_BYTES;
    const length = capacity * size;
    if (bytes.length - body < length) {
      throw new Error(`${file}: packet at byte ${at}: ${capacity} events of ${size} bytes need ${length} bytes, only ${bytes.length - body} remain (truncated file)`);
    }
    if (type === POLARITY_EVENT) {
      if (size !== POLARITY_EVENT_BYTES) throw new Error(`${file}: packet at byte ${at}: polarity events of ${size} bytes (expected ${POLARITY_EVENT_BYTES})`);
      packets.push({ body, number, overflow });
      total += number;
    }
    at = body + length;
  }
  const e = emptyStream(total);
  let k = 0;
  for (const { body, number, overflow } of packets) {
    for (let i = 0; i < number; i++) {
      const at = body + i * POLARITY_EVENT_BYTES;
      const data = view.getUint32(at, true);
      if ((data & 1) === 0) continue; // invalid (filtered) event
      e.x[k] = (data >>> 17) & 0x7fff;
      e.y[k] = (data >>> 2) & 0x7fff;
      e.p[k] = (data >>> 1) & 1;
      e.t[k] = overflow * 2 ** 31 + view.getInt32(at + 4, true);
      k++;
    }
  }
  return sliceStream(e, 0, k);
}

/** Writes polarity events as AEDAT 3.1 (tests make their own files): packets of at most `packetSize` events. */
export function encodeAedat31(e: EventStream, opts: { packetSize?: number; valid?: Uint8Array; extraPacket?: boolean } = {}): Uint8Array {
  const n = e.t.length, per = opts.packetSize ?? 1000;
  const header = `${AEDAT3_MAGIC}.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#Start-Time: 2017-01-01 00:00:00 (TZ+0000)\r\n${END_HEADER}\r\n`;
  const parts: Uint8Array[] = [new TextEncoder().encode(header)];
  const packet = (type: number, size: number, overflow: number, count: number, fill: (v: DataView, at: number, i: number) => void) => {
    const buf = new Uint8Array(PACKET_HEADER_BYTES + count * size);
    const v = new DataView(buf.buffer);
    v.setInt16(0, type, true);
    v.setInt16(2, 1, true);
    v.setInt32(4, size, true);
    v.setInt32(8, 4, true);
    v.setInt32(12, overflow, true);
    v.setInt32(16, count, true);
    v.setInt32(20, count, true);
    v.setInt32(24, count, true);
    for (let i = 0; i < count; i++) fill(v, PACKET_HEADER_BYTES + i * size, i);
    parts.push(buf);
  };
  // A special-event packet (type 0, 8-byte events) first, which readers skip.
  if (opts.extraPacket) packet(0, 8, 0, 2, (v, at, i) => { v.setUint32(at, 1 + (i << 1), true); v.setInt32(at + 4, i, true); });
  for (let from = 0; from < n; ) {
    const overflow = Math.floor(e.t[from] / 2 ** 31);
    let to = from;
    while (to < n && to - from < per && Math.floor(e.t[to] / 2 ** 31) === overflow) to++;
    packet(POLARITY_EVENT, POLARITY_EVENT_BYTES, overflow, to - from, (v, at, i) => {
      const j = from + i;
      const valid = opts.valid ? opts.valid[j] : 1;
      v.setUint32(at, ((e.x[j] << 17) | (e.y[j] << 2) | (e.p[j] << 1) | valid) >>> 0, true);
      v.setInt32(at + 4, e.t[j] - overflow * 2 ** 31, true);
    });
    from = to;
  }
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface GestureSegment {
  /** 0-based class (the file's 1..11 minus 1). */
  label: number;
  start: number;
  end: number;
}

/** Parses a *_labels.csv: a header line "class,startTime_usec,endTime_usec", then one segment per line. */
export function parseGestureLabels(text: string, file: string): GestureSegment[] {
  const rows = text.split(/\r?\n/).map((l) => l.trim());
  const out: GestureSegment[] = [];
  rows.forEach((line, i) => {
    if (!line || (i === 0 && /^class/i.test(line))) return;
    const cells = line.split(',').map((c) => c.trim());
    const [c, s, e] = cells.map(Number);
    if (cells.length !== 3 || !Number.isInteger(c) || !Number.isFinite(s) || !Number.isFinite(e)) {
      throw new Error(`${file}: line ${i + 1} '${line}' is not 'class,startTime_usec,endTime_usec'`);
    }
    if (c < 1 || c > DVS_GESTURE_CLASSES) throw new Error(`${file}: line ${i + 1}: class ${c} outside 1..${DVS_GESTURE_CLASSES}`);
    if (!(e > s)) throw new Error(`${file}: line ${i + 1}: end ${e} is not after start ${s}`);
    out.push({ label: c - 1, start: s, end: e });
  });
  return out;
}

export function encodeGestureLabels(segments: readonly GestureSegment[]): string {
  return ['class,startTime_usec,endTime_usec', ...segments.map((s) => `${s.label + 1},${s.start},${s.end}`)].join('\n') + '\n';
}

/** The events with start <= t < end, in file order (a binary search when the times are sorted, as they are in the dataset). */
function window(e: EventStream, sorted: boolean, start: number, end: number): EventStream {
  if (sorted) return sliceStream(e, lowerBound(e.t, start), lowerBound(e.t, end));
  const keep = Array.from(e.t.keys()).filter((i) => e.t[i] >= start && e.t[i] < end);
  return { x: Uint16Array.from(keep, (i) => e.x[i]), y: Uint16Array.from(keep, (i) => e.y[i]), t: Float64Array.from(keep, (i) => e.t[i]), p: Uint8Array.from(keep, (i) => e.p[i]) };
}

/** Bins each labelled segment of one recording (events with start <= t < end; by time over that window). */
export function gestureSamples(e: EventStream, segments: readonly GestureSegment[], o: BinningOptions, into: FrameCollector): void {
  let sorted = true;
  for (let i = 1; i < e.t.length && sorted; i++) sorted = e.t[i] >= e.t[i - 1];
  for (const s of segments) {
    const part = window(e, sorted, s.start, s.end);
    into.add(binEvents(part, DVS128_SENSOR, o, { start: s.start, end: s.end }), s.label);
  }
}

/**
 * DVS128 Gesture from its folder (DvsGesture/, or its parent): the recordings listed in
 * trials_to_<part>.txt, each with its labels file, binned into frames.
 */
export async function loadDvsGesture(dir: string, part: 'train' | 'test', o: BinningOptions): Promise<EventFrameDataset> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    throw new Error(`dvs128: data folder ${dir} cannot be read`);
  }
  if (names.includes('DvsGesture')) return loadDvsGesture(path.join(dir, 'DvsGesture'), part, o);
  const list = `trials_to_${part}.txt`;
  if (!names.includes(list)) throw new Error(`dvs128 ${part}: ${dir} has no ${list} (the DvsGesture folder of the dataset; see docs/DATA.md)`);
  const files = (await fs.readFile(path.join(dir, list), 'utf8')).split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const { T, H, W } = checkBinning(o, DVS128_SENSOR);
  const frames = new FrameCollector(T, H, W);
  for (const f of files) {
    const aedat = path.join(dir, f);
    const csv = aedat.replace(/\.aedat$/, '_labels.csv');
    let bytes: Uint8Array, labels: string;
    try {
      [bytes, labels] = await Promise.all([fs.readFile(aedat).then((b) => new Uint8Array(b)), fs.readFile(csv, 'utf8')]);
    } catch (err) {
      throw new Error(`dvs128 ${part}: ${list} names ${f}, but ${(err as NodeJS.ErrnoException).path ?? f} cannot be read`);
    }
    gestureSamples(parseAedat31(bytes, aedat), parseGestureLabels(labels, csv), o, frames);
  }
  return frames.dataset(`dvs128-${part}`, DVS_GESTURE_CLASSES, o.mode, DVS_GESTURE_CLASS_NAMES);
}
