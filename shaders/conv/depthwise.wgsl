// conv_depthwise: depthwise conv2d (groups == C == O), float32, NCHW, direct (not a GEMM):
//   out[n, c, oy, ox] = sum_{ky, kx} x[n, c, oy*SH - pH + ky*DH, ox*SW - pW + kx*DW] * w'[c, ky, kx]
//   (+ bias[c]), taps outside the input read 0; w' = w, or w flipped in both axes when FLIP.
// With FLIP, stride 1, padding (K-1)*d - p (which may be negative) and the input zero-inserted
// by the conv's stride (UPH, UPW), this same loop is the input gradient of a depthwise conv:
// dx = conv(zero_insert(g, s), flip(B)).
// Layouts: x [N, C, H, W], w [C, 1, KH, KW], out [N, C, OH, OW].
// Bindings: params (uniform), x, w, bias (read; any buffer when HAS_BIAS is false), out (written,
//   every element).
//
// Tiling (overrides): each thread computes a TH x TW tile of output pixels of one (n, c) in
// registers (TH*TW <= 64, TH <= 16; from gpu().tuning.conv.depthwise), WG threads per workgroup,
// no workgroup memory. The kernel's width geometry (KW, SW, DW) is an override so a row segment
// of (TW-1)*SW + (KW-1)*DW + 1 inputs is loaded once and reused by every kx tap; its height
// geometry (KH, stride, dilation) is in the uniforms: the thread streams the input rows its tile
// needs, and each of its TH output rows that uses the row (as tap ky) does TW*KW FMAs with it.
// The KH*KW (<= 64) weights are loaded once into a private array: llvmpipe pays a per-lane loop
// for every storage load, far more than for an indexed private read.
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
// Input zero-insertion (the transposed conv of a strided conv): the input is read as if UPH-1
// zero rows and UPW-1 zero columns sat between its rows and columns (1: none).
override UPH: u32 = 1;
override UPW: u32 = 1;
override HAS_BIAS: bool = false;

const MAX_ACC: u32 = 64u;
const MAX_SEG: u32 = 64u;
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
    // Input row iv of the (virtually zero-inserted) input; real row iv / UPH when it divides.
    let iv = iy0 + i32(r);
    let uv = u32(max(iv, 0));
    let rowOk = (iv >= 0) & (uv % UPH == 0u) & (uv / UPH < H);
    let rowOff = xb + (uv / UPH) * W;
    var seg: array<f32, MAX_SEG>;
    for (var px = 0u; px < PW; px++) { seg[px] = 0.0; }
    // Padding (and inserted zero) rows load nothing.
    if (rowOk) {
      for (var px = 0u; px < PW; px++) {
        let jv = ix0 + i32(px);
        let uj = u32(max(jv, 0));
        let ok = (jv >= 0) & (uj % UPW == 0u) & (uj / UPW < W);
        if (UPW == 1u) {
          seg[px] = select(0.0, x[select(0u, rowOff + uj, ok)], ok);
        } else if (ok) {
          seg[px] = x[rowOff + uj / UPW];
        }
      }
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
