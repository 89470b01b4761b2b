// apgd_step: APGD's Linf step with momentum (Croce & Hein 2020, eq. 2; torchattacks 3.5.1), in
// place, per element of image n with step size eta = state[STEP, n]:
//   z  = P(x + eta * sign(g)),   x' = P(x + a (z - x) + (1 - a)(x - x_prev)),   x_prev <- x,
// P(v) = clamp(min(max(v, x0 - eps), x0 + eps), 0, 1); a = 1 at the first iteration, then 0.75.
// Layout: [N, per] (per = C * H * W). Bindings: params (uniform), x0 (read), g (read), state
// (read, f32 [FIELDS, N]), x and xPrev (read and written).
// Tiling: 1-D, one thread per element, i = gid.x + gid.y * nwg.x * WG.

struct Params { n: u32, per: u32, N: u32, eps: f32, a: f32, pad0: u32, pad1: u32, pad2: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x0: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> state: array<f32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;
@group(0) @binding(5) var<storage, read_write> xPrev: array<f32>;

const STEP = 0u;

override WG: u32 = 64;

fn project(v: f32, c: f32) -> f32 {
  return clamp(min(max(v, c - params.eps), c + params.eps), 0.0, 1.0);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let eta = state[STEP * params.N + i / params.per];
  let c = x0[i];
  let xi = x[i];
  let prev = xPrev[i];
  let z = project(xi + eta * sign(g[i]), c);
  x[i] = project(xi + (z - xi) * params.a + (xi - prev) * (1.0 - params.a), c);
  xPrev[i] = xi;
}
