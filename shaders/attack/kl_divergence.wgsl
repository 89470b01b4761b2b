// kl_divergence: per-row KL(p || softmax(z)) = sum_k p[k] * (log p[k] - log softmax(z)[k]), the
// loss TPGD ascends (PyTorch's KLDivLoss(log_softmax(z), p): a term with p[k] = 0 counts 0).
// log softmax(z)[k] = z[k] - lse, lse = m + log(sum_k exp(z[k] - m)), m = max_k z[k] (stable).
// Also writes stats[i] = (lse, sum_k p[k]) for the backward.
// Layout: z, p [N, K] row-major. Bindings: params (uniform), logits (read), p (read), stats
// (written, [N, 2]), loss (written, [N]).
// Tiling: 1-D, one thread per row (i = gid.x + gid.y * nwg.x * WG), loops over the K values.

struct Params { N: u32, K: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> p: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> loss: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.N) { return; }
  let K = params.K;
  let base = i * K;
  var m = logits[base];
  for (var k = 1u; k < K; k++) { m = max(m, logits[base + k]); }
  var s = 0.0;
  for (var k = 0u; k < K; k++) { s += exp(logits[base + k] - m); }
  let lse = m + log(s);
  var kl = 0.0;
  var sumP = 0.0;
  for (var k = 0u; k < K; k++) {
    let pk = p[base + k];
    sumP += pk;
    if (pk > 0.0) { kl += pk * (log(pk) - (logits[base + k] - lse)); }
  }
  loss[i] = kl;
  stats[i * 2u] = lse;
  stats[i * 2u + 1u] = sumP;
}
