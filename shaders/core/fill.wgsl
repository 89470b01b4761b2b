// fill: out[i] = bits for i < n, as raw 32-bit words, so one kernel fills f32, i32 and u32
// tensors (a float value is passed bit-cast; poisoning writes the NaN pattern 0x7fc00000).
// Layout: flat. Bindings: params (uniform), out (storage, written).
// Tiling: 1-D, WG threads per workgroup, grid folded into y past 65535 workgroups.

struct Params { n: u32, bits: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < params.n) {
    out[i] = params.bits;
  }
}
