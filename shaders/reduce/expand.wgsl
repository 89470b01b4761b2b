// reduce_expand: the backward of a sum over the middle extent of [outer, R, inner]:
//   out[(o * R + r) * inner + i] = alpha * g[o * inner + i]   (broadcast of g along R).
// Layout: row-major, g holds outer * inner values, out outer * R * inner.
// Bindings: params (uniform), g (read), out (written).
// Tiling: 1-D, one thread per output element, i = gid.x + gid.y * nwg.x * WG.

struct Params { n: u32, R: u32, inner: u32, alpha: f32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = gid.x + gid.y * nwg.x * WG;
  if (j >= params.n) { return; }
  let inner = params.inner;
  let o = j / (params.R * inner);
  let i = j % inner;
  out[j] = g[o * inner + i] * params.alpha;
}
