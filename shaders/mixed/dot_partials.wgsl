// dot_partials: partial dot products of one vector a with TERMS (1..8) vectors b_j, all of n
// values: workgroup k of G (= params.groups) sums a[i] * b_j[i] over i = k*WG + lid (+ G*WG)...
// and writes partials[base + j * G + k]. sum_rows.wgsl then adds each row of G partials, in a
// fixed order: deterministic, no atomics (WGSL has no float atomics). Binding a as some b_j
// (both read-only) gives a sum of squares. Slots j >= TERMS are not read.
// V is the element type: f32, or vec4<f32> when the length is a multiple of 4 (src/ops/mixed.ts
// builds that variant by replacing the alias line and sets WIDTH = 4); n counts elements of V.
// Layout: flat. Bindings: params, a (read), b0..b7 (read), partials (read_write).
// Tiling: G workgroups (x only) of WG threads, WG a power of two <= 256; each thread strides
// over the vector, then a tree reduction in workgroup memory per term.

alias V = f32;

struct Params {
  n: u32,
  groups: u32,
  base: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<V>;
@group(0) @binding(2) var<storage, read> b0: array<V>;
@group(0) @binding(3) var<storage, read> b1: array<V>;
@group(0) @binding(4) var<storage, read> b2: array<V>;
@group(0) @binding(5) var<storage, read> b3: array<V>;
@group(0) @binding(6) var<storage, read> b4: array<V>;
@group(0) @binding(7) var<storage, read> b5: array<V>;
@group(0) @binding(8) var<storage, read> b6: array<V>;
@group(0) @binding(9) var<storage, read> b7: array<V>;
@group(0) @binding(10) var<storage, read_write> partials: array<f32>;

override WG: u32 = 64;
override TERMS: u32 = 1;
override WIDTH: u32 = 1;

var<workgroup> shared_sums: array<f32, 256>;

// The sum of the lanes of an element (vec4<f32>(v) splats a scalar: take one lane then).
fn lanes(v: V) -> f32 {
  let u = vec4<f32>(v);
  return select(u.x, (u.x + u.y) + (u.z + u.w), WIDTH == 4u);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  var acc: array<V, 8>;
  let stride = params.groups * WG;
  for (var i = wid.x * WG + lid.x; i < params.n; i = i + stride) {
    let av = a[i];
    acc[0] = acc[0] + av * b0[i];
    if (TERMS > 1u) { acc[1] = acc[1] + av * b1[i]; }
    if (TERMS > 2u) { acc[2] = acc[2] + av * b2[i]; }
    if (TERMS > 3u) { acc[3] = acc[3] + av * b3[i]; }
    if (TERMS > 4u) { acc[4] = acc[4] + av * b4[i]; }
    if (TERMS > 5u) { acc[5] = acc[5] + av * b5[i]; }
    if (TERMS > 6u) { acc[6] = acc[6] + av * b6[i]; }
    if (TERMS > 7u) { acc[7] = acc[7] + av * b7[i]; }
  }
  for (var j = 0u; j < TERMS; j = j + 1u) {
    shared_sums[lid.x] = lanes(acc[j]);
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
      if (lid.x < s) { shared_sums[lid.x] = shared_sums[lid.x] + shared_sums[lid.x + s]; }
      workgroupBarrier();
    }
    if (lid.x == 0u) { partials[params.base + j * params.groups + wid.x] = shared_sums[0]; }
    workgroupBarrier();
  }
}
