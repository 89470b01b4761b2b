// softmax / log_softmax over the last axis of x [N, K] (row-major), numerically stable:
//   m = max_k x[i, k], s = sum_k exp(x[i, k] - m);
//   LOG 0: out[i, k] = exp(x[i, k] - m) / s        LOG 1: out[i, k] = x[i, k] - m - log(s)
// Bindings: params (uniform), x (read), out (written).
// Entry points:
//   thread_main one thread per row (short rows): i = gid.x + gid.y * nwg.x * WG.
//   group_main  one workgroup of WG threads per row (long rows), row = wid.x + wid.y * nwg.x;
//               the threads stride over the row and combine in a tree in workgroup memory
//               (WG a power of two).

struct Params { N: u32, K: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;
override LOG: u32 = 0;

var<workgroup> red: array<f32, WG>;

fn group_max(v: f32, l: u32) -> f32 {
  red[l] = v;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (l < w) { red[l] = max(red[l], red[l + w]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn group_sum(v: f32, l: u32) -> f32 {
  red[l] = v;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (l < w) { red[l] = red[l] + red[l + w]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn thread_main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.N) { return; }
  let K = params.K;
  let base = i * K;
  var m = x[base];
  for (var k = 1u; k < K; k++) { m = max(m, x[base + k]); }
  var s = 0.0;
  for (var k = 0u; k < K; k++) { s += exp(x[base + k] - m); }
  if (LOG == 1u) {
    let shift = m + log(s);
    for (var k = 0u; k < K; k++) { out[base + k] = x[base + k] - shift; }
  } else {
    let inv = 1.0 / s;
    for (var k = 0u; k < K; k++) { out[base + k] = exp(x[base + k] - m) * inv; }
  }
}

@compute @workgroup_size(WG)
fn group_main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
              @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = wid.x + wid.y * nwg.x;
  if (i >= params.N) { return; }
  let K = params.K;
  let base = i * K;
  let l = lid.x;
  var pm = x[base];
  for (var k = l; k < K; k += WG) { pm = max(pm, x[base + k]); }
  let m = group_max(pm, l);
  var ps = 0.0;
  for (var k = l; k < K; k += WG) { ps += exp(x[base + k] - m); }
  let s = group_sum(ps, l);
  if (LOG == 1u) {
    let shift = m + log(s);
    for (var k = l; k < K; k += WG) { out[base + k] = x[base + k] - shift; }
  } else {
    let inv = 1.0 / s;
    for (var k = l; k < K; k += WG) { out[base + k] = exp(x[base + k] - m) * inv; }
  }
}
