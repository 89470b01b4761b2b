// apgd_merge: after an APGD restart, adv[i] = xAdv[i] for the images this restart fooled that
// were still being attacked (state FOOLED = 6 set, DONE = 7 clear); every other image keeps adv
// (the clean image, or an earlier restart's adversarial). apgd_samples' finish_main then marks
// them DONE.
// Layout: [N, per] (per = C * H * W). Bindings: params (uniform), state (read, f32 [FIELDS, N]),
// xAdv (read), adv (read and written).
// Tiling: 1-D, one thread per element, i = gid.x + gid.y * nwg.x * WG.

struct Params { n: u32, per: u32, N: u32, pad: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> state: array<f32>;
@group(0) @binding(2) var<storage, read> xAdv: array<f32>;
@group(0) @binding(3) var<storage, read_write> adv: array<f32>;

const FOOLED = 6u;
const DONE = 7u;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let n = i / params.per;
  if (state[FOOLED * params.N + n] > 0.5 && state[DONE * params.N + n] < 0.5) { adv[i] = xAdv[i]; }
}
