// clip_scale: g = g * min(1, max_norm / (norm[0] + 1e-6)), the factor read from the GPU
// buffer that holds the global gradient norm (clipGradNorm), so nothing is read back.
// Layout: flat, n values. Bindings: params, norm (read, [1]), g (read_write).
// Tiling: 1-D, WG threads, one element each; grid folded into y past 65535 groups.

struct Params {
  n: u32,
  max_norm: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> norm: array<f32>;
@group(0) @binding(2) var<storage, read_write> g: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let factor = min(1.0, params.max_norm / (norm[0] + 1e-6));
  g[i] = g[i] * factor;
}
