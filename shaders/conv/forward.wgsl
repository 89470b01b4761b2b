// conv_forward: y = conv2d(x, w) (+ bias[o]), float32, NCHW, any stride / padding / dilation /
// groups, as an implicit GEMM: M = output channels of a group, N = N*OH*OW output pixels,
// K = Cg*KH*KW (input channels of the group x kernel taps), read straight from x (no im2col).
//   x   [N, C, H, W]          C = groups * Cg
//   w   [O, Cg, KH, KW]       O = groups * Og
//   out [N, O, OH, OW]        out[n, o, oy, ox] = sum_{c, ky, kx} x[n, g*Cg + c, oy*sH - pH + ky*dH,
//                             ox*sW - pW + kx*dW] * w[o, c, ky, kx] (+ bias[o]); g = o / Og; taps
//                             outside the input read 0 (zero padding).
// Bindings: params (uniform), x, w, bias (read; any buffer when HAS_BIAS is false), out (written,
//   every element).
//
// Tiling (overrides, from gpu().tuning.conv.gemm): a workgroup of WG threads; each thread keeps a
// TM x TP block of outputs in registers (TM output channels x TP output pixels, TM*TP <= 128) and
// needs no workgroup memory. One loop runs over K (channel, ky, kx advanced incrementally: nested
// runtime loops cost llvmpipe about 2x); per step it loads TP inputs and TM weights and does
// TM*TP FMAs. Thread `lid` of pixel-block b owns pixels b*WG*TP + lid + j*WG (j < TP): consecutive
// threads read consecutive pixels. Pixels and channels past the edge are computed on clamped
// (finite) addresses and not written.
// Grid: x*y (folded: workgroup index = wid.y * wgX + wid.x) = ceil(N*OH*OW / (WG*TP)) pixel
// blocks; z = groups * mBlocks, mBlocks = ceil(Og / TM).

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32, Cg: u32,
  Og: u32, KH: u32, KW: u32, strideH: u32,
  strideW: u32, dilH: u32, dilW: u32, padH: i32,
  padW: i32, mBlocks: u32, wgX: u32, NP: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;
override TM: u32 = 4;
override TP: u32 = 4;
override HAS_BIAS: bool = false;

// Register arrays are sized for the largest block; loops run to TM / TP, which the shader
// compiler sees as constants and unrolls, so only TM*TP accumulators exist.
const MAX_TM: u32 = 16u;
const MAX_TP: u32 = 16u;
const MAX_ACC: u32 = 128u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let NP = params.NP;
  let base = (wid.y * params.wgX + wid.x) * WG * TP + lid;
  if (base >= NP) { return; }
  let gi = wid.z / params.mBlocks;
  let co0 = (wid.z % params.mBlocks) * TM;
  let H = params.H;
  let W = params.W;
  let HW = H * W;
  let OHW = params.OH * params.OW;
  let Cg = params.Cg;
  let KH = params.KH;
  let KW = params.KW;
  let taps = KH * KW;

  // Per pixel: top-left input coordinate and the offset of (n, first channel of the group).
  var iy0: array<i32, MAX_TP>;
  var ix0: array<i32, MAX_TP>;
  var xb: array<u32, MAX_TP>;
  for (var j = 0u; j < TP; j++) {
    let q = min(base + j * WG, NP - 1u);
    let n = q / OHW;
    let r = q % OHW;
    iy0[j] = i32((r / params.OW) * params.strideH) - params.padH;
    ix0[j] = i32((r % params.OW) * params.strideW) - params.padW;
    xb[j] = (n * params.C + gi * Cg) * HW;
  }
  var wb: array<u32, MAX_TM>;
  for (var m = 0u; m < TM; m++) {
    wb[m] = (gi * params.Og + min(co0 + m, params.Og - 1u)) * Cg * taps;
  }

  var acc: array<f32, MAX_ACC>;
  for (var i = 0u; i < TM * TP; i++) { acc[i] = 0.0; }

  // One loop over K = Cg*KH*KW with (c, ky, kx) advanced incrementally.
  let K = Cg * taps;
  var ky = 0u;
  var kx = 0u;
  var cOff = 0u;
  for (var k = 0u; k < K; k++) {
    let dy = i32(ky * params.dilH);
    let dx = i32(kx * params.dilW);
    var xv: array<f32, MAX_TP>;
    for (var j = 0u; j < TP; j++) {
      let iy = iy0[j] + dy;
      let ix = ix0[j] + dx;
      let ok = (iy >= 0) & (iy < i32(H)) & (ix >= 0) & (ix < i32(W));
      xv[j] = select(0.0, x[select(0u, xb[j] + cOff + u32(iy) * W + u32(ix), ok)], ok);
    }
    for (var m = 0u; m < TM; m++) {
      let wv = w[wb[m] + k];
      for (var j = 0u; j < TP; j++) {
        acc[m * TP + j] = fma(wv, xv[j], acc[m * TP + j]);
      }
    }
    kx += 1u;
    let wrapX = kx == KW;
    kx = select(kx, 0u, wrapX);
    ky += select(0u, 1u, wrapX);
    let wrapY = ky == KH;
    ky = select(ky, 0u, wrapY);
    cOff += select(0u, HW, wrapY);
  }

  for (var j = 0u; j < TP; j++) {
    let q = base + j * WG;
    if (q < NP) {
      let n = q / OHW;
      let r = q % OHW;
      for (var m = 0u; m < TM; m++) {
        let co = co0 + m;
        if (co < params.Og) {
          let o = gi * params.Og + co;
          var v = acc[m * TP + j];
          if (HAS_BIAS) { v += bias[o]; }
          out[(n * params.O + o) * OHW + r] = v;
        }
      }
    }
  }
}
