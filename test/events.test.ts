import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rng, freshSeed } from './util.js';
import { binEvents, emptyStream, FrameCollector, type EventStream } from '../src/data/events.js';
import {
  parseAedat31, encodeAedat31, parseGestureLabels, encodeGestureLabels, loadDvsGesture, gestureSamples, DVS128_SENSOR, type GestureSegment,
} from '../src/data/dvs128.js';
import { parseAedat2, encodeAedat2, loadCifar10Dvs, CIFAR10DVS_CLASS_NAMES } from '../src/data/cifar10dvs.js';

const SENSOR = DVS128_SENSOR;

/** Events sorted by time: random positions, polarities, and gaps of 0..maxGap us. */
function randomStream(next: () => number, n: number, t0 = 0, maxGap = 50): EventStream {
  const e = emptyStream(n);
  let t = t0;
  for (let i = 0; i < n; i++) {
    t += Math.floor(next() * maxGap);
    e.x[i] = Math.floor(next() * 128);
    e.y[i] = Math.floor(next() * 128);
    e.p[i] = next() < 0.5 ? 1 : 0;
    e.t[i] = t;
  }
  return e;
}

function stream(events: [number, number, number, number][]): EventStream {
  const e = emptyStream(events.length);
  events.forEach(([x, y, t, p], i) => { e.x[i] = x; e.y[i] = y; e.t[i] = t; e.p[i] = p; });
  return e;
}

const sameStream = (a: EventStream, b: EventStream) => {
  expect(Array.from(a.x)).toEqual(Array.from(b.x));
  expect(Array.from(a.y)).toEqual(Array.from(b.y));
  expect(Array.from(a.t)).toEqual(Array.from(b.t));
  expect(Array.from(a.p)).toEqual(Array.from(b.p));
};

/** Frame value at frame k, polarity p, (y, x) of a [T, 2, H, W] array. */
const at = (f: ArrayLike<number>, H: number, W: number, k: number, p: number, y: number, x: number) => f[((k * 2 + p) * H + y) * W + x];

describe('binning events into frames', () => {
  it('by equal event count: frame k holds events floor(k n / T) .. floor((k+1) n / T) - 1', () => {
    // 7 events into 3 frames: sizes 2, 2, 3 (cuts at floor(7/3) = 2 and floor(14/3) = 4).
    const e = stream([[0, 0, 0, 1], [1, 0, 1, 0], [2, 0, 2, 1], [2, 0, 3, 1], [3, 3, 100, 0], [3, 3, 101, 0], [5, 6, 102, 1]]);
    const f = binEvents(e, SENSOR, { frames: 3, mode: 'count' });
    expect(f.length).toBe(3 * 2 * 128 * 128);
    expect(f.reduce((a, v) => a + v, 0)).toBe(7);
    expect(at(f, 128, 128, 0, 1, 0, 0)).toBe(1);
    expect(at(f, 128, 128, 0, 0, 0, 1)).toBe(1);
    expect(at(f, 128, 128, 1, 1, 0, 2)).toBe(2);
    expect(at(f, 128, 128, 2, 0, 3, 3)).toBe(2);
    expect(at(f, 128, 128, 2, 1, 6, 5)).toBe(1);
    // Sizes per frame for awkward counts, against the formula.
    for (const [n, T] of [[10, 4], [3, 5], [101, 7]]) {
      const s = stream(Array.from({ length: n }, (_, i) => [0, 0, i, 0] as [number, number, number, number]));
      const g = binEvents(s, SENSOR, { frames: T, mode: 'count' });
      const sizes = Array.from({ length: T }, (_, k) => at(g, 128, 128, k, 0, 0, 0));
      expect(sizes).toEqual(Array.from({ length: T }, (_, k) => Math.floor(((k + 1) * n) / T) - Math.floor((k * n) / T)));
    }
  });

  it('by equal time over a window: frame floor((t - start) T / (end - start)); outside the window dropped', () => {
    const e = stream([[0, 0, 5, 1], [0, 0, 10, 1], [0, 0, 19, 0], [0, 0, 20, 1], [0, 0, 39, 1], [0, 0, 40, 1]]);
    const f = binEvents(e, SENSOR, { frames: 3, mode: 'time' }, { start: 10, end: 40 });
    // t = 10, 19 -> frame 0; 20 -> frame 2 * ... floor(10 * 3 / 30) = 1; 39 -> 2; 5 and 40 are outside.
    expect(at(f, 128, 128, 0, 1, 0, 0)).toBe(1);
    expect(at(f, 128, 128, 0, 0, 0, 0)).toBe(1);
    expect(at(f, 128, 128, 1, 1, 0, 0)).toBe(1);
    expect(at(f, 128, 128, 2, 1, 0, 0)).toBe(1);
    expect(f.reduce((a, v) => a + v, 0)).toBe(4);
    // Default window: first event to last + 1, so every event counts.
    expect(binEvents(e, SENSOR, { frames: 4, mode: 'time' }).reduce((a, v) => a + v, 0)).toBe(6);
  });

  it('downsamples by summing onto the smaller grid: x\' = floor(x W\' / 128)', () => {
    const next = rng(freshSeed('event binning'));
    const e = randomStream(next, 5000);
    for (const side of [64, 48, 37]) {
      const f = binEvents(e, SENSOR, { frames: 5, mode: 'time', height: side, width: side });
      expect(f.reduce((a, v) => a + v, 0)).toBe(5000);
      // Reference: bin at full size, then sum source pixels into target pixels.
      const full = binEvents(e, SENSOR, { frames: 5, mode: 'time' });
      const want = new Float64Array(5 * 2 * side * side);
      for (let c = 0; c < 10; c++) {
        for (let y = 0; y < 128; y++) {
          for (let x = 0; x < 128; x++) want[(c * side + Math.floor((y * side) / 128)) * side + Math.floor((x * side) / 128)] += full[(c * 128 + y) * 128 + x];
        }
      }
      expect(Array.from(f)).toEqual(Array.from(want));
    }
    expect(() => binEvents(e, SENSOR, { frames: 0, mode: 'count' })).toThrow(/frames must be an integer >= 1/);
    expect(() => binEvents(e, SENSOR, { frames: 2, mode: 'count', width: 200 })).toThrow(/width must be an integer in 1..128/);
    expect(() => binEvents(stream([[130, 0, 0, 0]]), SENSOR, { frames: 1, mode: 'count' })).toThrow(/event 0 at \(130, 0\) is outside/);
  });

  it('stores frames as uint8 [2T, H, W] clipped at 255, counting the clipped values, with mean 0 / std 1/255', () => {
    const c = new FrameCollector(2, 1, 2);
    c.add(Float64Array.from([0, 1, 254, 255, 256, 1000, 3, 4]), 7);
    const d = c.dataset('x', 10, 'count');
    expect(Array.from(d.images)).toEqual([0, 1, 254, 255, 255, 255, 3, 4]);
    expect(d.clipped).toBe(2);
    expect([d.channels, d.height, d.width, d.count, d.timeSteps]).toEqual([4, 1, 2, 1, 2]);
    expect(d.mean).toEqual([0, 0, 0, 0]);
    expect(d.std).toEqual([1 / 255, 1 / 255, 1 / 255, 1 / 255]);
    expect(Array.from(d.labels)).toEqual([7]);
  });
});

describe('DVS128 Gesture (AEDAT 3.1)', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'bionas-dvs-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('round-trips polarity events through packets, skipping other event types and invalid events, across a timestamp overflow', () => {
    const next = rng(freshSeed('aedat 3.1'));
    const e = randomStream(next, 2500, 2 ** 31 - 40_000, 80); // crosses 2^31 us
    const valid = Uint8Array.from({ length: 2500 }, () => +(next() < 0.9));
    const bytes = encodeAedat31(e, { packetSize: 333, valid, extraPacket: true });
    const got = parseAedat31(bytes, 'rec.aedat');
    const keep = Array.from({ length: 2500 }, (_, i) => i).filter((i) => valid[i]);
    sameStream(got, { x: Uint16Array.from(keep, (i) => e.x[i]), y: Uint16Array.from(keep, (i) => e.y[i]), t: Float64Array.from(keep, (i) => e.t[i]), p: Uint8Array.from(keep, (i) => e.p[i]) });
    expect(got.t[got.t.length - 1]).toBeGreaterThan(2 ** 31);
  });

  it('names the file and byte offset of a truncated or corrupt file', () => {
    const e = stream([[1, 2, 10, 1], [3, 4, 20, 0], [5, 6, 30, 1]]);
    const bytes = encodeAedat31(e, { packetSize: 2 });
    const headerEnd = new TextDecoder().decode(bytes).indexOf('#!END-HEADER\r\n') + 14;
    const second = headerEnd + 28 + 2 * 8;
    expect(() => parseAedat31(bytes.subarray(0, bytes.length - 3), 'a.aedat')).toThrow(`a.aedat: packet at byte ${second}: 1 events of 8 bytes need 8 bytes, only 5 remain (truncated file)`);
    expect(() => parseAedat31(bytes.subarray(0, second + 10), 'a.aedat')).toThrow(`a.aedat: packet at byte ${second}: header truncated (10 bytes left, 28 needed)`);
    const bad = bytes.slice();
    new DataView(bad.buffer).setInt32(headerEnd + 20, 99, true); // eventNumber > eventCapacity
    expect(() => parseAedat31(bad, 'b.aedat')).toThrow(`b.aedat: packet at byte ${headerEnd}: corrupt header (eventSize 8, eventCapacity 2, eventNumber 99)`);
    const wide = bytes.slice();
    new DataView(wide.buffer).setInt32(headerEnd + 4, 16, true);
    expect(() => parseAedat31(wide, 'c.aedat')).toThrow(/c.aedat: packet at byte \d+: (polarity events of 16 bytes|2 events of 16 bytes need)/);
    expect(() => parseAedat31(new TextEncoder().encode('#!AER-DAT2.0\r\n#!END-HEADER\r\n'), 'd.aedat')).toThrow(/d.aedat: not an AEDAT 3.x file/);
    expect(() => parseAedat31(new TextEncoder().encode('#!AER-DAT3.1\r\n#x\r\n'), 'e.aedat')).toThrow(/e.aedat: no '#!END-HEADER' line/);
  });

  it('cuts a recording into its labelled segments, sorted or not', () => {
    const next = rng(freshSeed('gesture segments'));
    const e = randomStream(next, 400, 0, 20);
    const segs: GestureSegment[] = [{ label: 1, start: 500, end: 2500 }, { label: 4, start: 3000, end: 3600 }];
    const opts = { frames: 3, mode: 'count' as const, height: 8, width: 8 };
    const sorted = new FrameCollector(3, 8, 8);
    gestureSamples(e, segs, opts, sorted);
    // The same events with one moved far past every window, out of time order: the fallback path.
    const shuffled = { x: e.x.slice(), y: e.y.slice(), t: e.t.slice(), p: e.p.slice() };
    const i = e.t.findIndex((t) => t >= 1000);
    shuffled.t[i] += 1e9;
    const unsorted = new FrameCollector(3, 8, 8);
    gestureSamples(shuffled, segs, opts, unsorted);
    const a = sorted.dataset('a', 11, 'count'), b = unsorted.dataset('b', 11, 'count');
    const inside = (s: GestureSegment, t: Float64Array) => Array.from(t).filter((v) => v >= s.start && v < s.end).length;
    const size = 6 * 64;
    segs.forEach((s, k) => {
      expect(a.images.subarray(k * size, (k + 1) * size).reduce((x, v) => x + v, 0)).toBe(inside(s, e.t));
      expect(b.images.subarray(k * size, (k + 1) * size).reduce((x, v) => x + v, 0)).toBe(inside(s, shuffled.t));
    });
    expect(inside(segs[0], shuffled.t)).toBe(inside(segs[0], e.t) - 1);
  });

  it('parses label files and refuses malformed lines', () => {
    const segs: GestureSegment[] = [{ label: 0, start: 100, end: 900 }, { label: 10, start: 1000, end: 2000 }];
    expect(parseGestureLabels(encodeGestureLabels(segs), 'l.csv')).toEqual(segs);
    expect(parseGestureLabels('class,startTime_usec,endTime_usec\r\n3,5,9\r\n\r\n', 'l.csv')).toEqual([{ label: 2, start: 5, end: 9 }]);
    expect(() => parseGestureLabels('class,startTime_usec,endTime_usec\n3,5\n', 'l.csv')).toThrow(`l.csv: line 2 '3,5' is not 'class,startTime_usec,endTime_usec'`);
    expect(() => parseGestureLabels('class,s,e\n12,5,9\n', 'l.csv')).toThrow(/l.csv: line 2: class 12 outside 1..11/);
    expect(() => parseGestureLabels('class,s,e\n2,9,9\n', 'l.csv')).toThrow(/end 9 is not after start 9/);
  });

  it('loads a folder: one sample per labelled segment, frames binned by time over the segment, train/test lists', async () => {
    const next = rng(freshSeed('dvs gesture folder'));
    const recs = [
      { name: 'user01_fluorescent', events: randomStream(next, 3000, 1000), segs: [{ label: 2, start: 5000, end: 40_000 }, { label: 7, start: 50_000, end: 70_000 }] },
      { name: 'user02_led', events: randomStream(next, 1000, 0), segs: [{ label: 10, start: 0, end: 30_000 }] },
    ];
    for (const r of recs) {
      await writeFile(join(dir, `${r.name}.aedat`), encodeAedat31(r.events, { packetSize: 256 }));
      await writeFile(join(dir, `${r.name}_labels.csv`), encodeGestureLabels(r.segs));
    }
    await writeFile(join(dir, 'trials_to_train.txt'), 'user01_fluorescent.aedat\n\n');
    await writeFile(join(dir, 'trials_to_test.txt'), 'user02_led.aedat\n');
    const opts = { frames: 4, mode: 'time' as const, height: 32, width: 32 };
    const train = await loadDvsGesture(dir, 'train', opts);
    expect(train.count).toBe(2);
    expect(Array.from(train.labels)).toEqual([2, 7]);
    expect([train.channels, train.height, train.width, train.numClasses]).toEqual([8, 32, 32, 11]);
    const size = 8 * 32 * 32;
    recs[0].segs.forEach((s, i) => {
      const e = recs[0].events;
      const inside = Array.from(e.t).filter((t) => t >= s.start && t < s.end).length;
      const sample = train.images.subarray(i * size, (i + 1) * size);
      expect(sample.reduce((a, v) => a + v, 0)).toBe(inside); // no pixel reaches 255 here
      expect(Array.from(sample)).toEqual(Array.from(binEvents(e, SENSOR, opts, s)));
    });
    const test = await loadDvsGesture(dir, 'test', { frames: 2, mode: 'count' });
    expect(test.count).toBe(1);
    expect(test.labels[0]).toBe(10);
    await writeFile(join(dir, 'trials_to_test.txt'), 'user09_missing.aedat\n');
    await expect(loadDvsGesture(dir, 'test', opts)).rejects.toThrow(/trials_to_test.txt names user09_missing.aedat, but .*user09_missing(\.aedat|_labels\.csv) cannot be read/);
    await expect(loadDvsGesture(join(dir, 'nope'), 'test', opts)).rejects.toThrow(/data folder .*nope cannot be read/);
  });
});

describe('CIFAR10-DVS (AEDAT 2.0)', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'bionas-c10dvs-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('round-trips big-endian address/timestamp events, skipping special events', () => {
    const next = rng(freshSeed('aedat 2.0'));
    const e = randomStream(next, 777);
    const bytes = encodeAedat2(e, [0, 100, 776]);
    sameStream(parseAedat2(bytes, 'c.aedat'), e);
    // The raw address layout, by hand: x = 127 - y_raw, y = 127 - x_raw, ON = bit 0 clear.
    const one = new Uint8Array([...new TextEncoder().encode('#!AER-DAT2.0\r\n'), 0, 0, 0x05, 0x0b, 0, 0, 0x01, 0x00]);
    const got = parseAedat2(one, 'one.aedat');
    // addr 0x050b: bit 0 = 1 (OFF), x_raw = (0x50b >> 1) & 0x7f = 5, y_raw = 5.
    expect([got.x[0], got.y[0], got.p[0], got.t[0]]).toEqual([122, 122, 0, 256]);
  });

  it('names the file and offset of a cut-short event, and refuses other formats', () => {
    const bytes = encodeAedat2(stream([[1, 2, 10, 1], [3, 4, 20, 0]]));
    const start = bytes.length - 16;
    expect(() => parseAedat2(bytes.subarray(0, bytes.length - 5), 'x.aedat')).toThrow(`x.aedat: 11 bytes of events after the header (at byte ${start}) is not a whole number of 8-byte events: the event at byte ${start + 8} is cut short (truncated file)`);
    expect(() => parseAedat2(new TextEncoder().encode('#!AER-DAT3.1\r\n'), 'y.aedat')).toThrow(/y.aedat: not an AEDAT 2.0 file/);
    const wide = bytes.slice();
    wide[start] = 0x01; // an address above 16 bits
    expect(() => parseAedat2(wide, 'z.aedat')).toThrow(`z.aedat: event at byte ${start} has address 0x${(0x01000000 + bytes[start + 2] * 256 + bytes[start + 3]).toString(16)}, not a DVS128 address (corrupt file or another camera)`);
  });

  it('loads class folders, splits each class by recording index, bins each whole recording', async () => {
    const next = rng(freshSeed('cifar10-dvs folder'));
    const streams = new Map<string, EventStream>();
    for (const cls of CIFAR10DVS_CLASS_NAMES) {
      await mkdir(join(dir, cls));
      for (const k of [0, 1, 2, 10]) {
        const e = randomStream(next, 50 + Math.floor(next() * 50));
        streams.set(`${cls}/${k}`, e);
        await writeFile(join(dir, cls, `cifar10_${cls}_${k}.aedat`), encodeAedat2(e));
      }
    }
    const opts = { frames: 3, mode: 'count' as const, height: 16, width: 16 };
    const train = await loadCifar10Dvs(dir, 'train', opts, 3);
    const test = await loadCifar10Dvs(dir, 'test', opts, 3);
    expect([train.count, test.count]).toEqual([30, 10]);
    expect(Array.from(test.labels)).toEqual(CIFAR10DVS_CLASS_NAMES.map((_, i) => i));
    const size = 6 * 16 * 16;
    // Test sample of class c is recording 10 (indices sort numerically: 0, 1, 2, 10).
    CIFAR10DVS_CLASS_NAMES.forEach((cls, c) => {
      const want = binEvents(streams.get(`${cls}/10`)!, DVS128_SENSOR, opts);
      expect(Array.from(test.images.subarray(c * size, (c + 1) * size))).toEqual(Array.from(want));
    });
    expect(Array.from(train.labels.subarray(0, 4))).toEqual([0, 0, 0, 1]);
    await rm(join(dir, 'truck'), { recursive: true });
    await expect(loadCifar10Dvs(dir, 'train', opts)).rejects.toThrow(/has no class folder truck/);
  });
});
