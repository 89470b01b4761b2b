// polarity: the polarity gate of MSE-NAS' spiking ops (BrainCog's si_relu).
//   forward  (MODE 0): out = v where SIGN * v > 0, else 0           (v = x)
//   backward (MODE 1): out = g where SIGN * y > 0, else 0           (v = y, the forward's output;
//                      SIGN * y > 0 exactly where SIGN * x > 0, so the input need not be kept)
// SIGN (override): 1 excitatory (keeps x > 0), -1 inhibitory (keeps x < 0).
// Layout: flat, same shape for v, g, out. Bindings: params (n), v (read), g (read; unused in
// MODE 0), out (written).
// Tiling: 1-D, WG threads, one element each; grid folded into y past 65535 groups.

struct Params { n: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;
override MODE: u32 = 0;
override SIGN: f32 = 1.0;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let keep = SIGN * v[i] > 0.0;
  if (MODE == 0u) {
    out[i] = select(0.0, v[i], keep);
  } else {
    out[i] = select(0.0, g[i], keep);
  }
}
