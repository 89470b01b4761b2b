// A pool of rgba32float 2-D textures, for kernels that read an operand through texture fetches.
// On llvmpipe a texel fetch is a vectorised gather, while a storage-buffer load is a branchy
// loop over the SIMD lanes: matmul 1024^3 ran 6 GFLOP/s from buffers, 18 from textures (2
// cores). A texture is scratch: packed from a tensor by one kernel (or copied from its buffer
// by the encoder), read by the next, and released as soon as the reading dispatch is recorded
// (commands run in order, and no CPU write ever targets a texture, so the next user cannot
// overtake the reader).

export interface PooledTexture {
  readonly kind: 'texture';
  readonly texture: GPUTexture;
  readonly view: GPUTextureView;
  /** Unique among textures (bind groups are keyed by it). */
  readonly id: number;
  /** In texels (4 floats each). */
  readonly width: number;
  readonly height: number;
  lastUse: number;
  refs: number;
}

function usage(): number {
  const u = (globalThis as any).GPUTextureUsage ?? { COPY_DST: 0x02, TEXTURE_BINDING: 0x04, STORAGE_BINDING: 0x08 };
  return u.COPY_DST | u.TEXTURE_BINDING | u.STORAGE_BINDING;
}

export class TexturePool {
  private free = new Map<string, PooledTexture[]>();
  private nextId = 1;

  constructor(private device: GPUDevice, readonly maxDimension: number) {}

  /** Whether a width x height texture (in texels) fits this adapter. */
  fits(width: number, height: number): boolean {
    return width >= 1 && height >= 1 && width <= this.maxDimension && height <= this.maxDimension;
  }

  acquire(width: number, height: number, label: string): PooledTexture {
    if (!this.fits(width, height)) {
      throw new Error(`${label}: a ${width} x ${height} texture exceeds this adapter's ${this.maxDimension} texels per side`);
    }
    const key = `${width}x${height}`;
    let entry = this.free.get(key)?.pop();
    if (!entry) {
      const texture = this.device.createTexture({ size: [width, height], format: 'rgba32float', usage: usage(), label: `pool:${key}` });
      const view = texture.createView({ label: `pool:${key}` });
      entry = { kind: 'texture', texture, view, id: this.nextId++, width, height, lastUse: -1, refs: 0 };
    }
    entry.refs = 1;
    return entry;
  }

  release(entry: PooledTexture): void {
    if (entry.refs !== 1) throw new Error('texture released twice');
    entry.refs = 0;
    const key = `${entry.width}x${entry.height}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(entry);
  }
}
