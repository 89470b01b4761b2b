// conv_depthwise_texture: depthwise.wgsl's direct depthwise conv (groups == C == O) reading its
// input through texel fetches, for CPU rasterisers: llvmpipe gathers an rgba texel in one vector
// op, where every storage-buffer load is a per-lane loop. (GPUs use depthwise.wgsl.)
//   out[n, c, oy, ox] = sum_{ky, kx} x[n, c, oy*SH - pH + ky*DH, ox*SW - pW + kx*DW] * w'[c, ky, kx]
//   (+ bias[c]), taps outside the input read 0; w' = w, or w flipped in both axes when FLIP
//   (the input gradient of a stride-1 depthwise conv: dx = conv(g, flip(B))).
// Layouts: x is the tensor [N, C, H, W] copied as is into an rgba32float texture (copyBufferTo-
// Texture, no kernel): float f is component f % 4 of texel t = f / 4, at (t % 2^WT_SHIFT,
// t >> WT_SHIFT). W % 4 == 0, so every input row starts a texel. w [C, 1, KH, KW],
// out [N, C, OH, OW].
// Bindings: params (uniform), x (texture), w, bias (read; any buffer when HAS_BIAS is false), out
//   (written, every element).
//
// Tiling (overrides): as depthwise.wgsl, a thread computes a TH x TW output tile of one (n, c),
// streaming the input rows it needs; a row segment is fetched as NT whole texels, the first at
// texel column colBase + tileX * TW*SW/4 of the row (TW*SW % 4 == 0); OFF = the segment's first
// input column minus that texel's first, 0..3, the same for every tile. Texels outside the row
// (padding) read 0.
// Grid: x*y (folded, index = wid.y * wgX + wid.x) = ceil(N*C*tilesY*tilesX / WG); thread
// t = ((n*C + c)*tilesY + tileY)*tilesX + tileX.

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  OH: u32, OW: u32, KH: u32, SH: u32,
  DH: u32, padH: i32, colBase: i32, tilesX: u32,
  tilesY: u32, wgX: u32, threads: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var x: texture_2d<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;
override TH: u32 = 2;
override TW: u32 = 16;
override KW: u32 = 3;
override SW: u32 = 1;
override DW: u32 = 1;
override OFF: u32 = 0;
override WT_SHIFT: u32 = 10;
override FLIP: bool = false;
override HAS_BIAS: bool = false;

const MAX_ACC: u32 = 64u;
// NT*4 floats: a segment of up to 64 inputs (the host's limit) plus OFF, in whole texels.
const MAX_SEG: u32 = 68u;
const MAX_TH: u32 = 16u;
const MAX_KW: u32 = 16u;
const MAX_TAPS: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * params.wgX + wid.x) * WG + lid;
  if (t >= params.threads) { return; }
  let tx = t % params.tilesX;
  let t2 = t / params.tilesX;
  let ty = t2 % params.tilesY;
  let nc = t2 / params.tilesY;
  let c = nc % params.C;
  let W4 = i32(params.W / 4u);
  let KH = params.KH;
  let SH = params.SH;
  let DH = params.DH;
  let rows = (TH - 1u) * SH + (KH - 1u) * DH + 1u;
  let NT = (OFF + (TW - 1u) * SW + (KW - 1u) * DW + 1u + 3u) / 4u;
  let oy0 = ty * TH;
  let ox0 = tx * TW;
  let iy0 = i32(oy0 * SH) - params.padH;
  let col0 = i32(tx * (TW * SW / 4u)) + params.colBase;
  let xb = nc * params.H * u32(W4);
  let wb = c * KH * KW;
  let mask = (1u << WT_SHIFT) - 1u;

  var wr: array<f32, MAX_TAPS>;
  for (var i = 0u; i < KH * KW; i++) {
    if (FLIP) { wr[i] = w[wb + KH * KW - 1u - i]; } else { wr[i] = w[wb + i]; }
  }
  var acc: array<f32, MAX_ACC>;
  for (var i = 0u; i < TH * TW; i++) { acc[i] = 0.0; }
  // Output row oy next uses input row rowNext[oy], as tap kyNext[oy].
  var kyNext: array<u32, MAX_TH>;
  var rowNext: array<u32, MAX_TH>;
  for (var oy = 0u; oy < TH; oy++) {
    kyNext[oy] = 0u;
    rowNext[oy] = oy * SH;
  }

  for (var r = 0u; r < rows; r++) {
    let iy = iy0 + i32(r);
    let rowOk = (iy >= 0) & (iy < i32(params.H));
    let rowTexel = xb + u32(max(iy, 0)) * u32(W4);
    var seg: array<f32, MAX_SEG>;
    for (var j = 0u; j < NT; j++) {
      let col = col0 + i32(j);
      let ok = rowOk & (col >= 0) & (col < W4);
      let texel = select(0u, rowTexel + u32(col), ok);
      let v = select(vec4<f32>(0.0), textureLoad(x, vec2<u32>(texel & mask, texel >> WT_SHIFT), 0), ok);
      seg[4u * j] = v.x;
      seg[4u * j + 1u] = v.y;
      seg[4u * j + 2u] = v.z;
      seg[4u * j + 3u] = v.w;
    }
    for (var oy = 0u; oy < TH; oy++) {
      let ky = kyNext[oy];
      if ((r == rowNext[oy]) & (ky < KH)) {
        kyNext[oy] = ky + 1u;
        rowNext[oy] += DH;
        var wv: array<f32, MAX_KW>;
        for (var kx = 0u; kx < KW; kx++) {
          wv[kx] = wr[ky * KW + kx];
        }
        for (var ox = 0u; ox < TW; ox++) {
          var a = acc[oy * TW + ox];
          for (var kx = 0u; kx < KW; kx++) {
            a = fma(wv[kx], seg[OFF + ox * SW + kx * DW], a);
          }
          acc[oy * TW + ox] = a;
        }
      }
    }
  }

  var b = 0.0;
  if (HAS_BIAS) { b = bias[c]; }
  for (var oy = 0u; oy < TH; oy++) {
    let yy = oy0 + oy;
    for (var ox = 0u; ox < TW; ox++) {
      let xx = ox0 + ox;
      if ((yy < params.OH) & (xx < params.OW)) {
        out[(nc * params.OH + yy) * params.OW + xx] = acc[oy * TW + ox] + b;
      }
    }
  }
}
