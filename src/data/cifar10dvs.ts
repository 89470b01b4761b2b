// CIFAR10-DVS (Li et al., Frontiers in Neuroscience 2017): 10 000 CIFAR-10 images shown on a
// monitor to a moving 128x128 DVS, 1000 per class, in the original release's jAER AEDAT 2.0
// files <class>/cifar10_<class>_<k>.aedat (k = 0..999). The newer numpy (.npz) re-release is
// not read here.
//
// AEDAT 2.0 (jAER): '#' header lines (the first "#!AER-DAT2.0"), then 8-byte events of a
// big-endian uint32 address and a big-endian uint32 timestamp (us). DVS128 addresses: bit 0
// polarity, bits 1-7 x, bits 8-14 y; bit 15 marks an external (special) event, skipped.
// Orientation and polarity follow spikingjelly's current reader: x = 127 - y_raw,
// y = 127 - x_raw, ON = bit 0 clear (readers differ on the flips; a network trained from
// scratch only needs them consistent). There is no official train/test split: the usual one
// (and ours) puts the first 900 recordings of each class (by k) in train, the rest in test.

import { emptyStream, sliceStream, binEvents, checkBinning, readHeaderLines, FrameCollector, type EventStream, type BinningOptions, type EventFrameDataset, type SensorSize } from './events.js';

export const CIFAR10DVS_SENSOR: SensorSize = { height: 128, width: 128 };
export const CIFAR10DVS_CLASS_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
/** Recordings per class in train (the common 9:1 split, e.g. spikingjelly's examples). */
export const CIFAR10DVS_TRAIN_PER_CLASS = 900;

const EVENT_BYTES = 8;
const AEDAT2_MAGIC = '#!AER-DAT2';
const SPECIAL_EVENT_BIT = 0x8000;
const SENSOR_MAX = 127;

/** Parses an AEDAT 2.0 DVS128 file; errors name the file and the byte offset. */
export function parseAedat2(bytes: Uint8Array, file: string): EventStream {
  const { lines, dataStart } = readHeaderLines(bytes, file);
  if (!lines[0]?.startsWith(AEDAT2_MAGIC)) {
    throw new Error(`${file}: not an AEDAT 2.0 file (first line '${lines[0] ?? '(no header)'}', expected '${AEDAT2_MAGIC}.0')`);
  }
  const length = bytes.length - dataStart;
  if (length % EVENT_BYTES !== 0) {
    const whole = Math.floor(length / EVENT_BYTES);
    throw new Error(`${file}: ${length} bytes of events after the header (at byte ${dataStart}) is not a whole number of ${EVENT_BYTES}-byte events: ` +
      `the event at byte ${dataStart + whole * EVENT_BYTES} is cut short (truncated file)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = length / EVENT_BYTES;
  const e = emptyStream(n);
  let k = 0, wraps = 0, last = -1;
  for (let i = 0; i < n; i++) {
    const at = dataStart + i * EVENT_BYTES;
    const addr = view.getUint32(at, false);
    const ts = view.getUint32(at + 4, false);
    if (addr > 0xffff) throw new Error(`${file}: event at byte ${at} has address 0x${addr.toString(16)}, not a DVS128 address (corrupt file or another camera)`);
    // 32-bit microseconds wrap after 71 minutes: a large step back is a wrap.
    if (last >= 0 && ts + 2 ** 31 < last) wraps++;
    last = ts;
    if (addr & SPECIAL_EVENT_BIT) continue;
    const xRaw = (addr >>> 1) & 0x7f, yRaw = (addr >>> 8) & 0x7f;
    e.x[k] = SENSOR_MAX - yRaw;
    e.y[k] = SENSOR_MAX - xRaw;
    e.p[k] = 1 - (addr & 1);
    e.t[k] = wraps * 2 ** 32 + ts;
    k++;
  }
  return sliceStream(e, 0, k);
}

/** Writes events as AEDAT 2.0 (tests make their own files); the inverse of parseAedat2's mapping. */
export function encodeAedat2(e: EventStream, special: number[] = []): Uint8Array {
  const header = new TextEncoder().encode(`${AEDAT2_MAGIC}.0\r\n# This is a raw AE data file - do not edit\r\n# Data format is int32 address, int32 timestamp (8 bytes total), repeated for each event\r\n`);
  const n = e.t.length + special.length;
  const out = new Uint8Array(header.length + n * EVENT_BYTES);
  out.set(header);
  const v = new DataView(out.buffer);
  let at = header.length;
  for (let i = 0; i < e.t.length; i++) {
    // Special events go before event `index`, with that event's time.
    for (const s of special) if (s === i) {
      v.setUint32(at, SPECIAL_EVENT_BIT, false);
      v.setUint32(at + 4, e.t[i] % 2 ** 32, false);
      at += EVENT_BYTES;
    }
    const xRaw = SENSOR_MAX - e.y[i], yRaw = SENSOR_MAX - e.x[i];
    v.setUint32(at, (yRaw << 8) | (xRaw << 1) | (1 - e.p[i]), false);
    v.setUint32(at + 4, e.t[i] % 2 ** 32, false);
    at += EVENT_BYTES;
  }
  return out;
}

/**
 * CIFAR10-DVS from its folder (the one holding airplane/ .. truck/), binned into frames: a
 * sample is a whole recording (by time: from its first event to its last).
 */
export async function loadCifar10Dvs(dir: string, part: 'train' | 'test', o: BinningOptions, trainPerClass = CIFAR10DVS_TRAIN_PER_CLASS): Promise<EventFrameDataset> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    throw new Error(`cifar10dvs: data folder ${dir} cannot be read`);
  }
  const missing = CIFAR10DVS_CLASS_NAMES.filter((c) => !names.includes(c));
  if (missing.length) throw new Error(`cifar10dvs: ${dir} has no class folder ${missing.join(', ')} (the original .aedat release: airplane/ .. truck/; see docs/DATA.md)`);
  const { T, H, W } = checkBinning(o, CIFAR10DVS_SENSOR);
  const frames = new FrameCollector(T, H, W);
  for (const [label, cls] of CIFAR10DVS_CLASS_NAMES.entries()) {
    const folder = path.join(dir, cls);
    const index = (f: string) => Number(/_(\d+)\.aedat$/.exec(f)?.[1] ?? NaN);
    const files = (await fs.readdir(folder)).filter((f) => f.endsWith('.aedat') && Number.isInteger(index(f))).sort((a, b) => index(a) - index(b));
    if (files.length === 0) throw new Error(`cifar10dvs: ${folder} holds no cifar10_${cls}_<k>.aedat files`);
    const chosen = part === 'train' ? files.slice(0, trainPerClass) : files.slice(trainPerClass);
    for (const f of chosen) {
      const file = path.join(folder, f);
      const e = parseAedat2(new Uint8Array(await fs.readFile(file)), file);
      frames.add(binEvents(e, CIFAR10DVS_SENSOR, o), label);
    }
  }
  return frames.dataset(`cifar10dvs-${part}`, CIFAR10DVS_CLASS_NAMES.length, o.mode, CIFAR10DVS_CLASS_NAMES);
}
