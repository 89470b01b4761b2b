// matmul_pack: op(X) of every batch into an rgba32float texture, 4 columns per texel, for the
// texture matmul (matmul_texture.wgsl).
//   op(X_z) is [rows, cols]: X_z is stored [rows, cols], or [cols, rows] when TRANS, and
//   starts at element offset + z * stride.
//   Texel (c4, z * rowsPadded + r) = op(X_z)[r, 4*c4 .. 4*c4 + 3], zero where r >= rows or a
//   column >= cols: the padding of K must be zero, the other operand's padding multiplies it.
// Bindings: params (uniform); x (read); out (written: every texel of width x height).
// Grid: [ceil(width / 8), ceil(rowsPadded / 8), batches], one texel per thread: no integer
// division (llvmpipe runs a vector's divisions one lane at a time).

struct Params {
  rows: u32,
  cols: u32,
  rowsPadded: u32,
  stride: u32,
  width: u32,
  offset: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var out: texture_storage_2d<rgba32float, write>;

override TRANS: bool = false;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c4 = gid.x;
  let r = gid.y;
  if ((c4 >= params.width) | (r >= params.rowsPadded)) { return; }
  let base = params.offset + gid.z * params.stride;
  var v = vec4<f32>(0.0);
  if (r < params.rows) {
    for (var e = 0u; e < 4u; e++) {
      let col = 4u * c4 + e;
      if (col < params.cols) {
        if (TRANS) { v[e] = x[base + col * params.rows + r]; } else { v[e] = x[base + r * params.cols + col]; }
      }
    }
  }
  textureStore(out, vec2<u32>(c4, gid.z * params.rowsPadded + r), v);
}
