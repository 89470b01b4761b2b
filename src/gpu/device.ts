// Chooses the WebGPU adapter and opens the device.
//
// Order: a native backend (Vulkan, D3D12, Metal) at core feature level; else Dawn's OpenGL
// backend, which on a machine without a GPU runs on Mesa llvmpipe. Dawn finds no Vulkan
// adapter on lavapipe 22.3, so OpenGL is the CPU fallback. BIONAS_BACKEND forces one.
// In a browser navigator.gpu is used as it is.

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

function describe(adapter: GPUAdapter, backend: BackendName, featureLevel: 'core' | 'compatibility', skipped: string[]): DeviceInfo {
  const info = adapter.info;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  const limits: Record<string, number> = {};
  for (const key of KEY_LIMITS) limits[key] = (adapter.limits as any)[key];
  return {
    backend, featureLevel,
    vendor: info.vendor, architecture: info.architecture, description: [info.device, info.description].filter(Boolean).join(' | '),
    isSoftware: /llvmpipe|swiftshader|lavapipe|software|cpu/.test(text),
    limits, skipped,
  };
}

const liveInstances = new Set<GPU>();

async function openWith(gpu: GPU, backend: BackendName, featureLevel: 'core' | 'compatibility', skipped: string[]): Promise<OpenedDevice | null> {
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
    device, info: describe(adapter, backend, featureLevel, skipped),
    destroy: () => {
      device.destroy();
      liveInstances.delete(gpu);
    },
  };
}

async function openNode(backend: BackendName): Promise<OpenedDevice> {
  const webgpu: any = await import('webgpu');
  Object.assign(globalThis, webgpu.globals);
  const skipped: string[] = [];
  const native: BackendName[] = backend === 'auto' ? ['auto'] : backend === 'opengl' ? [] : [backend];
  for (const name of native) {
    // With no option Dawn picks the platform's native backend (Vulkan, D3D12 or Metal).
    const gpu: GPU = webgpu.create(name === 'auto' ? [] : [`backend=${name}`]);
    const opened = await openWith(gpu, name === 'auto' ? nativeName() : name, 'core', skipped);
    if (opened) return opened;
  }
  // CPU fallback: Dawn's GL backend on Mesa llvmpipe through a surfaceless EGL display.
  if (process.platform === 'linux' && !process.env.EGL_PLATFORM) process.env.EGL_PLATFORM = 'surfaceless';
  const gpu: GPU = webgpu.create(['backend=opengl']);
  const opened = await openWith(gpu, 'opengl', 'compatibility', skipped);
  if (opened) return opened;
  throw new Error(
    `bionas found no WebGPU adapter (tried: ${skipped.join('; ')}).\n` +
    `On a machine without a GPU bionas runs on Mesa llvmpipe through Dawn's OpenGL backend; on Debian/Ubuntu:\n` +
    `  apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri\n(or run: npm run setup)`);
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
