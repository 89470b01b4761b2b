// conv_pack_flipped: the matrix a dense conv's input gradient multiplies by, as the A operand
// of the texture matmul (IM2COL): dx = conv(g zero-inserted by the stride, F'), where
//   F'[c, (o * KH + ky) * KW + kx] = F[o, c, KH - 1 - ky, KW - 1 - kx]   (F: [O, C, KH, KW]).
//   Texel (q, c) = F'[c, 4q .. 4q+3], zero past R = O*KH*KW.
// Bindings: params (uniform); f (read); out (written: every texel of width x C).
// Grid: [ceil(width / 8), ceil(C / 8)], one texel per thread; KH, KW are override constants.

struct Params {
  C: u32,
  R: u32,
  width: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> f: array<f32>;
@group(0) @binding(2) var out: texture_storage_2d<rgba32float, write>;

override KH: u32 = 3;
override KW: u32 = 3;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let q = gid.x;
  let c = gid.y;
  if ((q >= params.width) | (c >= params.C)) { return; }
  var v = vec4<f32>(0.0);
  for (var e = 0u; e < 4u; e++) {
    let r = 4u * q + e;
    if (r < params.R) {
      let o = r / (KH * KW);
      let ky = (r / KW) % KH;
      let kx = r % KW;
      v[e] = f[((o * params.C + c) * KH + KH - 1u - ky) * KW + KW - 1u - kx];
    }
  }
  textureStore(out, vec2<u32>(q, c), v);
}
