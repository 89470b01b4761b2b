// dlr: per-row Difference of Logits Ratio loss of Croce & Hein (2020), the loss APGD-DLR ascends,
//   loss[i] = -(z[y] - max_{k != y} z[k]) / (z[p1] - z[p3] + 1e-12),
// z = logits[i, :], y = labels[i], p1 and p3 the indices of the largest and third-largest logit.
// Ties rank the lower index first (bionas choice: the reference's torch.sort leaves the order of
// ties unspecified; any order gives the same loss). Also
// writes picks[i, 0..2] = (m, p1, p3), m = argmax_{k != y} z[k], for the backward. A label outside
// [0, K) is never used as an index: its row's loss is NaN (params.nanBits) and its picks -1.
// Layout: logits [N, K] row-major, K >= 3 (checked on the CPU). Bindings: params (uniform), logits
// (read), labels (read, i32), picks (written, i32 [N, 3]), loss (written, [N]).
// Tiling: 1-D, one thread per row (i = gid.x + gid.y * nwg.x * WG), a loop over the K logits.

struct Params { N: u32, K: u32, nanBits: u32, pad: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> picks: array<i32>;
@group(0) @binding(4) var<storage, read_write> loss: array<f32>;

// The reference's 1e-12 in the denominator (auto-attack dlr_loss; torchattacks 3.5.1 APGD).
const DLR_DENOMINATOR_EPS: f32 = 1e-12;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.N) { return; }
  let K = params.K;
  let base = i * K;
  let y = labels[i];
  if (y < 0 || u32(y) >= K) {
    loss[i] = bitcast<f32>(params.nanBits);
    picks[i * 3u] = -1;
    picks[i * 3u + 1u] = -1;
    picks[i * 3u + 2u] = -1;
    return;
  }
  // The three largest (strict > keeps the earlier index ahead on ties) and the largest but y.
  var i1 = -1; var i2 = -1; var i3 = -1; var im = -1;
  var v1 = 0.0; var v2 = 0.0; var v3 = 0.0; var vm = 0.0;
  for (var k = 0u; k < K; k++) {
    let v = logits[base + k];
    let ki = i32(k);
    if (i1 < 0 || v > v1) {
      i3 = i2; v3 = v2; i2 = i1; v2 = v1; i1 = ki; v1 = v;
    } else if (i2 < 0 || v > v2) {
      i3 = i2; v3 = v2; i2 = ki; v2 = v;
    } else if (i3 < 0 || v > v3) {
      i3 = ki; v3 = v;
    }
    if (ki != y && (im < 0 || v > vm)) { im = ki; vm = v; }
  }
  let zy = logits[base + u32(y)];
  loss[i] = -(zy - vm) / (v1 - v3 + DLR_DENOMINATOR_EPS);
  picks[i * 3u] = im;
  picks[i * 3u + 1u] = i1;
  picks[i * 3u + 2u] = i3;
}
