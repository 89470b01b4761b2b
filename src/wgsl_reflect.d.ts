// wgsl_reflect's "main" is CommonJS that fails under Node ESM; we import its ES module file.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
