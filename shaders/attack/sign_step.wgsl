// sign_step: one projected signed-gradient step of FGSM / PGD / TPGD, in place on x (torchattacks
// 3.5.1's order of operations):
//   x <- clamp(x0 + clamp(x + alpha * sign(g) - x0, -eps, eps), 0, 1),   sign(0) = 0.
// FGSM is the step from x = x0 with alpha = eps.
// Layout: any (elementwise; x, x0, g of one shape). Bindings: params (uniform), x0 (read), g
// (read), x (read and written).
// Tiling: 1-D, one thread per element, i = gid.x + gid.y * nwg.x * WG.

struct Params { n: u32, alpha: f32, eps: f32, pad: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x0: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let c = x0[i];
  let moved = x[i] + params.alpha * sign(g[i]);
  let delta = clamp(moved - c, -params.eps, params.eps);
  x[i] = clamp(c + delta, 0.0, 1.0);
}
