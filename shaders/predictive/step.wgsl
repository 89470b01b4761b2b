// pc_step: one inference update of the predictive-coding conv's representation,
//   out[i] = max(r[i] + eta[c] * u[i], 0),   c = channel of i in NCHW [N, C, H, W] (row-major),
// where u = conv(e, V) is the feedback of the prediction error and eta the per-channel step.
// Bindings: params (uniform: n = N*C*H*W, C, HW = H*W), r, u, eta [C] (read), out (written).
// Tiling: 1-D, one thread per element.

struct Params { n: u32, C: u32, HW: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> r: array<f32>;
@group(0) @binding(2) var<storage, read> u: array<f32>;
@group(0) @binding(3) var<storage, read> eta: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) {
    return;
  }
  let c = (i / params.HW) % params.C;
  out[i] = max(r[i] + eta[c] * u[i], 0.0);
}
