// square_init: Square's Linf start, vertical stripes (Andriushchenko et al. 2020):
// out[n, c, h, w] = clamp(x[n, c, h, w] + eps * sign(t[n, c, w]), 0, 1), t ~ U(-1, 1) drawn
// once per (image, channel, column) as torchattacks' random_choice([N, C, 1, W]); sign(0) = 0.
// Layout: NCHW row-major; t is [N, C, W].
// Bindings: params, x (read), t (read), out (written).
// Tiling: 1-D over out, WG threads, one element each.

struct Params {
  n: u32,
  hw: u32,
  w: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let stripe = (i / params.hw) * params.w + i % params.w;
  out[i] = clamp(x[i] + params.eps * sign(t[stripe]), 0.0, 1.0);
}
