// conv_depthwise_weight_grad_texture: depthwise_weight_grad.wgsl's partial weight gradients of a
// depthwise conv2d (groups == C == O) reading x and g through texel fetches, for CPU rasterisers
// (llvmpipe gathers an rgba texel in one vector op, where every storage-buffer load is a
// per-lane loop; GPUs use depthwise_weight_grad.wgsl):
//   part[s, c, ky, kx] = sum over the output rows (n, oy) of split s, and every ox, of
//                        g[n, c, oy, ox] * x[n, c, oy*SH - pH + ky*DH, ox*SW - pW + kx*DW]
//   (taps outside the input read 0); sum_partials.wgsl adds the splits in order.
// Layouts: x [N, C, H, W] and g [N, C, OH, OW] copied as they are into rgba32float textures
// (copyBufferToTexture): float f is component f % 4 of texel t = f / 4, at
// (t % 2^WT_SHIFT, t >> WT_SHIFT). W % 4 == 0 and OW % 4 == 0, so rows start whole texels.
// part [splits, C, 1, KH, KW].
// Bindings: params (uniform), x, g (textures), part (written, every element).
//
// Tiling (overrides): one thread per (split, channel, tap row ky) keeps the KW taps of that row
// in registers and walks its output rows in segments of TW pixels (TW % 4 == 0): TW/4 gradient
// texels, and the NT input texels the segment's taps touch, the first at texel column colBase +
// ox0*SW/4 of the row (TW*SW % 4 == 0), OFF = 0..3 columns before the first tap's input; then
// TW*KW FMAs. Texels outside a row (padding) read 0; rows whose input row is padding are skipped.
// Grid: x*y (folded, index = wid.y * wgX + wid.x) = ceil(splits*C*KH / WG);
// thread t = (s*C + c)*KH + ky.

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  OH: u32, OW: u32, KH: u32, SH: u32,
  DH: u32, padH: i32, colBase: i32, chunk: u32,
  wgX: u32, threads: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var x: texture_2d<f32>;
@group(0) @binding(2) var g: texture_2d<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;

override WG: u32 = 64;
override TW: u32 = 8;
override KW: u32 = 3;
override SW: u32 = 1;
override DW: u32 = 1;
override OFF: u32 = 0;
override WT_SHIFT: u32 = 10;

const MAX_KW: u32 = 16u;
const MAX_TW: u32 = 32u;
// NT*4 floats: a segment of up to 64 inputs (the host's limit) plus OFF, in whole texels.
const MAX_SEG: u32 = 68u;

fn fetch(tex: texture_2d<f32>, texel: u32, ok: bool) -> vec4<f32> {
  let t = select(0u, texel, ok);
  let mask = (1u << WT_SHIFT) - 1u;
  return select(vec4<f32>(0.0), textureLoad(tex, vec2<u32>(t & mask, t >> WT_SHIFT), 0), ok);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * params.wgX + wid.x) * WG + lid;
  if (t >= params.threads) { return; }
  let KH = params.KH;
  let ky = t % KH;
  let t2 = t / KH;
  let C = params.C;
  let c = t2 % C;
  let s = t2 / C;
  let H = params.H;
  let W4 = i32(params.W / 4u);
  let OH = params.OH;
  let OW4 = params.OW / 4u;
  let NT = (OFF + (TW - 1u) * SW + (KW - 1u) * DW + 1u + 3u) / 4u;

  var acc: array<f32, MAX_KW>;
  for (var kx = 0u; kx < KW; kx++) { acc[kx] = 0.0; }

  let r0 = s * params.chunk;
  let r1 = min(r0 + params.chunk, params.N * OH);
  var n = r0 / OH;
  var oy = r0 % OH;
  for (var r = r0; r < r1; r++) {
    let iy = i32(oy * params.SH + ky * params.DH) - params.padH;
    if ((iy >= 0) & (iy < i32(H))) {
      let xRow = ((n * C + c) * H + u32(iy)) * u32(W4);
      let gRow = ((n * C + c) * OH + oy) * OW4;
      for (var ox0 = 0u; ox0 < OW4 * 4u; ox0 += TW) {
        var gv: array<f32, MAX_TW>;
        for (var j = 0u; j < TW / 4u; j++) {
          let col = ox0 / 4u + j;
          let v = fetch(g, gRow + col, col < OW4);
          gv[4u * j] = v.x;
          gv[4u * j + 1u] = v.y;
          gv[4u * j + 2u] = v.z;
          gv[4u * j + 3u] = v.w;
        }
        let col0 = i32(ox0 * SW / 4u) + params.colBase;
        var seg: array<f32, MAX_SEG>;
        for (var j = 0u; j < NT; j++) {
          let col = col0 + i32(j);
          let v = fetch(x, xRow + u32(max(col, 0)), (col >= 0) & (col < W4));
          seg[4u * j] = v.x;
          seg[4u * j + 1u] = v.y;
          seg[4u * j + 2u] = v.z;
          seg[4u * j + 3u] = v.w;
        }
        for (var kx = 0u; kx < KW; kx++) {
          var a = acc[kx];
          for (var i = 0u; i < TW; i++) {
            a = fma(gv[i], seg[OFF + i * SW + kx * DW], a);
          }
          acc[kx] = a;
        }
      }
    }
    oy += 1u;
    let wrap = oy == OH;
    oy = select(oy, 0u, wrap);
    n += select(0u, 1u, wrap);
  }

  let outBase = (s * C + c) * KH * KW + ky * KW;
  for (var kx = 0u; kx < KW; kx++) {
    part[outBase + kx] = acc[kx];
  }
}
