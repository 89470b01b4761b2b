// weighted_sum: out = (ACC ? out : 0) + sum_{j < TERMS} w[o + j] * x_j, elementwise, where
// o = (i / group_len) * w_stride + w_offset: with batch groups (candidates scored side by side,
// each slice of group_len elements mixed by its own row of w) or, with w_stride = 0, one row:
// TERMS (1..8) terms of the DARTS MixedOp per dispatch, the weights read from a GPU tensor by
// index (softmax(alpha) never comes back to the CPU). Slots j >= TERMS are not read (bind any
// buffer there). A sum of N terms takes ceil(N / 8) dispatches: the first with ACC = 0.
// V is the element type: f32, or vec4<f32> when the length is a multiple of 4 (src/ops/mixed.ts
// builds that variant by replacing the alias line; on llvmpipe it halves the time).
// Layout: flat, n elements of V, every x_j and out the same shape. Bindings: params,
// w (read, f32), x0..x7 (read), out (read_write).
// Tiling: 1-D, WG threads, one element of V each; grid folded into y past 65535 groups.

alias V = f32;

struct Params {
  n: u32,
  w_offset: u32,
  group_len: u32,
  w_stride: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> x0: array<V>;
@group(0) @binding(3) var<storage, read> x1: array<V>;
@group(0) @binding(4) var<storage, read> x2: array<V>;
@group(0) @binding(5) var<storage, read> x3: array<V>;
@group(0) @binding(6) var<storage, read> x4: array<V>;
@group(0) @binding(7) var<storage, read> x5: array<V>;
@group(0) @binding(8) var<storage, read> x6: array<V>;
@group(0) @binding(9) var<storage, read> x7: array<V>;
@group(0) @binding(10) var<storage, read_write> out: array<V>;

override WG: u32 = 64;
override TERMS: u32 = 8;
override ACC: u32 = 0;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let o = (i / params.group_len) * params.w_stride + params.w_offset;
  var s = w[o] * x0[i];
  if (TERMS > 1u) { s = s + w[o + 1u] * x1[i]; }
  if (TERMS > 2u) { s = s + w[o + 2u] * x2[i]; }
  if (TERMS > 3u) { s = s + w[o + 3u] * x3[i]; }
  if (TERMS > 4u) { s = s + w[o + 4u] * x4[i]; }
  if (TERMS > 5u) { s = s + w[o + 5u] * x5[i]; }
  if (TERMS > 6u) { s = s + w[o + 6u] * x6[i]; }
  if (TERMS > 7u) { s = s + w[o + 7u] * x7[i]; }
  if (ACC == 1u) { s = s + out[i]; }
  out[i] = s;
}
