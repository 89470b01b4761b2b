import { describe, it, expect } from 'vitest';
import { useGpu, rng, freshSeed, randomArray, expectClose } from './util.js';
import { Tensor, scope } from '../src/tensor.js';
import { add, sub, mul, scale, relu, axpy } from '../src/ops/elementwise.js';
import { backward } from '../src/autograd.js';
import { Kernel } from '../src/gpu/kernels.js';

const rt = useGpu();

describe('elementwise kernels', () => {
  it('add, sub, mul, scale and relu match the CPU on an odd size', async () => {
    const next = rng(freshSeed('elementwise'));
    const n = 1031;
    const a = randomArray(n, next), b = randomArray(n, next);
    const ta = Tensor.fromData(a, [n]), tb = Tensor.fromData(b, [n]);
    expectClose(await add(ta, tb).data(), a.map((x, i) => x + b[i]), 1e-6, 'add');
    expectClose(await sub(ta, tb).data(), a.map((x, i) => x - b[i]), 1e-6, 'sub');
    expectClose(await mul(ta, tb).data(), a.map((x, i) => x * b[i]), 1e-6, 'mul');
    expectClose(await scale(ta, 2.5).data(), a.map((x) => x * 2.5), 1e-6, 'scale');
    expectClose(await relu(ta).data(), a.map((x) => Math.max(x, 0)), 1e-6, 'relu');
  });

  it('a shape mismatch throws an error naming the op and both shapes', () => {
    const a = Tensor.fromData([1, 2, 3], [3]);
    const b = Tensor.fromData([1, 2], [2]);
    expect(() => add(a, b)).toThrow(/add: shapes differ: \[3\] and \[2\]/);
  });
});

describe('autograd', () => {
  it('gradients of relu(a*b + a) flow to both inputs', async () => {
    const next = rng(freshSeed('autograd'));
    const n = 37;
    const a = randomArray(n, next), b = randomArray(n, next);
    const ta = Tensor.fromData(a, [n]), tb = Tensor.fromData(b, [n]);
    ta.requiresGrad = tb.requiresGrad = true;
    const y = relu(add(mul(ta, tb), ta));
    backward(y, Tensor.fromData(new Float32Array(n).fill(1), [n]));
    const on = a.map((x, i) => (x * b[i] + x > 0 ? 1 : 0));
    expectClose(await ta.grad!.data(), on.map((m, i) => m * (b[i] + 1)), 1e-6, 'da');
    expectClose(await tb.grad!.data(), on.map((m, i) => m * a[i]), 1e-6, 'db');
  });

  it('scopes release what they made and keep what they return', () => {
    const before = rt().pool.liveBytes;
    const kept = scope(() => {
      const a = Tensor.fromData([1, 2, 3], [3]);
      const b = add(a, a);
      return add(b, a);
    });
    expect(kept.released).toBe(false);
    kept.release();
    expect(rt().pool.liveBytes).toBe(before);
  });

  it('use after release and double release throw', () => {
    const a = Tensor.fromData([1, 2], [2]);
    a.release();
    expect(() => add(a, a)).toThrow(/released tensor/);
    expect(() => a.release()).toThrow(/released tensor/);
  });
});

describe('GPU errors become thrown errors', () => {
  it('a WGSL compile error names the kernel and the line', async () => {
    const broken = new Kernel('broken_kernel', `
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(1) fn main() { out[0] = undefined_name; }`);
    const t = Tensor.empty([1]);
    rt().dispatch(broken, { out: t.buffer }, {}, [1]);
    await expect(rt().sync()).rejects.toThrow(/broken_kernel[\s\S]*line 3/);
  });

  it('a validation error at dispatch names the kernel', async () => {
    // A storage binding smaller than the shader's fixed-size array fails validation.
    const k = new Kernel('too_small_binding', `
@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>, 1024>;
@compute @workgroup_size(1) fn main() { out[0] = vec4<f32>(1.0); }`);
    const t = Tensor.empty([4]);
    rt().dispatch(k, { out: t.buffer }, {}, [1]);
    await expect(rt().sync()).rejects.toThrow(/too_small_binding/);
  });

  it('a buffer bound both read and written in one dispatch is refused, naming the kernel and bindings', () => {
    const t = Tensor.fromData([1, 2, 3], [3]);
    expect(() => axpy(t, t, 2)).toThrow(/kernel binary\[.*\]: bindings '[ab]' and 'out' are the same buffer, and one of them is written/);
  });
});
