import { describe, it, expect } from 'vitest';
import { useGpu, rng, freshSeed, randomArray, expectClose, dispatchCount } from './util.js';
import { Tensor, scope } from '../src/tensor.js';
import { add, sub, mul, scale, relu, reluBackward, axpy } from '../src/ops/elementwise.js';
import { backward } from '../src/autograd.js';
import { Kernel } from '../src/gpu/kernels.js';

const rt = useGpu();

describe('elementwise kernels', () => {
  // Each size runs from buffers and from texture copies (CPU rasterisers; forced on here):
  // 1031 ends mid-texel (the last texel's padding is never stored), 4 is one texel, 4099 spans
  // more than one texture row of 1024 texels.
  for (const n of [1031, 4, 4099]) {
    for (const textured of [false, true]) {
      it(`add, sub, mul, scale, relu, relu backward and axpy match the CPU on ${n} values, ${textured ? 'from texture copies' : 'from buffers'}`, async () => {
        const tuning = rt().tuning;
        const saved = tuning.texturedElementwise;
        tuning.texturedElementwise = textured ? { minSize: 0 } : null;
        const count = () => dispatchCount(rt(), (k) => k.startsWith('binary_texture['));
        const before = count();
        try {
          const next = rng(freshSeed(`elementwise ${n} ${textured}`));
          const a = randomArray(n, next), b = randomArray(n, next);
          const ta = Tensor.fromData(a, [n]), tb = Tensor.fromData(b, [n]);
          expectClose(await add(ta, tb).data(), a.map((x, i) => x + b[i]), 1e-6, 'add');
          expectClose(await sub(ta, tb).data(), a.map((x, i) => x - b[i]), 1e-6, 'sub');
          expectClose(await mul(ta, tb).data(), a.map((x, i) => x * b[i]), 1e-6, 'mul');
          expectClose(await scale(ta, 2.5).data(), a.map((x) => x * 2.5), 1e-6, 'scale');
          expectClose(await relu(ta).data(), a.map((x) => Math.max(x, 0)), 1e-6, 'relu');
          expectClose(await reluBackward(ta, tb).data(), a.map((x, i) => (b[i] > 0 ? x : 0)), 1e-6, 'relu backward');
          const acc = Tensor.fromData(b, [n]);
          axpy(acc, ta, -0.5);
          expectClose(await acc.data(), b.map((x, i) => x - 0.5 * a[i]), 1e-6, 'axpy');
          expect(count() - before).toBe(textured ? 7 : 0);
        } finally {
          tuning.texturedElementwise = saved;
        }
      });
    }
  }

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

  it('textures: written by one kernel, fetched by the next; a buffer for a texture slot and a released texture are refused', async () => {
    const write = new Kernel('texture_write', `
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var dst: texture_storage_2d<rgba32float, write>;
@compute @workgroup_size(1) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  textureStore(dst, vec2<u32>(id.x, id.y), src[id.y * 3u + id.x]);
}`);
    const read = new Kernel('texture_read', `
@group(0) @binding(0) var src: texture_2d<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@compute @workgroup_size(1) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  dst[id.x * 2u + id.y] = textureLoad(src, vec2<i32>(i32(id.x), i32(id.y)), 0) * 2.0;
}`);
    const next = rng(freshSeed('texture round trip'));
    const data = randomArray(3 * 2 * 4, next);
    const a = Tensor.fromData(data, [2, 3, 4]);
    const out = Tensor.empty([3, 2, 4]);
    const tex = rt().textures.acquire(3, 2, 'test');
    rt().dispatch(write, { src: a.buffer, dst: tex }, {}, [3, 2]);
    rt().dispatch(read, { src: tex, dst: out.buffer }, {}, [3, 2]);
    // out[x, y] = 2 * a[y, x]: the texel at (x, y) holds row y, column x of a.
    const want = new Float64Array(24);
    for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) for (let e = 0; e < 4; e++) want[(x * 2 + y) * 4 + e] = 2 * data[(y * 3 + x) * 4 + e];
    expectClose(await out.data(), want, 1e-6, 'texture round trip');
    expect(() => rt().dispatch(read, { src: a.buffer as any, dst: out.buffer }, {}, [1])).toThrow(/kernel texture_read: binding 'src' takes a texture/);
    expect(() => rt().dispatch(write, { src: tex as any, dst: tex }, {}, [1])).toThrow(/kernel texture_write: binding 'src' takes a buffer/);
    rt().textures.release(tex);
    expect(() => rt().dispatch(read, { src: tex, dst: out.buffer }, {}, [1])).toThrow(/binding 'src' is a released texture/);
    expect(() => rt().textures.release(tex)).toThrow(/released twice/);
    expect(() => rt().textures.acquire(rt().textures.maxDimension + 1, 1, 'too wide')).toThrow(/too wide: a \d+ x 1 texture exceeds/);
  });

  it('a buffer copied into a texture, row-major (whole rows and a partial last row); copies that do not fit are refused', async () => {
    const read = new Kernel('texture_read_rows', `
@group(0) @binding(0) var src: texture_2d<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@compute @workgroup_size(1) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.y * 16u + id.x;
  if (i < arrayLength(&dst)) { dst[i] = textureLoad(src, vec2<u32>(id.x, id.y), 0); }
}`);
    const next = rng(freshSeed('copy to texture'));
    const texels = 2 * 16 + 5;
    const data = randomArray(texels * 4, next);
    const a = Tensor.fromData(data, [texels * 4]);
    const tex = rt().textures.acquire(16, 3, 'test');
    const out = Tensor.empty([texels * 4]);
    rt().recorder.copyToTexture(a.buffer, tex, texels);
    rt().dispatch(read, { src: tex, dst: out.buffer }, {}, [16, 3]);
    expect(Array.from(await out.data())).toEqual(Array.from(data));
    expect(() => rt().recorder.copyToTexture(a.buffer, tex, 3 * 16 + 1)).toThrow(/49 texels exceed a 16 x 3 texture/);
    const narrow = rt().textures.acquire(12, 4, 'test');
    expect(() => rt().recorder.copyToTexture(a.buffer, narrow, 30)).toThrow(/a 12-texel row is not a multiple of 256 bytes/);
    rt().textures.release(narrow);
    rt().textures.release(tex);
  });

  it('a buffer bound both read and written in one dispatch is refused, naming the kernel and bindings', () => {
    const t = Tensor.fromData([1, 2, 3], [3]);
    expect(() => axpy(t, t, 2)).toThrow(/kernel binary\[.*\]: bindings '[ab]' and 'out' are the same buffer, and one of them is written/);
  });
});
