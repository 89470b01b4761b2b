// A pool of storage buffers in size classes, so a training step reuses last step's buffers
// instead of creating new ones. Buffers are owned: acquire() hands one out, release() gives it
// back, and the pool counts live bytes so a leak shows up as growth.

export interface PooledBuffer {
  readonly buffer: GPUBuffer;
  readonly id: number;
  /** Bytes of its size class (what the pool accounts), >= the bytes asked for. */
  readonly bytes: number;
  /** Serial of the last command encoder that used it; see Recorder.writeBuffer. */
  lastUse: number;
  refs: number;
}

const MIN_BYTES = 256;
const USAGE = GPUBufferUsageFlags();

function GPUBufferUsageFlags(): number {
  // GPUBufferUsage is a global only after the webgpu globals are installed; read it lazily.
  const u = (globalThis as any).GPUBufferUsage ?? { STORAGE: 0x80, COPY_SRC: 0x4, COPY_DST: 0x8 };
  return u.STORAGE | u.COPY_SRC | u.COPY_DST;
}

/** Size classes 2^k and 1.5 * 2^k: at most a third wasted, few classes to search. */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_BYTES) return MIN_BYTES;
  const pow = 2 ** Math.ceil(Math.log2(bytes));
  const threeQuarters = (pow / 4) * 3;
  return bytes <= threeQuarters ? threeQuarters : pow;
}

export class BufferPool {
  private free = new Map<number, PooledBuffer[]>();
  private nextId = 1;
  liveBytes = 0;
  peakLiveBytes = 0;
  /** The largest single buffer handed out since resetPeak. */
  peakBufferBytes = 0;
  allocatedBytes = 0;
  liveBuffers = 0;

  constructor(private device: GPUDevice, private maxBufferSize: number) {}

  acquire(bytes: number, label = 'tensor'): PooledBuffer {
    if (!(bytes > 0) || !Number.isFinite(bytes)) throw new Error(`buffer of ${bytes} bytes asked for (${label})`);
    const cls = sizeClass(bytes);
    if (cls > this.maxBufferSize) {
      throw new Error(`${label}: ${bytes} bytes exceed this adapter's largest buffer (${this.maxBufferSize} bytes)`);
    }
    let entry = this.free.get(cls)?.pop();
    if (!entry) {
      const buffer = this.device.createBuffer({ size: cls, usage: USAGE, label: `pool:${cls}` });
      entry = { buffer, id: this.nextId++, bytes: cls, lastUse: -1, refs: 0 };
      this.allocatedBytes += cls;
    }
    entry.refs = 1;
    this.liveBytes += cls;
    this.liveBuffers++;
    if (this.liveBytes > this.peakLiveBytes) this.peakLiveBytes = this.liveBytes;
    if (cls > this.peakBufferBytes) this.peakBufferBytes = cls;
    return entry;
  }

  release(entry: PooledBuffer): void {
    if (entry.refs !== 0) throw new Error('buffer released while still referenced');
    this.liveBytes -= entry.bytes;
    this.liveBuffers--;
    let list = this.free.get(entry.bytes);
    if (!list) this.free.set(entry.bytes, (list = []));
    list.push(entry);
  }

  /** Destroys every idle buffer (after a phase whose shapes will not come back). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const e of list) {
        e.buffer.destroy();
        this.allocatedBytes -= e.bytes;
      }
    }
    this.free.clear();
  }

  resetPeak(): void {
    this.peakLiveBytes = this.liveBytes;
    this.peakBufferBytes = 0;
  }
}
