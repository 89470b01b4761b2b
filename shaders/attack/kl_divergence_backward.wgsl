// kl_divergence_backward: gradient of the per-row KL(p || softmax(z)) with respect to z, times
// the row's output gradient g[i]: dx[i, k] = (softmax(z)[k] * sum_j p[j] - p[k]) * g[i]
// (softmax(z)[k] = exp(z[k] - lse); lse and sum_j p[j] from the forward's stats).
// Layout: [N, K] row-major. Bindings: params (uniform), logits (read), p (read), stats (read,
// [N, 2]), g (read, [N]), dx (written).
// Tiling: 1-D, one thread per element, j = gid.x + gid.y * nwg.x * WG.

struct Params { n: u32, K: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> p: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = gid.x + gid.y * nwg.x * WG;
  if (j >= params.n) { return; }
  let i = j / params.K;
  let q = exp(logits[j] - stats[i * 2u]);
  dx[j] = (q * stats[i * 2u + 1u] - p[j]) * g[i];
}
