// square_margin: Square's per-image bookkeeping from the logits of one forward, with the
// margin m = z_y - max_{k != y} z_k (torchattacks' 'margin' loss; m <= 0 means misclassified).
// mode 0 (clean images):   attacked[n] = m > 0 (only initially-correct images are attacked; bionas
//                          choice: a tie for the top logit counts as wrong, where torch's argmax
//                          would pick the lower index).
// mode 1 (stripe start):   best[n] = m; queries[n] = attacked[n] ? 1 : 0.
// mode 2 (an iteration):   an image is active while attacked and best > 0; an active image
//                          keeps the proposal (accept[n] = 1) iff m < best (a misclassified
//                          proposal always has m <= 0 < best), then best = m; queries += 1.
// mode 3 (the end):        accept[n] = attacked and best <= 0 (fooled: return its best image).
// Layout: logits [N, K] row-major; labels i32 [N]; attacked, accept u32 [N]; best, queries f32 [N].
// Bindings: params, logits (read), labels (read), attacked, best, queries, accept (read_write).
// Tiling: 1-D over images, one thread per image (K is small: a loop over the row).

struct Params {
  n: u32,
  k: u32,
  mode: u32,
  pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> attacked: array<u32>;
@group(0) @binding(4) var<storage, read_write> best: array<f32>;
@group(0) @binding(5) var<storage, read_write> queries: array<f32>;
@group(0) @binding(6) var<storage, read_write> accept: array<u32>;

override WG: u32 = 64;

fn margin(n: u32) -> f32 {
  let y = u32(labels[n]);
  let row = n * params.k;
  var other = -3.402823e38;  // the lowest f32 WGSL can spell (no -inf literal)
  for (var k = 0u; k < params.k; k++) {
    if (k != y) { other = max(other, logits[row + k]); }
  }
  return logits[row + y] - other;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let n = gid.x + gid.y * nwg.x * WG;
  if (n >= params.n) { return; }
  if (params.mode == 0u) {
    attacked[n] = select(0u, 1u, margin(n) > 0.0);
  } else if (params.mode == 1u) {
    best[n] = margin(n);
    queries[n] = select(0.0, 1.0, attacked[n] != 0u);
  } else if (params.mode == 2u) {
    let running = attacked[n] != 0u && best[n] > 0.0;
    let m = margin(n);
    let keep = running && m < best[n];
    if (keep) { best[n] = m; }
    if (running) { queries[n] = queries[n] + 1.0; }
    accept[n] = select(0u, 1u, keep);
  } else {
    accept[n] = select(0u, 1u, attacked[n] != 0u && best[n] <= 0.0);
  }
}
