// Event-camera streams and their binning into frames (SPEC 10's spiking networks read frames).
// An event is (x, y, t, polarity); a sample's events become T frames of 2 polarity channels,
// each pixel the number of events that fell in it, optionally summed onto a smaller grid.
// Frames are stored as an ImageDataset (uint8, CHW with C = 2T: channel 2t + p is frame t,
// polarity p, 0 = OFF, 1 = ON), counts clipped at 255 (the number clipped is reported), and
// mean 0 / std 1/255 per channel so the GPU's normalisation (x/255 - mean)/std gives the counts.

import type { ImageDataset } from './dataset.js';

export interface EventStream {
  x: Uint16Array;
  y: Uint16Array;
  /** Microseconds (float64: AEDAT 3.1 timestamps pass 2^31 after an overflow). */
  t: Float64Array;
  /** 1 = ON (brighter), 0 = OFF. */
  p: Uint8Array;
}

/** How a sample is cut into frames: by equal event counts or equal time (spikingjelly's split_by 'number' / 'time'). */
export type BinMode = 'count' | 'time';

export interface BinningOptions {
  /** T, the number of frames per sample. */
  frames: number;
  mode: BinMode;
  /** Output frame side(s); events are summed onto it by x' = floor(x W' / W) (default: the sensor's). */
  height?: number;
  width?: number;
}

export interface SensorSize {
  height: number;
  width: number;
}

/** A dataset of binned event frames: images are [2T, H, W] clipped counts. */
export interface EventFrameDataset extends ImageDataset {
  timeSteps: number;
  binning: BinMode;
  /** Pixel values that exceeded 255 and were clipped. */
  clipped: number;
}

/** Counts saturate here: the frames are uint8. */
export const MAX_FRAME_COUNT = 255;

export function emptyStream(n = 0): EventStream {
  return { x: new Uint16Array(n), y: new Uint16Array(n), t: new Float64Array(n), p: new Uint8Array(n) };
}

/** Events [from, to) of a stream (views, no copy). */
export function sliceStream(e: EventStream, from: number, to: number): EventStream {
  return { x: e.x.subarray(from, to), y: e.y.subarray(from, to), t: e.t.subarray(from, to), p: e.p.subarray(from, to) };
}

/** First index with t >= time, in a stream sorted by time. */
export function lowerBound(t: Float64Array, time: number): number {
  let lo = 0, hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid] < time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function checkBinning(o: BinningOptions, sensor: SensorSize): { T: number; H: number; W: number } {
  const T = o.frames, H = o.height ?? sensor.height, W = o.width ?? sensor.width;
  if (!(Number.isInteger(T) && T >= 1)) throw new Error(`event binning: frames must be an integer >= 1, got ${T}`);
  if (o.mode !== 'count' && o.mode !== 'time') throw new Error(`event binning: mode must be 'count' or 'time', got '${String(o.mode)}'`);
  for (const [name, v, max] of [['height', H, sensor.height], ['width', W, sensor.width]] as const) {
    if (!(Number.isInteger(v) && v >= 1 && v <= max)) throw new Error(`event binning: ${name} must be an integer in 1..${max} (the sensor's), got ${v}`);
  }
  return { T, H, W };
}

/**
 * Bins events into [T, 2, H, W] counts (float64 for exactness; callers clip).
 * - 'count': frame k holds events [floor(k n / T), floor((k + 1) n / T)) in stream order;
 * - 'time': frame k holds events with floor((t - start) T / (end - start)) = k, over the window
 *   [start, end) (default: first event's time to last's + 1 us); events outside are dropped.
 * Coordinates are summed onto the output grid by x' = floor(x W / sensorW), y' likewise (exact
 * sum pooling for integer ratios, e.g. 128 -> 64 or 32; uneven 2-3 pixel bins for 128 -> 48).
 */
export function binEvents(e: EventStream, sensor: SensorSize, o: BinningOptions, window?: { start: number; end: number }): Float64Array {
  const { T, H, W } = checkBinning(o, sensor);
  const n = e.t.length;
  const out = new Float64Array(T * 2 * H * W);
  if (n === 0) return out;
  const start = window?.start ?? e.t[0];
  const end = window?.end ?? e.t[n - 1] + 1;
  if (!(end > start)) throw new Error(`event binning: empty time window [${start}, ${end})`);
  for (let i = 0; i < n; i++) {
    let k: number;
    if (o.mode === 'count') {
      // Inverse of floor(k n / T) <= i: the frame whose range holds i.
      k = Math.floor(((i + 1) * T - 1) / n);
    } else {
      const rel = e.t[i] - start;
      if (rel < 0 || e.t[i] >= end) continue;
      k = Math.min(T - 1, Math.floor((rel * T) / (end - start)));
    }
    const x = e.x[i], y = e.y[i];
    if (x >= sensor.width || y >= sensor.height) throw new Error(`event binning: event ${i} at (${x}, ${y}) is outside the ${sensor.width}x${sensor.height} sensor`);
    const xo = Math.floor((x * W) / sensor.width), yo = Math.floor((y * H) / sensor.height);
    out[((k * 2 + e.p[i]) * H + yo) * W + xo]++;
  }
  return out;
}

/** Collects binned samples into an EventFrameDataset (counts clipped at MAX_FRAME_COUNT). */
export class FrameCollector {
  private chunks: Uint8Array[] = [];
  private labels: number[] = [];
  private clipped = 0;
  private readonly size: number;

  constructor(readonly T: number, readonly H: number, readonly W: number) {
    this.size = T * 2 * H * W;
  }

  add(counts: Float64Array, label: number): void {
    if (counts.length !== this.size) throw new Error(`frames: ${counts.length} values, expected ${this.size}`);
    const bytes = new Uint8Array(this.size);
    for (let i = 0; i < this.size; i++) {
      const c = counts[i];
      if (c > MAX_FRAME_COUNT) this.clipped++;
      bytes[i] = Math.min(MAX_FRAME_COUNT, c);
    }
    this.chunks.push(bytes);
    this.labels.push(label);
  }

  dataset(name: string, numClasses: number, binning: BinMode, classNames?: string[]): EventFrameDataset {
    const images = new Uint8Array(this.chunks.length * this.size);
    this.chunks.forEach((c, i) => images.set(c, i * this.size));
    const channels = 2 * this.T;
    return {
      name, images, labels: Int32Array.from(this.labels), count: this.labels.length, channels, height: this.H, width: this.W,
      numClasses, classNames, mean: new Array(channels).fill(0), std: new Array(channels).fill(1 / 255),
      timeSteps: this.T, binning, clipped: this.clipped,
    };
  }
}

/** Reads '#' header lines from the start of a file; returns them and the offset of the first byte after. */
export function readHeaderLines(bytes: Uint8Array, file: string, endMarker?: string): { lines: string[]; dataStart: number } {
  const lines: string[] = [];
  let at = 0;
  while (at < bytes.length && bytes[at] === 0x23 /* '#' */) {
    const nl = bytes.indexOf(0x0a, at);
    if (nl < 0) throw new Error(`${file}: header line at byte ${at} has no end (truncated header)`);
    const line = new TextDecoder('latin1').decode(bytes.subarray(at, nl)).replace(/\r$/, '');
    lines.push(line);
    at = nl + 1;
    if (endMarker && line.startsWith(endMarker)) return { lines, dataStart: at };
  }
  if (endMarker) throw new Error(`${file}: no '${endMarker}' line ending the header (read ${lines.length} header lines, stopped at byte ${at})`);
  return { lines, dataStart: at };
}
