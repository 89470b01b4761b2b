// dlr_backward: gradient of the per-row DLR loss (dlr.wgsl) with respect to the logits, times
// the row's output gradient g[i]. With u = z[y] - z[m] and D = z[p1] - z[p3] + 1e-12, the loss is
// -u / D, so dloss/dz[y] -= 1/D, dloss/dz[m] += 1/D, dloss/dz[p1] += u/D^2, dloss/dz[p3] -= u/D^2
// (indices may coincide: the terms add). m, p1, p3 come from the forward's picks.
// When y is p3 (so m is p1) the loss is (z[p1] - z[p3]) / (z[p1] - z[p3] + 1e-12) = 1 flat and
// its float gradient only rounding noise, whose sign would steer an attack at random: the row's
// gradient is 0 there (bionas choice; docs/ATTACKS.md).
// A label outside [0, K) gives a NaN row (params.nanBits) and is never used as an index.
// Layout: [N, K] row-major. Bindings: params (uniform), logits (read), labels (read, i32), picks
// (read, i32 [N, 3]), g (read, [N]), dx (written, [N, K]).
// Tiling: 1-D, one thread per element, i = gid.x + gid.y * nwg.x * WG.

struct Params { n: u32, K: u32, nanBits: u32, pad: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read> picks: array<i32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

// As in dlr.wgsl (auto-attack's dlr_loss).
const DLR_DENOMINATOR_EPS: f32 = 1e-12;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = gid.x + gid.y * nwg.x * WG;
  if (j >= params.n) { return; }
  let K = params.K;
  let i = j / K;
  let k = i32(j - i * K);
  let y = labels[i];
  if (y < 0 || u32(y) >= K) {
    dx[j] = bitcast<f32>(params.nanBits);
    return;
  }
  let base = i * K;
  let m = picks[i * 3u];
  let p1 = picks[i * 3u + 1u];
  let p3 = picks[i * 3u + 2u];
  if (y == p3) {
    dx[j] = 0.0;
    return;
  }
  let u = logits[base + u32(y)] - logits[base + u32(m)];
  let inv = 1.0 / (logits[base + u32(p1)] - logits[base + u32(p3)] + DLR_DENOMINATOR_EPS);
  var d = 0.0;
  if (k == y) { d -= inv; }
  if (k == m) { d += inv; }
  if (k == p1) { d += u * inv * inv; }
  if (k == p3) { d -= u * inv * inv; }
  dx[j] = d * g[i];
}
