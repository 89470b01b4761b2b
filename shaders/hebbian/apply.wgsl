// hebbian_apply: the Hebbian update of the filters, in place:
//   h[e] = clamp(h[e] + rate * u[e], -1, 1)    for e < n = O*C*kh*kw
// Layout: h and u [O, C, kh, kw] row-major (u the unscaled correlation).
// Bindings: params (uniform), u (read), h (read_write).
// Tiling: 1-D, one thread per filter element.

struct Params { n: u32, rate: f32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<storage, read_write> h: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * WG;
  if (e < params.n) {
    h[e] = clamp(h[e] + params.rate * u[e], -1.0, 1.0);
  }
}
