// `bionas info`: which adapter was chosen and why, and which system packages are there.
import { initGpu } from '../gpu/runtime.js';
import { isVerbose } from '../gpu/device.js';
import { hostPackages, findGpus } from '../gpu/host.js';

const HELP = `usage: bionas info [--verbose]

Prints the adapter, backend, feature level, key limits and tile shapes, why other backends
were skipped, and (Linux) the packages the CPU fallback, a GPU and the browser tests need.
BIONAS_BACKEND=vulkan|d3d12|metal|opengl forces a backend; --verbose (or BIONAS_VERBOSE=1)
shows Dawn's own start-up messages.`;

export async function infoCommand(args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(HELP);
    return;
  }
  let rt;
  try {
    rt = await initGpu();
  } catch (e) {
    // The packages say what is missing when no adapter opens, which is when they matter most.
    await printPackages();
    throw e;
  }
  const i = rt.info;
  console.log(`adapter:       ${i.description || '(no description)'} (vendor ${i.vendor || '?'}, ${i.architecture || '?'})`);
  console.log(`backend:       ${i.backend}${i.isSoftware ? ' (software rasteriser)' : ''}`);
  console.log(`feature level: ${i.featureLevel}`);
  for (const [k, v] of Object.entries(i.limits)) console.log(`  ${k.padEnd(36)} ${v}`);
  console.log(`tiling:        ${JSON.stringify(rt.tuning)}`);
  if (i.skipped.length) console.log(`skipped:       ${i.skipped.join('; ')}`);
  if (i.notes.length) console.log(`notes:         ${i.notes.join('; ')}`);
  console.log(`dawn messages: ${dawnMessages()}`);
  await printPackages();
}

function dawnMessages(): string {
  if (isVerbose()) return 'shown as Dawn prints them (--verbose)';
  if (process.env.BIONAS_DAWN_FILTERED) return 'known start-up notices (limit clamps, no Vulkan loader) hidden; --verbose or BIONAS_VERBOSE=1 shows them';
  return 'printed as Dawn writes them (bionas was not started through its command)';
}

async function printPackages(): Promise<void> {
  if (process.platform !== 'linux') {
    console.log('packages:      (Linux only: Mesa llvmpipe, the CPU fallback, is not used here)');
    return;
  }
  const fs = await import('node:fs');
  const packages = await hostPackages(fs);
  const gpus = findGpus(fs);
  console.log(`packages:      Debian/Ubuntu names; the CPU fallback (Dawn's OpenGL backend on Mesa llvmpipe) needs the first three`);
  for (const p of packages) {
    const evidence = p.evidence === 'dpkg' ? '' : ` [${p.evidence}]`;
    console.log(`  ${p.name.padEnd(16)} ${p.present ? 'present' : 'missing'}  ${p.role}${evidence}`);
  }
  const missing = packages.filter((p) => !p.present && (p.name !== 'libvulkan1' || gpus.length > 0)).map((p) => p.name);
  if (missing.length) console.log(`  to install (as root): apt-get install ${missing.join(' ')}`);
  console.log(`gpus:          ${gpus.length ? gpus.map((g) => `${g.vendor} (${g.path})`).join(', ') : 'none found (no /dev/nvidia0, no NVIDIA/AMD/Intel /dev/dri/renderD*)'}`);
}
