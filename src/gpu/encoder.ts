// Records dispatches into one command encoder until a flush, so a training step is one
// submit (or a few, when the uniform arena fills) and nothing is read back inside it.
//
// Uniforms go into an arena: every dispatch gets its own 256-byte-aligned slice of one
// uniform buffer, bound with a dynamic offset. queue.writeBuffer runs before any command
// that is submitted after it, so writing one small uniform buffer per dispatch would let
// the last write win; the arena is written once, just before its submit.

import type { PooledBuffer } from './buffers.js';
import type { PooledTexture } from './textures.js';
import type { CompiledKernel, UniformValue } from './kernels.js';

const ARENA_BYTES = 1 << 20;
const MAX_DISPATCHES_PER_SUBMIT = 4096;

/** What a kernel binding takes: a pooled buffer, or a pooled texture for texture slots. */
export type Binding = PooledBuffer | PooledTexture;

const isTexture = (b: Binding): b is PooledTexture => (b as PooledTexture).kind === 'texture';
const writes = (kind: string) => kind === 'read_write' || kind === 'storage_texture';

/** A dispatch as recorded, so the profiler can replay it alone. */
export interface CapturedDispatch {
  label: string;
  pipeline: GPUComputePipeline;
  group: GPUBindGroup;
  uniforms: Uint8Array | null;
  groups: [number, number, number];
}

export class Recorder {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private arena: GPUBuffer;
  private arenaCpu = new ArrayBuffer(ARENA_BYTES);
  private arenaView = new DataView(this.arenaCpu);
  private arenaUsed = 0;
  private readonly align: number;
  private dispatches = 0;
  /** Kernels recorded since the last submit, named in errors Dawn reports for the submit. */
  private kernelsInEncoder = new Set<string>();
  private bindGroups = new Map<string, GPUBindGroup>();
  /** Serial of the encoder being recorded; PooledBuffer.lastUse compares with it. */
  serial = 1;
  /** Dispatches since start, per kernel label (for the profiler and tests). */
  readonly counts = new Map<string, number>();
  /** Called after every submit (the pool's deferred releases, the profiler). */
  onSubmit: (() => void)[] = [];
  /** When set, every dispatch is also appended here (src/gpu/profiler.ts). */
  capture: CapturedDispatch[] | null = null;

  constructor(
    private device: GPUDevice,
    minUniformAlign: number,
    private checkErrors: () => void,
    /** Receives the error scopes that wrap each encoder, from its first command to its submit. */
    private reportScope: (scope: Promise<GPUError | null>, label: string) => void,
  ) {
    this.align = Math.max(256, minUniformAlign);
    this.arena = device.createBuffer({ size: ARENA_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'uniform-arena' });
  }

  private beginEncoder(): GPUCommandEncoder {
    if (!this.encoder) {
      this.device.pushErrorScope('out-of-memory');
      this.device.pushErrorScope('validation');
      this.encoder = this.device.createCommandEncoder({ label: `step#${this.serial}` });
    }
    return this.encoder;
  }

  private beginPass(): GPUComputePassEncoder {
    const encoder = this.beginEncoder();
    if (!this.pass) this.pass = encoder.beginComputePass({ label: `pass#${this.serial}` });
    return this.pass;
  }

  private endPass(): GPUCommandEncoder {
    const encoder = this.beginEncoder();
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    return encoder;
  }

  dispatch(
    k: CompiledKernel,
    buffers: Record<string, Binding>,
    uniforms: Record<string, UniformValue>,
    groups: readonly [number, number?, number?],
  ): void {
    this.checkErrors();
    const kernel = k.kernel;
    const [gx, gy = 1, gz = 1] = groups;
    if (gx === 0 || gy === 0 || gz === 0) return;
    if (this.dispatches >= MAX_DISPATCHES_PER_SUBMIT || this.arenaUsed + this.align > ARENA_BYTES) this.flush();
    let uniformOffset = 0;
    if (kernel.uniformBinding) {
      uniformOffset = this.arenaUsed;
      kernel.packUniforms(uniforms, this.arenaView, uniformOffset);
      this.arenaUsed += Math.ceil(kernel.uniformSize / this.align) * this.align;
    } else if (Object.keys(uniforms).length) {
      throw new Error(`kernel ${k.label} takes no uniforms`);
    }
    // Bind groups are cached by the buffers they hold: a training step binds the same pooled
    // buffers every iteration, so after the first step no bind group is created.
    let key = String(k.id);
    const bound = new Map<string, string>();
    for (const slot of kernel.bindings) {
      if (slot.kind === 'uniform') continue;
      const b = buffers[slot.name];
      if (!b) throw new Error(`kernel ${k.label}: binding '${slot.name}' not given`);
      const wantsTexture = slot.kind === 'texture' || slot.kind === 'storage_texture';
      if (wantsTexture !== isTexture(b)) throw new Error(`kernel ${k.label}: binding '${slot.name}' takes a ${wantsTexture ? 'texture' : 'buffer'}`);
      if (b.refs <= 0) throw new Error(`kernel ${k.label}: binding '${slot.name}' is a released ${wantsTexture ? 'texture' : 'buffer'}`);
      // WebGPU forbids a resource bound writable and bound again in one dispatch; Dawn only
      // notices at the end of the pass, without naming the dispatch, so check here.
      const ident = (isTexture(b) ? 't' : '') + b.id;
      const other = bound.get(ident);
      if (other !== undefined && (writes(slot.kind) || writes(kernel.bindings.find((s) => s.name === other)!.kind))) {
        throw new Error(`kernel ${k.label}: bindings '${other}' and '${slot.name}' are the same ${wantsTexture ? 'texture' : 'buffer'}, and one of them is written`);
      }
      bound.set(ident, slot.name);
      b.lastUse = this.serial;
      key += ':' + ident;
    }
    for (const name in buffers) {
      if (!kernel.bindings.some((s) => s.name === name)) throw new Error(`kernel ${k.label}: no binding named '${name}'`);
    }
    let group = this.bindGroups.get(key);
    if (!group) {
      if (this.bindGroups.size > 20000) this.bindGroups.clear();
      group = this.device.createBindGroup({
        label: k.label,
        layout: k.layout,
        entries: kernel.bindings.map((slot) => {
          if (slot.kind === 'uniform') return { binding: slot.binding, resource: { buffer: this.arena, offset: 0, size: kernel.uniformSize } };
          const b = buffers[slot.name];
          return { binding: slot.binding, resource: isTexture(b) ? b.view : { buffer: b.buffer } };
        }),
      });
      this.bindGroups.set(key, group);
    }
    const pass = this.beginPass();
    pass.setPipeline(k.pipeline);
    pass.setBindGroup(0, group, kernel.uniformBinding ? [uniformOffset] : []);
    pass.dispatchWorkgroups(gx, gy, gz);
    if (this.capture) {
      const uniforms = kernel.uniformBinding ? new Uint8Array(this.arenaCpu.slice(uniformOffset, uniformOffset + kernel.uniformSize)) : null;
      this.capture.push({ label: k.label, pipeline: k.pipeline, group, uniforms, groups: [gx, gy, gz] });
    }
    this.dispatches++;
    this.kernelsInEncoder.add(k.label);
    this.counts.set(k.label, (this.counts.get(k.label) ?? 0) + 1);
  }

  copy(src: PooledBuffer, dst: PooledBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    src.lastUse = dst.lastUse = this.serial;
    this.endPass().copyBufferToBuffer(src.buffer, srcOffset, dst.buffer, dstOffset, bytes);
  }

  /**
   * `texels` * 4 floats of a buffer, from byte `srcOffset` (a multiple of 16), into a texture,
   * row-major: texel t at (t % width, t / width). A copy command, no kernel: on llvmpipe 2 MB
   * copy in ~0.15 ms, where a packing kernel's texture stores took ~9 ms.
   */
  copyToTexture(src: PooledBuffer, dst: PooledTexture, texels: number, srcOffset = 0): void {
    const width = dst.width;
    const full = Math.floor(texels / width);
    const rest = texels - full * width;
    if (full + (rest ? 1 : 0) > dst.height) throw new Error(`copyToTexture: ${texels} texels exceed a ${width} x ${dst.height} texture`);
    if (srcOffset % 16 || srcOffset + texels * 16 > src.buffer.size) {
      throw new Error(`copyToTexture: ${texels} texels from byte ${srcOffset} do not fit the ${src.buffer.size}-byte buffer in whole texels`);
    }
    // WebGPU copies rows at 256-byte strides.
    if (full > 1 && width % 16) throw new Error(`copyToTexture: a ${width}-texel row is not a multiple of 256 bytes`);
    src.lastUse = dst.lastUse = this.serial;
    const encoder = this.endPass();
    // Whole rows in one copy; a partial last row separately, so no copy reads past `texels`.
    if (full) encoder.copyBufferToTexture({ buffer: src.buffer, offset: srcOffset, bytesPerRow: full > 1 ? width * 16 : undefined }, { texture: dst.texture }, [width, full]);
    if (rest) encoder.copyBufferToTexture({ buffer: src.buffer, offset: srcOffset + full * width * 16 }, { texture: dst.texture, origin: [0, full] }, [rest, 1]);
  }

  /** CPU data into a buffer. If commands not yet submitted use that buffer, submit them first. */
  writeBuffer(dst: PooledBuffer, data: ArrayBufferView, dstOffset = 0): void {
    if (dst.lastUse === this.serial) this.flush();
    this.device.queue.writeBuffer(dst.buffer, dstOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Runs one captured dispatch `reps` times in its own submit (the profiler's replay). */
  replay(d: CapturedDispatch, reps: number): void {
    this.flush();
    if (d.uniforms) this.device.queue.writeBuffer(this.arena, 0, d.uniforms);
    const encoder = this.device.createCommandEncoder({ label: `replay ${d.label}` });
    const pass = encoder.beginComputePass();
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.group, d.uniforms ? [0] : []);
    for (let i = 0; i < reps; i++) pass.dispatchWorkgroups(...d.groups);
    pass.end();
    this.device.queue.submit([encoder.finish()]);
  }

  /** Submits what was recorded. Cheap when nothing was. */
  flush(): void {
    if (!this.encoder) return;
    const encoder = this.endPass();
    if (this.arenaUsed > 0) this.device.queue.writeBuffer(this.arena, 0, this.arenaCpu, 0, this.arenaUsed);
    this.device.queue.submit([encoder.finish()]);
    const names = [...this.kernelsInEncoder];
    const label = `step#${this.serial} (kernels: ${names.slice(0, 12).join(', ')}${names.length > 12 ? `, +${names.length - 12} more` : ''})`;
    this.kernelsInEncoder.clear();
    this.reportScope(this.device.popErrorScope(), label);
    this.reportScope(this.device.popErrorScope(), label);
    this.encoder = null;
    this.arenaUsed = 0;
    this.dispatches = 0;
    this.serial++;
    for (const f of this.onSubmit) f();
  }

  /** Copies `bytes` of a buffer to the CPU. Submits pending work first. */
  async read(src: PooledBuffer, bytes: number, srcOffset = 0): Promise<ArrayBuffer> {
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'readback' });
    this.endPass().copyBufferToBuffer(src.buffer, srcOffset, staging, 0, size);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
      return staging.getMappedRange().slice(0, bytes);
    } finally {
      staging.destroy();
    }
  }
}
