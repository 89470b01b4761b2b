// true_class_prob: One-Pixel's fitness per candidate row r of logits z [R, K]: the softmax
// probability of the true class y = labels[image[r]] (max subtracted for stability), and
// whether the row is misclassified (its argmax, the first maximum as numpy's, is not y).
// Layout: logits [R, K] row-major; image i32 [R]; labels i32 [N]; out [R, 2] = (prob, wrong).
// Bindings: params, logits (read), image (read), labels (read), out (written).
// Tiling: 1-D over rows, one thread per row (K is small: loops over the row).

struct Params {
  n: u32,
  k: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> image: array<i32>;
@group(0) @binding(3) var<storage, read> labels: array<i32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= params.n) { return; }
  let y = u32(labels[image[r]]);
  let base = r * params.k;
  var top = logits[base];
  var arg = 0u;
  for (var k = 1u; k < params.k; k++) {
    let z = logits[base + k];
    if (z > top) { top = z; arg = k; }
  }
  var total = 0.0;
  for (var k = 0u; k < params.k; k++) { total += exp(logits[base + k] - top); }
  out[2u * r] = exp(logits[base + y] - top) / total;
  out[2u * r + 1u] = select(0.0, 1.0, arg != y);
}
