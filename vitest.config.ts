import { defineConfig } from 'vitest/config';
import { readFileSync } from 'node:fs';

// Same contract as build.mjs: a .wgsl import is the file's text.
const wgslAsText = {
  name: 'wgsl-as-text',
  transform(_code: string, id: string) {
    if (!id.endsWith('.wgsl')) return null;
    return { code: `export default ${JSON.stringify(readFileSync(id, 'utf8'))};`, map: null };
  },
};

export default defineConfig({
  plugins: [wgslAsText],
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Every file opens its own Dawn device; llvmpipe already uses every core, so run files one by one.
    fileParallelism: false,
    pool: 'forks',
  },
});
