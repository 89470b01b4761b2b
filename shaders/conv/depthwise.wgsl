// conv_depthwise: depthwise conv2d (groups == C == O), float32, NCHW, direct (not a GEMM):
//   out[n, c, oy, ox] = sum_{ky, kx} x[n, c, oy*SH - pH + ky*DH, ox*SW - pW + kx*DW] * w'[c, ky, kx]
//   (+ bias[c]), taps outside the input read 0; w' = w, or w flipped in both axes when FLIP.
// With FLIP, stride 1 and padding (K-1)*d - p (which may be negative), this same loop is the
// input gradient of a stride-1 depthwise conv: dx = conv(g, flip(B)).
// Layouts: x [N, C, H, W], w [C, 1, KH, KW], out [N, C, OH, OW].
// Bindings: params (uniform), x, w, bias (read; any buffer when HAS_BIAS is false), out (written,
//   every element).
//
// Tiling (overrides): each thread computes a TH x TW tile of output pixels of one (n, c) in
// registers (TH*TW <= 64; from gpu().tuning.conv.depthwise), WG threads per workgroup, no
// workgroup memory. The kernel's width geometry (KW, SW, DW) is an override so a row segment of
// (TW-1)*SW + (KW-1)*DW + 1 inputs is loaded once and reused by every kx tap; its height
// geometry (KH, stride, dilation) is in the uniforms: the thread streams the input rows its tile
// needs, and for each of its TH output rows that uses the row (as tap ky) loads KW weights and
// does TW*KW FMAs. So each input is loaded once per thread, not once per tap.
// Grid: x*y (folded, index = wid.y * wgX + wid.x) = ceil(N*C*tilesY*tilesX / WG); thread
// t = ((n*C + c)*tilesY + tileY)*tilesX + tileX.

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  OH: u32, OW: u32, KH: u32, SH: u32,
  DH: u32, padH: i32, padW: i32, tilesX: u32,
  tilesY: u32, wgX: u32, threads: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;
override TH: u32 = 2;
override TW: u32 = 8;
override KW: u32 = 3;
override SW: u32 = 1;
override DW: u32 = 1;
override FLIP: bool = false;
override HAS_BIAS: bool = false;

const MAX_ACC: u32 = 64u;
const MAX_SEG: u32 = 64u;
const MAX_TH: u32 = 16u;
const MAX_KW: u32 = 16u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * params.wgX + wid.x) * WG + lid;
  if (t >= params.threads) { return; }
  let tx = t % params.tilesX;
  let t2 = t / params.tilesX;
  let ty = t2 % params.tilesY;
  let nc = t2 / params.tilesY;
  let c = nc % params.C;
  let H = params.H;
  let W = params.W;
  let KH = params.KH;
  let SH = params.SH;
  let DH = params.DH;
  let rows = (TH - 1u) * SH + (KH - 1u) * DH + 1u;
  let PW = (TW - 1u) * SW + (KW - 1u) * DW + 1u;
  let oy0 = ty * TH;
  let ox0 = tx * TW;
  let iy0 = i32(oy0 * SH) - params.padH;
  let ix0 = i32(ox0 * SW) - params.padW;
  let xb = nc * H * W;
  let wb = c * KH * KW;

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
    let rowOk = (iy >= 0) & (iy < i32(H));
    let rowOff = xb + u32(max(iy, 0)) * W;
    var seg: array<f32, MAX_SEG>;
    for (var px = 0u; px < PW; px++) {
      let ix = ix0 + i32(px);
      let ok = rowOk & (ix >= 0) & (ix < i32(W));
      seg[px] = select(0.0, x[select(0u, rowOff + u32(ix), ok)], ok);
    }
    for (var oy = 0u; oy < TH; oy++) {
      let ky = kyNext[oy];
      if ((r == rowNext[oy]) & (ky < KH)) {
        kyNext[oy] = ky + 1u;
        rowNext[oy] += DH;
        var wv: array<f32, MAX_KW>;
        for (var kx = 0u; kx < KW; kx++) {
          if (FLIP) {
            wv[kx] = w[wb + (KH - 1u - ky) * KW + (KW - 1u - kx)];
          } else {
            wv[kx] = w[wb + ky * KW + kx];
          }
        }
        for (var ox = 0u; ox < TW; ox++) {
          var a = acc[oy * TW + ox];
          for (var kx = 0u; kx < KW; kx++) {
            a = fma(wv[kx], seg[ox * SW + kx * DW], a);
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
