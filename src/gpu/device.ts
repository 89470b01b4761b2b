// Chooses the WebGPU adapter and opens the device.
//
// Order: a native backend (Vulkan, D3D12, Metal) at core feature level; else Dawn's OpenGL
// backend, which on a machine without a GPU runs on Mesa llvmpipe. Dawn finds no Vulkan
// adapter on lavapipe 22.3, so OpenGL is the CPU fallback. BIONAS_BACKEND forces one.
// In a browser navigator.gpu is used as it is.
//
// Dawn's own messages: dawn.node has no logging callback for them (create() takes only
// backend/adapter/toggle options); Dawn writes them from native code straight to file
// descriptor 2 (dawn::WarningLog), where JavaScript cannot catch them. So:
// - on Linux, Vulkan is not probed when there is neither a Vulkan loader nor a GPU (host.ts):
//   that probe can only fail, and Dawn prints the failure with a C++ source line;
// - the limit clamps Dawn prints at every requestAdapter ("artificially reduced ... to 16")
//   cannot be avoided; the bionas command (src/cli/bin.ts) runs in a child whose fd 2 it
//   reads, hiding the lines DawnNoticeFilter knows and passing every other line on.
// --verbose or BIONAS_VERBOSE=1 shows them all as Dawn prints them.

import { CPU_FALLBACK_PACKAGES, VULKAN_LOADER, VULKAN_LOADER_PACKAGE, findGpus, findLibrary, type GpuNode } from './host.js';

export type BackendName = 'auto' | 'vulkan' | 'd3d12' | 'metal' | 'opengl' | 'browser';

export interface DeviceInfo {
  backend: BackendName;
  featureLevel: 'core' | 'compatibility';
  vendor: string;
  architecture: string;
  description: string;
  /** True for CPU rasterisers (llvmpipe, SwiftShader): they prefer register blocking to tiling. */
  isSoftware: boolean;
  limits: Record<string, number>;
  /** Why each backend tried before the chosen one was skipped. */
  skipped: string[];
  /** What the user may want to know about the choice, e.g. a GPU left unused for want of a driver. */
  notes: string[];
}

export interface OpenedDevice {
  device: GPUDevice;
  info: DeviceInfo;
  destroy(): void;
}

const KEY_LIMITS = [
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension', 'maxComputeWorkgroupStorageSize', 'maxStorageBufferBindingSize',
  'maxBufferSize', 'maxStorageBuffersPerShaderStage', 'maxUniformBufferBindingSize',
  'minUniformBufferOffsetAlignment', 'minStorageBufferOffsetAlignment',
] as const;

/**
 * Dawn's start-up messages known to be harmless. Each starts a notice; `continued` lines
 * right after it (Dawn's source location, a blank line) belong to it.
 */
export const KNOWN_DAWN_NOTICES: readonly { pattern: RegExp; continued?: RegExp; why: string }[] = [
  {
    // Limits.cpp clamps the dynamic-offset buffers per layout to 16 on every adapter; bionas uses none.
    pattern: /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/,
    why: 'limit clamp',
  },
  {
    // No Vulkan loader: device.ts knows this on its own (host.ts) and says what to install when a GPU is present.
    pattern: /^Warning: Couldn't load Vulkan: libvulkan\.so\.1: cannot open shared object file/,
    continued: /^(\s+at .*\(.*:\d+\)|\s*)$/,
    why: 'no Vulkan loader',
  },
];

/** Splits Dawn's stderr into known notices (hidden) and everything else (shown); fed line by line. */
export class DawnNoticeFilter {
  private continuing: RegExp | null = null;
  readonly hidden: string[] = [];

  /** Whether `line` (without its newline) should be printed. */
  shows(line: string): boolean {
    if (this.continuing?.test(line)) {
      // A blank line ends a notice.
      if (!line.trim()) this.continuing = null;
      this.hidden.push(line);
      return false;
    }
    this.continuing = null;
    const known = KNOWN_DAWN_NOTICES.find((n) => n.pattern.test(line));
    if (!known) return true;
    this.continuing = known.continued ?? null;
    this.hidden.push(line);
    return false;
  }
}

/** --verbose on the command line, or BIONAS_VERBOSE=1: Dawn's messages unfiltered, the device choice explained. */
export function isVerbose(argv: readonly string[] = typeof process !== 'undefined' ? process.argv : []): boolean {
  const env = typeof process !== 'undefined' ? process.env?.BIONAS_VERBOSE : undefined;
  if (env && !['0', 'false', 'no', ''].includes(env.toLowerCase())) return true;
  return argv.some((a) => a === '--verbose' || /^--verbose=(true|1|yes)$/.test(a));
}

/** The one line a command prints about its device: adapter, backend, level, and notes. */
export function deviceLine(info: DeviceInfo): string {
  return `${info.description || '(no description)'} (${[info.backend, info.featureLevel, ...info.notes].join('; ')})`;
}

function isNode(): boolean {
  return typeof process !== 'undefined' && !!process.versions?.node && typeof (globalThis as any).navigator?.gpu === 'undefined';
}

function requestedBackend(): BackendName {
  const env = typeof process !== 'undefined' ? process.env?.BIONAS_BACKEND : undefined;
  if (!env) return 'auto';
  const name = env.toLowerCase();
  const known: BackendName[] = ['auto', 'vulkan', 'd3d12', 'metal', 'opengl'];
  if (!known.includes(name as BackendName)) {
    throw new Error(`BIONAS_BACKEND=${env} is not a backend; use one of ${known.join(', ')}`);
  }
  return name as BackendName;
}

/** Every limit the adapter offers, so compatibility mode does not cap us at 128 invocations. */
function allLimits(adapter: GPUAdapter): Record<string, number> {
  const limits: Record<string, number> = {};
  for (const key in adapter.limits) {
    const value = (adapter.limits as any)[key];
    if (typeof value === 'number') limits[key] = value;
  }
  return limits;
}

function describe(adapter: GPUAdapter, backend: BackendName, featureLevel: 'core' | 'compatibility', skipped: string[], notes: string[]): DeviceInfo {
  const info = adapter.info;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  const limits: Record<string, number> = {};
  for (const key of KEY_LIMITS) limits[key] = (adapter.limits as any)[key];
  return {
    backend, featureLevel,
    vendor: info.vendor, architecture: info.architecture, description: [info.device, info.description].filter(Boolean).join(' | '),
    isSoftware: /llvmpipe|swiftshader|lavapipe|software|cpu/.test(text),
    limits, skipped, notes,
  };
}

const liveInstances = new Set<GPU>();

async function openWith(gpu: GPU, backend: BackendName, featureLevel: 'core' | 'compatibility', skipped: string[], notes: string[] = []): Promise<OpenedDevice | null> {
  const adapter = await gpu.requestAdapter({ featureLevel, powerPreference: 'high-performance' } as GPURequestAdapterOptions);
  if (!adapter) {
    skipped.push(`${backend} (${featureLevel}): no adapter`);
    return null;
  }
  const requiredFeatures: GPUFeatureName[] = [];
  if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
  const device = await adapter.requestDevice({ requiredLimits: allLimits(adapter), requiredFeatures, label: 'bionas' });
  // dawn.node tears its instance down when the object create() returned is garbage-collected
  // (events stop being processed: mapAsync hangs, or native threads crash on freed mutexes),
  // so the instance is held for as long as the device is open.
  liveInstances.add(gpu);
  return {
    device, info: describe(adapter, backend, featureLevel, skipped, notes),
    destroy: () => {
      device.destroy();
      liveInstances.delete(gpu);
    },
  };
}

/** The engine's messages about the device: on stderr, prefixed; `detail` ones only when verbose. */
function log(line: string, detail = false): void {
  if (!detail || isVerbose()) console.error(`bionas: ${line}`);
}

export interface VulkanHost {
  /** Where libvulkan.so.1 was found, or null. */
  loader: string | null;
  gpus: GpuNode[];
}

/** On Linux: is there a Vulkan loader, and which GPUs (for what to tell the user if there is none). */
async function linuxVulkan(): Promise<VulkanHost> {
  const fs = await import('node:fs');
  return { loader: findLibrary(fs, VULKAN_LOADER), gpus: findGpus(fs) };
}

const NO_LOADER = `no Vulkan loader (${VULKAN_LOADER}; Debian/Ubuntu: apt-get install ${VULKAN_LOADER_PACKAGE})`;

/** Vulkan is worth probing unless there is neither a loader nor a GPU: then it can only fail. */
export function probesVulkan(host: VulkanHost): boolean {
  return !!host.loader || host.gpus.length > 0;
}

/** What to say when a GPU is present but Vulkan gave no adapter: a warning, and a note for the device line. */
export function unusedGpuMessage(host: VulkanHost): { warning: string; note: string } | null {
  if (!host.gpus.length) return null;
  const names = host.gpus.map((g) => `${g.vendor} GPU (${g.path})`).join(', ');
  const why = host.loader ? "Dawn found no Vulkan adapter for it (is its Vulkan driver, e.g. mesa-vulkan-drivers or NVIDIA's, installed?)" : NO_LOADER;
  return {
    warning: `warning: ${names} present but ${why}; running on the CPU fallback instead`,
    note: `${names} unused: ${host.loader ? 'no Vulkan driver' : `install ${VULKAN_LOADER_PACKAGE}`}`,
  };
}

async function openNode(backend: BackendName): Promise<OpenedDevice> {
  const webgpu: any = await import('webgpu');
  Object.assign(globalThis, webgpu.globals);
  const skipped: string[] = [];
  const notes: string[] = [];
  const vulkan = process.platform === 'linux' && (backend === 'auto' || backend === 'vulkan') ? await linuxVulkan() : null;
  let native: BackendName[] = backend === 'auto' ? ['auto'] : backend === 'opengl' ? [] : [backend];
  if (backend === 'auto' && vulkan && !probesVulkan(vulkan)) {
    native = [];
    skipped.push(`vulkan: not tried (no GPU, no ${VULKAN_LOADER})`);
    notes.push('no GPU: CPU fallback');
    log(`vulkan not tried: no GPU device node and no ${VULKAN_LOADER} on this machine`, true);
  }
  for (const name of native) {
    // With no option Dawn picks the platform's native backend (Vulkan, D3D12 or Metal).
    const gpu: GPU = webgpu.create(name === 'auto' ? [] : [`backend=${name}`]);
    const opened = await openWith(gpu, name === 'auto' ? nativeName() : name, 'core', skipped);
    if (opened) return opened;
    if (vulkan && !vulkan.loader) skipped[skipped.length - 1] += `: ${NO_LOADER}`;
  }
  const unused = vulkan && unusedGpuMessage(vulkan);
  if (unused) {
    log(unused.warning);
    notes.push(unused.note);
  }
  // CPU fallback: Dawn's GL backend on Mesa llvmpipe through a surfaceless EGL display.
  if (process.platform === 'linux' && !process.env.EGL_PLATFORM) process.env.EGL_PLATFORM = 'surfaceless';
  const gpu: GPU = webgpu.create(['backend=opengl']);
  const opened = await openWith(gpu, 'opengl', 'compatibility', skipped, notes);
  if (opened) return opened;
  throw new Error(
    `bionas found no WebGPU adapter (tried: ${skipped.join('; ')}).\n` +
    `On a machine without a GPU bionas runs on Mesa llvmpipe through Dawn's OpenGL backend; on Debian/Ubuntu:\n` +
    `  apt-get install ${CPU_FALLBACK_PACKAGES.map((p) => p.name).join(' ')}\n(or run: npm run setup; bionas info lists what is missing)`);
}

function nativeName(): BackendName {
  if (process.platform === 'win32') return 'd3d12';
  if (process.platform === 'darwin') return 'metal';
  return 'vulkan';
}

export interface DeviceOptions {
  /** Browsers only: 'compatibility' asks for such an adapter first (Chromium serves its OpenGL ES
   *  adapter, e.g. Mesa llvmpipe, only at that level); the default tries core, then compatibility. */
  featureLevel?: 'core' | 'compatibility';
}

async function openBrowser(options: DeviceOptions): Promise<OpenedDevice> {
  const gpu: GPU | undefined = (globalThis as any).navigator?.gpu;
  if (!gpu) throw new Error('this browser exposes no WebGPU (navigator.gpu is undefined)');
  const skipped: string[] = [];
  const levels: ('core' | 'compatibility')[] = options.featureLevel === 'compatibility' ? ['compatibility'] : ['core', 'compatibility'];
  let opened: OpenedDevice | null = null;
  for (const level of levels) opened ??= await openWith(gpu, 'browser', level, skipped);
  if (!opened) throw new Error(`no WebGPU adapter in this browser (${skipped.join('; ')})`);
  return opened;
}

export async function openDevice(options: DeviceOptions = {}): Promise<OpenedDevice> {
  return isNode() ? openNode(requestedBackend()) : openBrowser(options);
}
