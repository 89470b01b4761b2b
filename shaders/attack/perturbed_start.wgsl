// perturbed_start: the random start of PGD and TPGD, out = clamp(x0 + noise, 0, 1) (the noise is
// U(-eps, eps) for PGD, 0.001 * N(0, 1) for TPGD, drawn by the attack's AttackDraws).
// Layout: any (elementwise). Bindings: params (uniform), x0 (read), noise (read), out (written).
// Tiling: 1-D, one thread per element, i = gid.x + gid.y * nwg.x * WG.

struct Params { n: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x0: array<f32>;
@group(0) @binding(2) var<storage, read> noise: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  out[i] = clamp(x0[i] + noise[i], 0.0, 1.0);
}
