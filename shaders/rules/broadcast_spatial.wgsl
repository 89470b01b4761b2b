// broadcast_spatial: out[n, k, p] = e[n, k] for every position p < hw (DFA: the output error
// e = dLoss/dlogits is the same at every position of a conv layer's output map).
// Layout: e [N, K] row-major, out [N, K, H*W] (NCHW). Bindings: params, e (read), out (written).
// Tiling: 1-D over out, WG threads, one element each.

struct Params { n: u32, hw: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> e: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  out[i] = e[i / params.hw];
}
