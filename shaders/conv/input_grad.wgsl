// conv_input_grad: dx = conv2d's input gradient with the weight replaced by any weight-shaped
// matrix B (B = W for back-propagation, a feedback matrix for the learning rules), float32,
// NCHW, any stride / padding / dilation / groups. It is the transposed convolution
//   dx[n, g*Cg + c, iy, ix] = sum_{o in group g, ky, kx} g[n, o, oy, ox] * B[o, c, ky, kx]
//   where oy = (iy + pH - ky*dH) / SH, ox = (ix + pW - kx*dW) / SW, taken only when the division
//   is exact and 0 <= oy < OH, 0 <= ox < OW,
// computed as an implicit GEMM: M = Cg input channels of a group, N = N*H*W input pixels,
// K = Og*KH*KW. Layouts: g [N, O, OH, OW], B [O, Cg, KH, KW], dx [N, C, H, W].
// Bindings: params (uniform), g, B (read), dx (written, every element).
//
// Tiling (overrides, from gpu().tuning.conv.gemm, as in forward.wgsl): WG threads, each a
// TM x TP register block (TM input channels x TP input pixels; pixel j of thread lid in block b
// is b*WG*TP + lid + j*WG), one loop over K with (o, ky, kx) advanced incrementally. SH / SW (the
// conv's stride) are overrides so the exactness test is a division by a constant; with stride 1
// it vanishes. No workgroup memory.
// Grid: x*y (folded, index = wid.y * wgX + wid.x) = ceil(N*H*W / (WG*TP)); z = groups * mBlocks,
// mBlocks = ceil(Cg / TM).

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32, Cg: u32,
  Og: u32, KH: u32, KW: u32, dilH: u32,
  dilW: u32, padH: u32, padW: u32, mBlocks: u32,
  wgX: u32, NP: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

override WG: u32 = 64;
override TM: u32 = 4;
override TP: u32 = 4;
override SH: u32 = 1;
override SW: u32 = 1;

const MAX_TM: u32 = 16u;
const MAX_TP: u32 = 16u;
const MAX_ACC: u32 = 128u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let NP = params.NP;
  let base = (wid.y * params.wgX + wid.x) * WG * TP + lid;
  if (base >= NP) { return; }
  let gi = wid.z / params.mBlocks;
  let c0 = (wid.z % params.mBlocks) * TM;
  let HW = params.H * params.W;
  let OH = params.OH;
  let OW = params.OW;
  let OHW = OH * OW;
  let Og = params.Og;
  let Cg = params.Cg;
  let KH = params.KH;
  let KW = params.KW;
  let taps = KH * KW;

  // Per pixel: iy + pH, ix + pW, and the offset of (n, first output channel of the group) in g.
  var ny: array<i32, MAX_TP>;
  var nx: array<i32, MAX_TP>;
  var gb: array<u32, MAX_TP>;
  for (var j = 0u; j < TP; j++) {
    let q = min(base + j * WG, NP - 1u);
    let n = q / HW;
    let r = q % HW;
    ny[j] = i32(r / params.W + params.padH);
    nx[j] = i32(r % params.W + params.padW);
    gb[j] = (n * params.O + gi * Og) * OHW;
  }
  var bb: array<u32, MAX_TM>;
  for (var m = 0u; m < TM; m++) {
    bb[m] = ((gi * Og) * Cg + min(c0 + m, Cg - 1u)) * taps;
  }

  var acc: array<f32, MAX_ACC>;
  for (var i = 0u; i < TM * TP; i++) { acc[i] = 0.0; }

  // One loop over K = Og*KH*KW with (o, ky, kx) advanced incrementally.
  let K = Og * taps;
  let bStride = Cg * taps;
  var ky = 0u;
  var kx = 0u;
  var tap = 0u;
  var gOff = 0u;
  var bOff = 0u;
  for (var k = 0u; k < K; k++) {
    let dy = i32(ky * params.dilH);
    let dx_ = i32(kx * params.dilW);
    var gv: array<f32, MAX_TP>;
    for (var j = 0u; j < TP; j++) {
      let numY = ny[j] - dy;
      let numX = nx[j] - dx_;
      let uy = u32(max(numY, 0));
      let ux = u32(max(numX, 0));
      let oy = uy / SH;
      let ox = ux / SW;
      let ok = (numY >= 0) & (uy % SH == 0u) & (oy < OH) & (numX >= 0) & (ux % SW == 0u) & (ox < OW);
      gv[j] = select(0.0, g[select(0u, gb[j] + gOff + oy * OW + ox, ok)], ok);
    }
    for (var m = 0u; m < TM; m++) {
      let bv = B[bb[m] + bOff + tap];
      for (var j = 0u; j < TP; j++) {
        acc[m * TP + j] = fma(bv, gv[j], acc[m * TP + j]);
      }
    }
    kx += 1u;
    tap += 1u;
    let wrapX = kx == KW;
    kx = select(kx, 0u, wrapX);
    ky += select(0u, 1u, wrapX);
    let wrapT = tap == taps;
    tap = select(tap, 0u, wrapT);
    ky = select(ky, 0u, wrapT);
    gOff += select(0u, OHW, wrapT);
    bOff += select(0u, bStride, wrapT);
  }

  for (var j = 0u; j < TP; j++) {
    let q = base + j * WG;
    if (q < NP) {
      let n = q / HW;
      let r = q % HW;
      for (var m = 0u; m < TM; m++) {
        let c = c0 + m;
        if (c < Cg) {
          dx[(n * params.C + gi * Cg + c) * HW + r] = acc[m * TP + j];
        }
      }
    }
  }
}
