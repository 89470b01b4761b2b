// hebbian_apply: adds the S partial correlations of every filter element (in order, so the
// result is deterministic) and either
//   MODE 0: updates the filters in place, h[e] = clamp(h[e] + rate * U[e], -1, 1)
//   MODE 1: writes h[e] = U[e] (the unscaled update, for tests; h is then an output)
// for e < OK = O*C*kh*kw. Layout: partial [S, OK], h [OK] (filter layout [O, C, kh, kw]).
// Bindings: params (uniform), partial (read), h (read_write).
// Tiling: 1-D, one thread per filter element.

struct Params { OK: u32, S: u32, rate: f32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> h: array<f32>;

override WG: u32 = 64;
override MODE: u32 = 0;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * WG;
  if (e >= params.OK) {
    return;
  }
  var u: f32 = 0.0;
  for (var s = 0u; s < params.S; s++) {
    u += partial[s * params.OK + e];
  }
  if (MODE == 0u) {
    h[e] = clamp(h[e] + params.rate * u, -1.0, 1.0);
  } else {
    h[e] = u;
  }
}
