// WGSL files are imported as strings: esbuild's text loader in build.mjs, a plugin in vitest.config.ts.
declare module '*.wgsl' {
  const source: string;
  export default source;
}
