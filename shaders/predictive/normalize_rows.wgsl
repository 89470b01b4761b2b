// pc_normalize_rows: scales every row of w [rows, K] (conv filters [O, C, kh, kw] viewed as
// [O, C*kh*kw], row-major) to unit L2 norm, and the backward of that map:
//   MODE 0:  out[o, :] = w[o, :] / max(|w[o, :]|, eps)
//   MODE 1:  out[o, :] = (g[o, :] - v * <v, g[o, :]>) / |w[o, :]|  with v = w[o, :] / |w[o, :]|
//            (g[o, :] / eps when |w[o, :]| <= eps, the derivative of w / eps)
// with eps = 1e-12. Bindings: params (uniform), w, g (read; g unused in MODE 0), out (written).
// Tiling: 1-D, one thread per row (rows are short: C*kh*kw values).

struct Params { rows: u32, K: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;
override MODE: u32 = 0;
const EPS: f32 = 1e-12;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = gid.x + gid.y * nwg.x * WG;
  if (o >= params.rows) {
    return;
  }
  let base = o * params.K;
  var ss: f32 = 0.0;
  for (var k = 0u; k < params.K; k++) {
    let v = w[base + k];
    ss += v * v;
  }
  let norm = sqrt(ss);
  if (MODE == 0u) {
    let inv = 1.0 / max(norm, EPS);
    for (var k = 0u; k < params.K; k++) {
      out[base + k] = w[base + k] * inv;
    }
    return;
  }
  if (norm <= EPS) {
    for (var k = 0u; k < params.K; k++) {
      out[base + k] = g[base + k] / EPS;
    }
    return;
  }
  let inv = 1.0 / norm;
  var vg: f32 = 0.0;
  for (var k = 0u; k < params.K; k++) {
    vg += w[base + k] * inv * g[base + k];
  }
  for (var k = 0u; k < params.K; k++) {
    out[base + k] = (g[base + k] - w[base + k] * inv * vg) * inv;
  }
}
