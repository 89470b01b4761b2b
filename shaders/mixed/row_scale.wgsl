// row_scale: out[i] = scales[i / row] * x[i]: a per-row (per-sample) scale, the drop-path mask
// applied in forward and backward alike.
// Layout: x and out flat [rows, row]. Bindings: params, scales (read), x (read), out (read_write).
// Tiling: 1-D, WG threads, one element each; grid folded into y past 65535 groups.

struct Params {
  n: u32,
  row: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> scales: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  out[i] = scales[i / params.row] * x[i];
}
