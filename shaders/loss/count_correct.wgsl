// count_correct: the number of rows of logits [N, K] (row-major) whose argmax (first maximum)
// equals the i32 label, as an f32 in out[0] (exact below 2^24); with accumulate = 1 it is
// added to out[0] instead, so a metric accumulates on the GPU over batches. Labels outside
// [0, K) never count.
// Bindings: params (uniform), logits (read), labels (read, i32), out (read_write, [1]).
// Tiling: a single workgroup of WG threads (a power of two); thread t takes rows t, t + WG, ...
// and the counts are added in a tree in workgroup memory.

struct Params { N: u32, K: u32, accumulate: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  let K = params.K;
  var hits = 0.0;
  for (var i = lid.x; i < params.N; i += WG) {
    let base = i * K;
    var best = logits[base];
    var at = 0u;
    for (var k = 1u; k < K; k++) {
      let v = logits[base + k];
      if (v > best) {
        best = v;
        at = k;
      }
    }
    let label = labels[i];
    if (label >= 0 && u32(label) == at) { hits += 1.0; }
  }
  red[lid.x] = hits;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (lid.x < w) { red[lid.x] = red[lid.x] + red[lid.x + w]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    var total = red[0];
    if (params.accumulate == 1u) { total += out[0]; }
    out[0] = total;
  }
}
