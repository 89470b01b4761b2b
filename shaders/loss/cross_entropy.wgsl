// cross_entropy: per-row loss of logits [N, K] (row-major) against i32 labels [N], with label
// smoothing eps: the target is q = (1 - eps) * onehot(label) + eps / K, so
//   loss[i] = (1 - eps) * (lse_i - x[i, label]) + eps * (lse_i - sum_k x[i, k] / K),
//   lse_i = m + log(sum_k exp(x[i, k] - m)), m = max_k x[i, k]   (stable: max subtracted).
// Also writes lse[i] for the backward. A label outside [0, K) is never used as an index: the
// row's loss is NaN (the bits in params.nanBits), so a bad label shows in the result.
// Bindings: params (uniform), logits (read), labels (read, i32), loss, lse (written, [N]).
// Entry points: thread_main (a thread per row: i = gid.x + gid.y * nwg.x * WG) and group_main
// (a workgroup per row, row = wid.x + wid.y * nwg.x, tree in workgroup memory, WG a power of two).

struct Params { N: u32, K: u32, smoothing: f32, nanBits: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;

override WG: u32 = 64;

var<workgroup> red: array<f32, WG>;

fn group_reduce(v: f32, l: u32, take_max: bool) -> f32 {
  red[l] = v;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (l < w) {
      if (take_max) { red[l] = max(red[l], red[l + w]); } else { red[l] = red[l] + red[l + w]; }
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn finish(i: u32, m: f32, s: f32, sumx: f32) {
  let K = params.K;
  let label = labels[i];
  let l = m + log(s);
  lse[i] = l;
  if (label < 0 || u32(label) >= K) {
    loss[i] = bitcast<f32>(params.nanBits);
    return;
  }
  let eps = params.smoothing;
  // Both terms are >= 0 and exact 0 when K = 1: no cancellation between them.
  loss[i] = (1.0 - eps) * (l - logits[i * K + u32(label)]) + eps * (l - sumx / f32(K));
}

@compute @workgroup_size(WG)
fn thread_main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.N) { return; }
  let K = params.K;
  let base = i * K;
  var m = logits[base];
  var sumx = 0.0;
  for (var k = 0u; k < K; k++) {
    let v = logits[base + k];
    m = max(m, v);
    sumx += v;
  }
  var s = 0.0;
  for (var k = 0u; k < K; k++) { s += exp(logits[base + k] - m); }
  finish(i, m, s, sumx);
}

@compute @workgroup_size(WG)
fn group_main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
              @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = wid.x + wid.y * nwg.x;
  if (i >= params.N) { return; }
  let K = params.K;
  let base = i * K;
  let l = lid.x;
  var pm = logits[base];
  var px = 0.0;
  for (var k = l; k < K; k += WG) {
    let v = logits[base + k];
    pm = max(pm, v);
    px += v;
  }
  let m = group_reduce(pm, l, true);
  let sumx = group_reduce(px, l, false);
  var ps = 0.0;
  for (var k = l; k < K; k += WG) { ps += exp(logits[base + k] - m); }
  let s = group_reduce(ps, l, false);
  if (l == 0u) {
    finish(i, m, s, sumx);
  }
}
