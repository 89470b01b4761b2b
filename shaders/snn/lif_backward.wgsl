// lif_backward: backpropagation through time of lif_forward.wgsl, one thread per neuron looping
// t from T-1 down to 0. With gu_t = dL/du_t and gm_t = dL/dm_t (gm_{T-1} = 0):
//   gu_t = gs_t * sg(u_t - threshold) + gm_t * (1 - s_t)   (reset: s_t detached, only the gate)
//   gx_t = gu_t / tau,   gm_{t-1} = gu_t * (1 - 1/tau)
// sg is the quadratic-gate surrogate of BrainCog: sg(d) = alpha - alpha^2 |d| for
// |d| <= 1/alpha, else 0 (SPEC 10); s_t = [u_t > threshold] is recomputed from the saved u_t.
// Layout: gs, mem, gx are [T, M], T-major (see lif_forward.wgsl).
// Bindings: params (T, M, tau, threshold, alpha), gs (read), mem (read: u_t), gx (written).
// Tiling: 1-D over M, WG threads, one neuron each; grid folded into y past 65535 groups.

struct Params { T: u32, M: u32, tau: f32, threshold: f32, alpha: f32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> gs: array<f32>;
@group(0) @binding(2) var<storage, read> mem: array<f32>;
@group(0) @binding(3) var<storage, read_write> gx: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.M) { return; }
  let alpha = params.alpha;
  let leak = 1.0 - 1.0 / params.tau;
  var gm = 0.0;
  for (var r = 0u; r < params.T; r++) {
    let k = (params.T - 1u - r) * params.M + i;
    let u = mem[k];
    let d = abs(u - params.threshold);
    let sg = select(0.0, alpha - alpha * alpha * d, d <= 1.0 / alpha);
    let gu = gs[k] * sg + select(gm, 0.0, u > params.threshold);
    gx[k] = gu / params.tau;
    gm = gu * leak;
  }
}
