// Tensors read through texture copies, for kernels on CPU rasterisers: llvmpipe gathers an rgba
// texel in one vector op, where every storage-buffer load is a per-lane loop (adding two 2 MB
// tensors: 8.8 ms from buffers, ~2 ms from texture copies, the copies included). The copy is a
// copyBufferToTexture command (~0.15 ms per 2 MB there), no kernel.
// Layout: the tensor's floats in order, 4 per texel, rows of 2^TEXTURE_COPY_SHIFT texels: float f
// is component f % 4 of texel t = f / 4, at (t % 2^SHIFT, t >> SHIFT). A tensor whose size is
// not a multiple of 4 fills its last texel from the buffer's padding (never stored back).

import { gpu } from '../gpu/runtime.js';
import type { PooledTexture } from '../gpu/textures.js';
import type { Tensor } from '../tensor.js';

/** Rows of 2^10 texels (16 KiB, a multiple of the copy's 256-byte row pitch): 64M floats fit 16384 rows. */
export const TEXTURE_COPY_SHIFT = 10;

function layout(t: Tensor): { texels: number; rows: number } {
  const texels = Math.ceil(t.size / 4);
  return { texels, rows: Math.ceil(texels / 2 ** TEXTURE_COPY_SHIFT) };
}

/** Whether t can be copied: its buffer holds whole texels, and the texture fits the adapter. */
export function fitsTextureCopy(t: Tensor): boolean {
  const { texels, rows } = layout(t);
  return t.size > 0 && texels * 16 <= t.buffer.buffer.size && gpu().textures.fits(2 ** TEXTURE_COPY_SHIFT, rows);
}

/** A scratch texture holding t's floats in order. */
function copyToTexture(t: Tensor, label: string): PooledTexture {
  const rt = gpu();
  const { texels, rows } = layout(t);
  const tex = rt.textures.acquire(2 ** TEXTURE_COPY_SHIFT, rows, label);
  rt.recorder.copyToTexture(t.buffer, tex, texels);
  return tex;
}

/**
 * Whether a kernel over `size` values of the elementwise kind (binary ops, batch norm) reads
 * `tensors` from texture copies: on CPU rasterisers (tuning.texturedElementwise), from its
 * minSize, when every tensor can be copied.
 */
export function readsTextureCopies(size: number, tensors: Tensor[]): boolean {
  const t = gpu().tuning.texturedElementwise;
  return !!t && size >= t.minSize && tensors.every(fitsTextureCopy);
}

/** Copies each tensor into a scratch texture, lets `record` record the dispatch that reads them, then gives them back. */
export function withTextureCopies(tensors: Tensor[], label: string, record: (textures: PooledTexture[]) => void): void {
  const textures = tensors.map((t) => copyToTexture(t, label));
  try {
    record(textures);
  } finally {
    for (const t of textures) gpu().textures.release(t);
  }
}
