// Kernels are data: a WGSL source whose bindings and uniform struct are read by wgsl_reflect.
// From that reflection come the bind-group layout and the uniform packing, so no table is
// kept by hand. Pipelines are built once per (kernel, override constants) and cached.

import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';

export type UniformValue = number | readonly number[];
export type OverrideValues = Record<string, number>;

interface UniformMember {
  name: string;
  offset: number;
  /** 'f32' | 'i32' | 'u32' */
  scalar: string;
  /** 1 for a scalar, 2..4 for a vector */
  count: number;
}

export interface BindingSlot {
  name: string;
  binding: number;
  /** read / read_write: storage buffers; texture: a sampled texture_2d<f32> (read with
   *  textureLoad); storage_texture: a write-only texture_storage_2d<rgba32float>. */
  kind: 'uniform' | 'read' | 'read_write' | 'texture' | 'storage_texture';
}

export class Kernel {
  readonly bindings: BindingSlot[];
  readonly uniformBinding: BindingSlot | null;
  readonly uniformSize: number;
  readonly members: UniformMember[];
  readonly overrideNames: Set<string>;
  readonly workgroupSize: [number | string, number | string, number | string];

  constructor(readonly name: string, readonly source: string, readonly entry = 'main') {
    let reflect: WgslReflect;
    try {
      reflect = new WgslReflect(source);
    } catch (e) {
      throw new Error(`kernel ${name}: WGSL does not parse: ${(e as Error).message}`);
    }
    this.bindings = [];
    for (const u of reflect.uniforms) {
      if (u.group !== 0) throw new Error(`kernel ${name}: bindings must be in group 0 (${u.name})`);
      this.bindings.push({ name: u.name, binding: u.binding, kind: 'uniform' });
    }
    for (const s of reflect.storage) {
      if (s.group !== 0) throw new Error(`kernel ${name}: bindings must be in group 0 (${s.name})`);
      if (s.type.name.startsWith('texture_storage')) {
        const format = (s.type as any).format?.name;
        if (s.type.name !== 'texture_storage_2d' || format !== 'rgba32float' || s.access !== 'write') {
          throw new Error(`kernel ${name}: storage texture ${s.name} must be texture_storage_2d<rgba32float, write>`);
        }
        this.bindings.push({ name: s.name, binding: s.binding, kind: 'storage_texture' });
      } else {
        this.bindings.push({ name: s.name, binding: s.binding, kind: s.access === 'read_write' ? 'read_write' : 'read' });
      }
    }
    for (const t of reflect.textures) {
      if (t.group !== 0) throw new Error(`kernel ${name}: bindings must be in group 0 (${t.name})`);
      if (t.type.name !== 'texture_2d' || (t.type as any).format?.name !== 'f32') {
        throw new Error(`kernel ${name}: texture ${t.name} must be texture_2d<f32>`);
      }
      this.bindings.push({ name: t.name, binding: t.binding, kind: 'texture' });
    }
    this.bindings.sort((a, b) => a.binding - b.binding);
    const uniforms = reflect.uniforms;
    if (uniforms.length > 1) throw new Error(`kernel ${name}: at most one uniform struct (found ${uniforms.length})`);
    this.uniformBinding = this.bindings.find((b) => b.kind === 'uniform') ?? null;
    this.members = [];
    this.uniformSize = 0;
    if (uniforms.length === 1) {
      const u = uniforms[0];
      if (!u.type.isStruct) throw new Error(`kernel ${name}: the uniform must be a struct`);
      this.uniformSize = Math.ceil(u.type.size / 16) * 16;
      for (const m of (u.type as any).members) {
        const tname: string = m.type.name;
        const format: string | undefined = m.type.format?.name;
        if (['f32', 'i32', 'u32'].includes(tname)) this.members.push({ name: m.name, offset: m.offset, scalar: tname, count: 1 });
        else if (/^vec[234]/.test(tname) && format) this.members.push({ name: m.name, offset: m.offset, scalar: format, count: Number(tname[3]) });
        else if (/^vec[234][fiu]$/.test(tname)) {
          this.members.push({ name: m.name, offset: m.offset, scalar: { f: 'f32', i: 'i32', u: 'u32' }[tname[4]]!, count: Number(tname[3]) });
        } else throw new Error(`kernel ${name}: uniform member ${m.name} has unsupported type ${tname}`);
      }
    }
    this.overrideNames = new Set(reflect.overrides.map((o: any) => o.name));
    const ep = reflect.entry.compute.find((e: any) => e.name === entry);
    if (!ep) throw new Error(`kernel ${name}: no @compute entry point '${entry}'`);
    this.workgroupSize = (ep.workgroupSize ?? [1, 1, 1]) as any;
  }

  /** Writes the named uniform values into `view` at `base`; every member must be given. */
  packUniforms(values: Record<string, UniformValue>, view: DataView, base: number): void {
    for (const m of this.members) {
      const v = values[m.name];
      if (v === undefined) throw new Error(`kernel ${this.name}: uniform '${m.name}' not given`);
      const arr = typeof v === 'number' ? [v] : v;
      if (arr.length > m.count) throw new Error(`kernel ${this.name}: uniform '${m.name}' takes ${m.count} values, got ${arr.length}`);
      for (let i = 0; i < arr.length; i++) {
        const off = base + m.offset + 4 * i;
        const x = arr[i];
        if (m.scalar === 'f32') view.setFloat32(off, x, true);
        else if (m.scalar === 'i32') view.setInt32(off, x, true);
        else {
          if (x < 0 || !Number.isInteger(x)) throw new Error(`kernel ${this.name}: uniform '${m.name}' must be a non-negative integer, got ${x}`);
          view.setUint32(off, x, true);
        }
      }
    }
    for (const key in values) {
      if (!this.members.some((m) => m.name === key)) throw new Error(`kernel ${this.name}: no uniform named '${key}'`);
    }
  }
}

export interface CompiledKernel {
  kernel: Kernel;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  /** Unique per (kernel, overrides): keys the bind-group cache. */
  id: number;
  label: string;
}

/** Builds pipelines once, and turns WGSL compile errors into thrown errors with line and column. */
export class PipelineCache {
  private cache = new Map<string, CompiledKernel>();
  private nextId = 1;
  constructor(private device: GPUDevice, private reportAsync: (p: Promise<Error | null>) => void) {}

  get size(): number {
    return this.cache.size;
  }

  get(kernel: Kernel, overrides: OverrideValues = {}): CompiledKernel {
    for (const key in overrides) {
      if (!kernel.overrideNames.has(key)) throw new Error(`kernel ${kernel.name}: no override constant '${key}'`);
    }
    const overrideKey = Object.keys(overrides).sort().map((k) => `${k}=${overrides[k]}`).join(',');
    const key = `${kernel.name}|${overrideKey}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const label = overrideKey ? `${kernel.name}[${overrideKey}]` : kernel.name;
    const device = this.device;
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code: kernel.source, label });
    const entries: GPUBindGroupLayoutEntry[] = kernel.bindings.map((b) => {
      const entry = { binding: b.binding, visibility: GPUShaderStage.COMPUTE };
      if (b.kind === 'texture') return { ...entry, texture: { sampleType: 'unfilterable-float', viewDimension: '2d' } };
      if (b.kind === 'storage_texture') return { ...entry, storageTexture: { access: 'write-only', format: 'rgba32float', viewDimension: '2d' } };
      return {
        ...entry,
        buffer: b.kind === 'uniform' ? { type: 'uniform', hasDynamicOffset: true } : { type: b.kind === 'read' ? 'read-only-storage' : 'storage' },
      };
    });
    const layout = device.createBindGroupLayout({ entries, label });
    const pipeline = device.createComputePipeline({
      label,
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout], label }),
      compute: { module, entryPoint: kernel.entry, constants: overrides },
    });
    const scope = device.popErrorScope();
    this.reportAsync(
      scope.then(async (err) => {
        if (!err) return null;
        const info = await module.getCompilationInfo();
        const lines = kernel.source.split('\n');
        const where = info.messages
          .map((m) => `  ${m.type} at line ${m.lineNum}:${m.linePos}: ${m.message}\n    ${lines[m.lineNum - 1]?.trim() ?? ''}`)
          .join('\n');
        return new Error(`kernel ${label} failed to compile: ${err.message}${where ? '\n' + where : ''}`);
      }),
    );
    const compiled = { kernel, pipeline, layout, id: this.nextId++, label };
    this.cache.set(key, compiled);
    return compiled;
  }
}
