// channel_affine: out[n, c, p] = x[n, c, p] * a[c] + b[c] (NCHW). The attacks' model input:
// images in [0, 1] normalised inside the model (a = 1/std, b = -mean/std); the same kernel with
// b = 0 is its backward (g * a).
// Bindings: params, x (read), out (written). a and b are uniforms (at most 4 channels).
// Tiling: 1-D over out, WG threads, one element each.

struct Params {
  n: u32,
  channels: u32,
  hw: u32,
  pad: u32,
  a: vec4<f32>,
  b: vec4<f32>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let c = (i / params.hw) % params.channels;
  out[i] = x[i] * params.a[c] + params.b[c];
}
