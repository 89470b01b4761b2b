// apgd_start: APGD's Linf start (torchattacks 3.5.1 / auto-attack), per image n:
//   x = clamp(x0 + eps * t / max_j |t[n, j]|, 0, 1),  t ~ U(-1, 1) drawn by the attack,
// max |t| from apgd_samples.wgsl's t_max_main (state field T_MAX = 11). A draw of all zeros
// (max 0) starts at x0 (bionas choice: the reference would divide by 0).
// Layout: [N, per] (per = C * H * W). Bindings: params (uniform), x0 (read), t (read), state
// (read, f32 [FIELDS, N]), x (written).
// Tiling: 1-D, one thread per element, i = gid.x + gid.y * nwg.x * WG.

struct Params { n: u32, per: u32, N: u32, eps: f32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x0: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;
@group(0) @binding(3) var<storage, read> state: array<f32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;

const T_MAX = 11u;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let m = state[T_MAX * params.N + i / params.per];
  var d = 0.0;
  if (m > 0.0) { d = params.eps * t[i] / m; }
  x[i] = clamp(x0[i] + d, 0.0, 1.0);
}
