// Builds, from the same sources: the Node CLI (dist/bionas.mjs, and its stderr filter), the benchmarks
// (dist/bench.mjs) and the browser ESM bundle of the engine (dist/bionas.browser.mjs).
// WGSL files are inlined as strings in every bundle.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';

const common = {
  bundle: true,
  format: 'esm',
  target: 'es2022',
  sourcemap: true,
  loader: { '.wgsl': 'text' },
  logLevel: 'warning',
};

// dawn.node is a native addon: Node loads it from node_modules at run time.
const node = { ...common, platform: 'node', external: ['webgpu'], banner: { js: '#!/usr/bin/env node' } };

await Promise.all([
  // src/cli/bin.ts runs src/cli/main.ts, in a child whose native stderr it filters (Dawn's notices).
  build({ ...node, entryPoints: ['src/cli/bin.ts'], outfile: 'dist/bionas.mjs' }),
  // The same filter for npm test's stderr (scripts/test.sh).
  build({ ...node, entryPoints: ['src/cli/filter_dawn.ts'], outfile: 'dist/filter-dawn.mjs' }),
  // The benchmarks bundle tfjs (devDependencies), whose CommonJS Node builds call require():
  // an ESM bundle has no require, so the banner makes one.
  build({
    ...node, entryPoints: ['bench/main.ts'], outfile: 'dist/bench.mjs',
    banner: { js: `${node.banner.js}\nimport { createRequire as __benchRequire } from 'node:module';\nconst require = __benchRequire(import.meta.url);` },
  }),
  // Node-only modules are loaded lazily (dynamic import) by file-writing code; the browser never reaches them.
  build({ ...common, platform: 'browser', entryPoints: ['src/index.ts'], outfile: 'dist/bionas.browser.mjs', external: ['webgpu', 'node:*'] }),
]);
chmodSync('dist/bionas.mjs', 0o755);
