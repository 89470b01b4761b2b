// The engine's public API, for Node and for the browser bundle.
export { initGpu, shutdownGpu, gpu, GpuError } from './gpu/runtime.js';
export { Tensor, scope, keep } from './tensor.js';
export { backward, noGrad, withExactGradients, exactGradients } from './autograd.js';
export * from './ops/elementwise.js';
export * from './ops/fill.js';
