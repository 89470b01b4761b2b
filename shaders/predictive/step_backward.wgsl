// pc_step_backward: gradients of out = max(r + eta[c] * u, 0) (pc_step) given g = dL/dout:
//   gr[i] = g[i] if out[i] > 0 else 0        (dL/dr)
//   gu[i] = gr[i] * eta[c]                   (dL/du; MODE 0 only)
// (dL/deta[c] = sum over n, h, w of gr * u is a reduction done by the caller.)
// Layout NCHW [N, C, H, W] row-major, c = (i / HW) % C.
// Bindings: params (uniform: n, C, HW), g, out, eta [C] (read), gr, gu (written; gu untouched in MODE 1).
// Tiling: 1-D, one thread per element.

struct Params { n: u32, C: u32, HW: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> out: array<f32>;
@group(0) @binding(3) var<storage, read> eta: array<f32>;
@group(0) @binding(4) var<storage, read_write> gr: array<f32>;
@group(0) @binding(5) var<storage, read_write> gu: array<f32>;

override WG: u32 = 64;
override MODE: u32 = 0;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) {
    return;
  }
  var v: f32 = 0.0;
  if (out[i] > 0.0) {
    v = g[i];
  }
  gr[i] = v;
  if (MODE == 0u) {
    gu[i] = v * eta[(i / params.HW) % params.C];
  }
}
