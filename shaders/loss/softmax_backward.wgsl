// softmax / log_softmax backward over the last axis of [N, K] (row-major), from the forward's
// output y and the incoming gradient g:
//   LOG 0 (y = softmax):     dx[i, k] = y[i, k] * (g[i, k] - sum_j g[i, j] * y[i, j])
//   LOG 1 (y = log_softmax): dx[i, k] = g[i, k] - exp(y[i, k]) * sum_j g[i, j]
// Bindings: params (uniform), y, g (read), dx (written).
// Entry points as in softmax.wgsl: thread_main (a thread per row), group_main (a workgroup
// per row, tree in workgroup memory, WG a power of two).

struct Params { N: u32, K: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

override WG: u32 = 64;
override LOG: u32 = 0;

var<workgroup> red: array<f32, WG>;

fn term(k: u32) -> f32 {
  if (LOG == 1u) { return g[k]; }
  return g[k] * y[k];
}

fn grad(k: u32, dot: f32) -> f32 {
  if (LOG == 1u) { return g[k] - exp(y[k]) * dot; }
  return y[k] * (g[k] - dot);
}

@compute @workgroup_size(WG)
fn thread_main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.N) { return; }
  let base = i * params.K;
  var dot = 0.0;
  for (var k = 0u; k < params.K; k++) { dot += term(base + k); }
  for (var k = 0u; k < params.K; k++) { dx[base + k] = grad(base + k, dot); }
}

@compute @workgroup_size(WG)
fn group_main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
              @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = wid.x + wid.y * nwg.x;
  if (i >= params.N) { return; }
  let K = params.K;
  let base = i * K;
  let l = lid.x;
  var part = 0.0;
  for (var k = l; k < K; k += WG) { part += term(base + k); }
  red[l] = part;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (l < w) { red[l] = red[l] + red[l + w]; }
    workgroupBarrier();
  }
  let dot = red[0];
  for (var k = l; k < K; k += WG) { dx[base + k] = grad(base + k, dot); }
}
