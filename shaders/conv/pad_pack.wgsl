// conv_pad_pack: a chunk of a conv's input, zero-padded, into an rgba32float texture for the
// texture matmul's IM2COL mode (shaders/matmul/matmul_texture.wgsl):
//   texel (q, (z * C + ch) * Hp + y) = xpad[z, ch, y, 4q .. 4q+3], with
//   xpad[z, ch, y, f] = x[zBase + z, ch, (y - pH) / upH, (f - pW) / upW] where those divide
//   exactly and land inside the input, else zero. upH, upW > 1 insert zeros between rows and
//   columns: the input gradient of a strided conv is a conv of the zero-inserted gradient.
// Bindings: params (uniform); x (read, [N, C, H, W]); out (written: every texel of width x
//   images * C * Hp).
// Grid: [ceil(width / 8), ceil(C * Hp / 8), images], one texel per thread.

struct Params {
  C: u32, H: u32, W: u32, Hp: u32,
  pH: u32, pW: u32, width: u32, zBase: u32,
  upH: u32, upW: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var out: texture_storage_2d<rgba32float, write>;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let q = gid.x;
  let row = gid.y;
  if ((q >= params.width) | (row >= params.C * params.Hp)) { return; }
  let ch = row / params.Hp;
  let vy = i32(row - ch * params.Hp) - i32(params.pH);
  let iy = u32(max(vy, 0)) / params.upH;
  var v = vec4<f32>(0.0);
  if ((vy >= 0) & (u32(max(vy, 0)) % params.upH == 0u) & (iy < params.H)) {
    let base = (((params.zBase + gid.z) * params.C + ch) * params.H + iy) * params.W;
    for (var e = 0u; e < 4u; e++) {
      let vx = i32(4u * q + e) - i32(params.pW);
      let ix = u32(max(vx, 0)) / params.upW;
      if ((vx >= 0) & (u32(max(vx, 0)) % params.upW == 0u) & (ix < params.W)) { v[e] = x[base + ix]; }
    }
  }
  textureStore(out, vec2<u32>(q, gid.z * params.C * params.Hp + row), v);
}
