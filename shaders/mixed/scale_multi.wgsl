// scale_multi: o_j = w[index_j] * g for j < TERMS (1..8), elementwise, reading g once: the
// MixedOp input gradients dx_k = weights[k] * g, the weights read from a GPU tensor.
// index_j = idx_lo[j] for j < 4, idx_hi[j - 4] after. Slots j >= TERMS are not written, but
// each output slot needs its own buffer (writable bindings must not alias).
// V is the element type: f32, or vec4<f32> when the length is a multiple of 4 (src/ops/mixed.ts
// builds that variant by replacing the alias line).
// Layout: flat, n elements of V. Bindings: params, w (read, f32), g (read), o0..o7 (read_write).
// Tiling: 1-D, WG threads, one element of V each; grid folded into y past 65535 groups.

alias V = f32;

struct Params {
  n: u32,
  idx_lo: vec4<u32>,
  idx_hi: vec4<u32>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<V>;
@group(0) @binding(3) var<storage, read_write> o0: array<V>;
@group(0) @binding(4) var<storage, read_write> o1: array<V>;
@group(0) @binding(5) var<storage, read_write> o2: array<V>;
@group(0) @binding(6) var<storage, read_write> o3: array<V>;
@group(0) @binding(7) var<storage, read_write> o4: array<V>;
@group(0) @binding(8) var<storage, read_write> o5: array<V>;
@group(0) @binding(9) var<storage, read_write> o6: array<V>;
@group(0) @binding(10) var<storage, read_write> o7: array<V>;

override WG: u32 = 64;
override TERMS: u32 = 8;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let gv = g[i];
  o0[i] = w[params.idx_lo.x] * gv;
  if (TERMS > 1u) { o1[i] = w[params.idx_lo.y] * gv; }
  if (TERMS > 2u) { o2[i] = w[params.idx_lo.z] * gv; }
  if (TERMS > 3u) { o3[i] = w[params.idx_lo.w] * gv; }
  if (TERMS > 4u) { o4[i] = w[params.idx_hi.x] * gv; }
  if (TERMS > 5u) { o5[i] = w[params.idx_hi.y] * gv; }
  if (TERMS > 6u) { o6[i] = w[params.idx_hi.z] * gv; }
  if (TERMS > 7u) { o7[i] = w[params.idx_hi.w] * gv; }
}
