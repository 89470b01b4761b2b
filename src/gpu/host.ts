// What this machine offers Dawn, looked up without asking Dawn (Node only): the Vulkan loader,
// GPU device nodes, and the Debian packages of the CPU fallback. device.ts uses it to skip a
// Vulkan probe that can only fail (Dawn prints that failure as a warning with a C++ source
// line), and to say which package to install when a GPU sits unused; `bionas info` lists it.
//
// Every lookup is a file test or one dpkg-query call: cheap enough to run at each start.

type Fs = typeof import('node:fs');

export interface GpuNode {
  vendor: 'NVIDIA' | 'AMD' | 'Intel';
  /** The device node or driver file that shows it, e.g. /dev/nvidia0, /dev/dri/renderD128. */
  path: string;
}

export interface HostPackage {
  name: string;
  /** What it is for, in a few words. */
  role: string;
  present: boolean;
  /** How presence was decided: 'dpkg', a library path, or a binary path. */
  evidence: string;
}

/** PCI vendor ids of the GPUs Dawn drives through Vulkan on Linux. */
const PCI_VENDORS: Record<string, GpuNode['vendor']> = { '0x10de': 'NVIDIA', '0x1002': 'AMD', '0x8086': 'Intel' };

/** Debian/Ubuntu packages through which Dawn's OpenGL backend runs on Mesa llvmpipe, and the file each provides. */
export const CPU_FALLBACK_PACKAGES: readonly { name: string; role: string; library: string }[] = [
  { name: 'libegl1', role: 'EGL loader (libglvnd)', library: 'libEGL.so.1' },
  { name: 'libegl-mesa0', role: "Mesa's EGL driver", library: 'libEGL_mesa.so.0' },
  { name: 'libgl1-mesa-dri', role: 'Mesa llvmpipe (swrast_dri.so)', library: 'dri/swrast_dri.so' },
];

export const VULKAN_LOADER = 'libvulkan.so.1';
/** The Debian/Ubuntu package of the Vulkan loader. */
export const VULKAN_LOADER_PACKAGE = 'libvulkan1';
const CHROMIUM_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

function libraryDirs(): string[] {
  const triplet = process.arch === 'arm64' ? 'aarch64-linux-gnu' : process.arch === 'x64' ? 'x86_64-linux-gnu' : '';
  const fromEnv = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  const system = ['/lib', '/usr/lib', '/lib64', '/usr/lib64', '/usr/local/lib'];
  return [...fromEnv, ...(triplet ? [`/lib/${triplet}`, `/usr/lib/${triplet}`] : []), ...system];
}

/** Where the dynamic linker would find `name` (a path, or 'ld.so.cache'), or null. */
export function findLibrary(fs: Fs, name: string): string | null {
  for (const dir of libraryDirs()) {
    const path = `${dir}/${name}`;
    if (fs.existsSync(path)) return path;
  }
  // Libraries in directories listed only in /etc/ld.so.conf.d are named in the linker's cache.
  if (!name.includes('/')) {
    try {
      if (fs.readFileSync('/etc/ld.so.cache').includes(name)) return 'ld.so.cache';
    } catch {
      // no cache (musl, a minimal container)
    }
  }
  return null;
}

/** NVIDIA, AMD and Intel GPUs with a device node or driver on this Linux machine. */
export function findGpus(fs: Fs): GpuNode[] {
  const found: GpuNode[] = [];
  for (const path of ['/dev/nvidia0', '/proc/driver/nvidia/version']) {
    if (fs.existsSync(path)) {
      found.push({ vendor: 'NVIDIA', path });
      break;
    }
  }
  let nodes: string[] = [];
  try {
    nodes = fs.readdirSync('/dev/dri').filter((n) => n.startsWith('renderD'));
  } catch {
    // no DRM devices (a container, a machine without a GPU)
  }
  for (const node of nodes) {
    let id = '';
    try {
      id = fs.readFileSync(`/sys/class/drm/${node}/device/vendor`, 'utf8').trim();
    } catch {
      continue;
    }
    const vendor = PCI_VENDORS[id];
    if (vendor && !found.some((g) => g.vendor === vendor)) found.push({ vendor, path: `/dev/dri/${node}` });
  }
  return found;
}

/** Installed state of Debian packages by one dpkg-query call; null where dpkg is absent. */
async function dpkgInstalled(names: string[]): Promise<Map<string, boolean> | null> {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${Status}\\n', ...names], { encoding: 'utf8' });
  if (r.error) return null;
  const installed = new Map(names.map((n) => [n, false]));
  for (const line of r.stdout.split('\n')) {
    const [pkg, ...status] = line.split(' ');
    if (installed.has(pkg.replace(/:.*/, ''))) installed.set(pkg.replace(/:.*/, ''), status.join(' ') === 'install ok installed');
  }
  return installed;
}

function findOnPath(fs: Fs, names: string[]): string | null {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    for (const name of names) if (fs.existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return null;
}

/**
 * The packages bionas can use here: the CPU fallback's (by dpkg, else by their libraries),
 * the Vulkan loader, and Chromium for the browser tests (BIONAS_CHROMIUM, else on PATH).
 */
export async function hostPackages(fs: Fs): Promise<HostPackage[]> {
  const names = [...CPU_FALLBACK_PACKAGES.map((p) => p.name), VULKAN_LOADER_PACKAGE];
  const dpkg = await dpkgInstalled(names);
  const byLibrary = (name: string, role: string, library: string): HostPackage => {
    if (dpkg) return { name, role, present: !!dpkg.get(name), evidence: 'dpkg' };
    const path = findLibrary(fs, library);
    return { name, role, present: !!path, evidence: path ?? `no ${library}` };
  };
  const chromium = process.env.BIONAS_CHROMIUM ?? findOnPath(fs, CHROMIUM_NAMES);
  return [
    ...CPU_FALLBACK_PACKAGES.map((p) => byLibrary(p.name, p.role, p.library)),
    byLibrary(VULKAN_LOADER_PACKAGE, 'Vulkan loader (GPUs)', VULKAN_LOADER),
    {
      name: 'chromium', role: 'browser tests', present: !!chromium && fs.existsSync(chromium),
      evidence: process.env.BIONAS_CHROMIUM ? `BIONAS_CHROMIUM=${chromium}` : chromium ?? 'not on PATH',
    },
  ];
}
