// The one GPU runtime of a process: device, buffer pool, pipeline cache, command recorder,
// the tile shapes chosen for this adapter, and the errors Dawn reports.
//
// Dawn reports validation errors, out-of-memory and device loss asynchronously and would
// otherwise only print them; here each becomes an Error thrown at the next dispatch or sync.
// Dawn's messages name the labelled objects involved; every pipeline and bind group carries
// its kernel's name as label, so the error names the kernel.

import { BufferPool } from './buffers.js';
import { openDevice, type DeviceInfo, type DeviceOptions } from './device.js';
import { Recorder, type Binding } from './encoder.js';
import { TexturePool } from './textures.js';
import { Kernel, PipelineCache, type OverrideValues, type UniformValue, type CompiledKernel } from './kernels.js';
import { chooseTuning, type Tuning } from './tuning.js';

export class GpuError extends Error {
  override name = 'GpuError';
}

function errorKind(e: GPUError): string {
  return typeof GPUOutOfMemoryError !== 'undefined' && e instanceof GPUOutOfMemoryError ? 'out of GPU memory' : 'WebGPU validation error';
}

export class Runtime {
  readonly pool: BufferPool;
  readonly textures: TexturePool;
  readonly pipelines: PipelineCache;
  readonly recorder: Recorder;
  readonly tuning: Tuning;
  private errors: Error[] = [];
  private pendingChecks: Promise<unknown>[] = [];
  private lost: string | null = null;
  /** When true every buffer handed out is filled with NaN first (tests: an unwritten output fails). */
  poison = false;

  constructor(readonly device: GPUDevice, readonly info: DeviceInfo, private closeDevice: () => void) {
    this.pool = new BufferPool(device, Math.min(info.limits.maxStorageBufferBindingSize, info.limits.maxBufferSize));
    this.textures = new TexturePool(device, device.limits.maxTextureDimension2D);
    this.pipelines = new PipelineCache(device, (p) => this.track(p));
    this.recorder = new Recorder(device, info.limits.minUniformBufferOffsetAlignment, () => this.throwPending(), (scope, label) =>
      this.track(scope.then((e) => (e ? new GpuError(`${errorKind(e)} in ${label}: ${e.message}`) : null))),
    );
    this.tuning = chooseTuning(info);
    device.addEventListener('uncapturederror', (event: Event) => {
      const e = (event as GPUUncapturedErrorEvent).error;
      this.errors.push(new GpuError(`${errorKind(e)}: ${e.message}`));
    });
    device.lost.then((info) => {
      if (info.reason !== 'destroyed') this.lost = `GPU device lost (${info.reason}): ${info.message}`;
    });
  }

  private track(p: Promise<Error | null>): void {
    const check = p.then((err) => {
      if (err) this.errors.push(err);
    });
    this.pendingChecks.push(check);
  }

  /** Throws the first error Dawn has reported so far, if any. */
  throwPending(): void {
    if (this.lost) throw new GpuError(this.lost);
    if (this.errors.length) {
      // A kernel that failed to compile makes every later use of it fail too; report the cause.
      this.errors.sort((a, b) => Number(/failed to compile/.test(b.message)) - Number(/failed to compile/.test(a.message)));
      const [first, ...rest] = this.errors;
      this.errors = [];
      if (rest.length) first.message += `\n(and ${rest.length} more GPU error(s))`;
      throw first;
    }
  }

  kernel(kernel: Kernel, overrides?: OverrideValues): CompiledKernel {
    return this.pipelines.get(kernel, overrides);
  }

  dispatch(
    kernel: Kernel,
    buffers: Record<string, Binding>,
    uniforms: Record<string, UniformValue>,
    groups: readonly [number, number?, number?],
    overrides?: OverrideValues,
  ): void {
    this.recorder.dispatch(this.pipelines.get(kernel, overrides), buffers, uniforms, groups);
  }

  /**
   * A 1-D kernel over n threads. Such kernels declare `override WG: u32` as their workgroup
   * size and index as gid.x + gid.y * nwg.x * WG (the grid folds into y past 65535 groups).
   */
  dispatch1d(kernel: Kernel, buffers: Record<string, Binding>, uniforms: Record<string, UniformValue>, n: number, overrides: OverrideValues = {}): void {
    const wg = this.tuning.elementwiseWorkgroup;
    const groups = Math.ceil(n / wg);
    const max = this.info.limits.maxComputeWorkgroupsPerDimension ?? 65535;
    const y = Math.ceil(groups / max);
    this.dispatch(kernel, buffers, uniforms, [Math.ceil(groups / y), y], { WG: wg, ...overrides });
  }

  /** Submits recorded work, waits for the GPU, and throws any error it reported. */
  async sync(): Promise<void> {
    this.recorder.flush();
    await this.device.queue.onSubmittedWorkDone();
    await Promise.all(this.pendingChecks.splice(0));
    // Uncaptured errors are delivered as events; let them arrive before looking.
    await new Promise((r) => setTimeout(r, 0));
    this.throwPending();
  }

  destroy(): void {
    this.recorder.flush();
    this.closeDevice();
  }
}

let current: Runtime | null = null;
let opening: Promise<Runtime> | null = null;

/** Opens the device once per process; later calls return the same runtime. */
export async function initGpu(options: DeviceOptions = {}): Promise<Runtime> {
  if (current) return current;
  if (!opening) {
    opening = openDevice(options).then((opened) => {
      current = new Runtime(opened.device, opened.info, opened.destroy);
      return current;
    });
  }
  return opening;
}

/** The runtime opened by initGpu(); ops call this synchronously. */
export function gpu(): Runtime {
  if (!current) throw new Error('GPU not initialised: await initGpu() first');
  return current;
}

/** Destroys the device so Node can exit; the next initGpu() opens a new one. */
export function shutdownGpu(): void {
  current?.destroy();
  current = null;
  opening = null;
}
