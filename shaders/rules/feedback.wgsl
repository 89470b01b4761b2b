// feedback: the sign-symmetry feedback matrices of the learning rules, elementwise over W.
// MODE (override): 0 uSF   B[i] = scale * sign(W[i])
//                  1 frSF  B[i] = |M[i]| * sign(W[i])   (M fixed)
//                  2 brSF  B[i] = |B[i]| * sign(W[i])   (in place: B holds the fresh draw of M;
//                          m is not read, bind W there: a buffer may not be bound twice if written)
// sign(0) = 0, as torch.sign.
// Layout: flat over W's elements. Bindings: params, w (read), m (read), b (written).
// Tiling: 1-D, WG threads, one element each.

struct Params { n: u32, scale: f32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> b: array<f32>;

override WG: u32 = 64;
override MODE: u32 = 0;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let s = sign(w[i]);
  if (MODE == 0u) {
    b[i] = params.scale * s;
  } else if (MODE == 1u) {
    b[i] = abs(m[i]) * s;
  } else {
    b[i] = abs(b[i]) * s;
  }
}
