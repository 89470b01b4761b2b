// `bionas info`: which adapter was chosen and why.
import { initGpu } from '../gpu/runtime.js';

export async function infoCommand(args: string[]): Promise<void> {
  if (args.includes('--help')) {
    console.log('usage: bionas info\n\nPrints the adapter, backend, feature level, key limits and tile shapes.\nBIONAS_BACKEND=vulkan|d3d12|metal|opengl forces a backend.');
    return;
  }
  const rt = await initGpu();
  const i = rt.info;
  console.log(`adapter:       ${i.description || '(no description)'} (vendor ${i.vendor || '?'}, ${i.architecture || '?'})`);
  console.log(`backend:       ${i.backend}${i.isSoftware ? ' (software rasteriser)' : ''}`);
  console.log(`feature level: ${i.featureLevel}`);
  for (const [k, v] of Object.entries(i.limits)) console.log(`  ${k.padEnd(36)} ${v}`);
  console.log(`tiling:        ${JSON.stringify(rt.tuning)}`);
  if (i.skipped.length) console.log(`skipped:       ${i.skipped.join('; ')}`);
}
