// cross_entropy_backward: the fused gradient of cross_entropy with respect to the logits,
//   dx[i, k] = (softmax(x)[i, k] - q[i, k]) * scale * g[G],  softmax = exp(x[i, k] - lse[i]),
//   q = (1 - eps) * onehot(label_i) + eps / K,  G = i when gPerRow = 1 (reduction 'none'), else 0;
// scale = 1 / N for 'mean', 1 otherwise. g is read from its GPU buffer (no readback). A label
// outside [0, K) gives a NaN row (params.nanBits) and is never used as an index.
// Layout: [N, K] row-major. Bindings: params (uniform), logits, labels (i32), lse, g (read), dx (written).
// Tiling: 1-D, one thread per element, i = gid.x + gid.y * nwg.x * WG.

struct Params { n: u32, K: u32, smoothing: f32, scale: f32, gPerRow: u32, nanBits: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = gid.x + gid.y * nwg.x * WG;
  if (j >= params.n) { return; }
  let K = params.K;
  let i = j / K;
  let k = j - i * K;
  let label = labels[i];
  if (label < 0 || u32(label) >= K) {
    dx[j] = bitcast<f32>(params.nanBits);
    return;
  }
  let eps = params.smoothing;
  var q = eps / f32(K);
  if (u32(label) == k) { q += 1.0 - eps; }
  let p = exp(logits[j] - lse[i]);
  var gi = 0u;
  if (params.gPerRow == 1u) { gi = i; }
  dx[j] = (p - q) * params.scale * g[gi];
}
