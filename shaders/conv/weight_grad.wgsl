// conv_weight_grad: partial weight gradients of conv2d, float32, NCHW, any stride / padding /
// dilation / groups:
//   part[s, o, c, ky, kx] = sum over the output pixels (n, oy, ox) of split s of
//                           g[n, o, oy, ox] * x[n, gi*Cg + c, oy*sH - pH + ky*dH, ox*sW - pW + kx*dW]
//   (gi = o / Og; taps outside the input read 0). The pixels N*OH*OW are cut into `splits`
//   consecutive chunks of `chunk` pixels; sum_partials.wgsl adds the splits (in order, so the
//   result is deterministic). With one split `part` is dW itself.
// A GEMM per group: M = Og output channels, N = cols = Cg*KH*KW, reduction over pixels.
// Layouts: x [N, C, H, W], g [N, O, OH, OW], part [splits, O, Cg, KH, KW].
// Bindings: params (uniform), x, g (read), part (written, every element).
//
// Tiling (overrides, from gpu().tuning.conv.weightGrad): WG threads per workgroup, each a TM x TN
// register block (TM output channels x TN columns (c, ky, kx), TM*TN <= 128); per pixel it loads
// TM gradients and TN inputs and does TM*TN FMAs. No workgroup memory. Thread index
// t = ((s*groups + gi)*mBlocks + mb)*nBlocks + nb; blocks past the edge compute on clamped
// addresses and are not written.
// Grid: x*y (folded, index = wid.y * wgX + wid.x) = ceil(threads / WG).

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32, Cg: u32,
  Og: u32, KH: u32, KW: u32, strideH: u32,
  strideW: u32, dilH: u32, dilW: u32, padH: i32,
  padW: i32, groups: u32, mBlocks: u32, nBlocks: u32,
  chunk: u32, NP: u32, wgX: u32, threads: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;

override WG: u32 = 64;
override TM: u32 = 4;
override TN: u32 = 4;

const MAX_TM: u32 = 16u;
const MAX_TN: u32 = 16u;
const MAX_ACC: u32 = 128u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * params.wgX + wid.x) * WG + lid;
  if (t >= params.threads) { return; }
  let nb = t % params.nBlocks;
  let t2 = t / params.nBlocks;
  let mb = t2 % params.mBlocks;
  let t3 = t2 / params.mBlocks;
  let gi = t3 % params.groups;
  let s = t3 / params.groups;

  let H = params.H;
  let W = params.W;
  let HW = H * W;
  let OW = params.OW;
  let OHW = params.OH * OW;
  let Og = params.Og;
  let taps = params.KH * params.KW;
  let cols = params.Cg * taps;

  // Per column: channel-plane offset and the tap's offset from the pixel's top-left input.
  var xoff: array<u32, MAX_TN>;
  var dy: array<i32, MAX_TN>;
  var dx: array<i32, MAX_TN>;
  for (var j = 0u; j < TN; j++) {
    let col = min(nb * TN + j, cols - 1u);
    let c = col / taps;
    let tap = col % taps;
    xoff[j] = (gi * params.Cg + c) * HW;
    dy[j] = i32((tap / params.KW) * params.dilH) - params.padH;
    dx[j] = i32((tap % params.KW) * params.dilW) - params.padW;
  }
  var goff: array<u32, MAX_TM>;
  for (var m = 0u; m < TM; m++) {
    goff[m] = (gi * Og + min(mb * TM + m, Og - 1u)) * OHW;
  }

  var acc: array<f32, MAX_ACC>;
  for (var i = 0u; i < TM * TN; i++) { acc[i] = 0.0; }

  let q0 = s * params.chunk;
  let q1 = min(q0 + params.chunk, params.NP);
  // (n, oy, ox) of pixel q, advanced incrementally (no division in the loop).
  var n = q0 / OHW;
  var oy = (q0 % OHW) / OW;
  var ox = q0 % OW;
  for (var q = q0; q < q1; q++) {
    let gBase = n * params.O * OHW + oy * OW + ox;
    var gv: array<f32, MAX_TM>;
    for (var m = 0u; m < TM; m++) {
      gv[m] = g[gBase + goff[m]];
    }
    let xBase = n * params.C * HW;
    let iyb = i32(oy * params.strideH);
    let ixb = i32(ox * params.strideW);
    var xv: array<f32, MAX_TN>;
    for (var j = 0u; j < TN; j++) {
      let iy = iyb + dy[j];
      let ix = ixb + dx[j];
      let ok = (iy >= 0) & (iy < i32(H)) & (ix >= 0) & (ix < i32(W));
      xv[j] = select(0.0, x[select(0u, xBase + xoff[j] + u32(iy) * W + u32(ix), ok)], ok);
    }
    for (var m = 0u; m < TM; m++) {
      for (var j = 0u; j < TN; j++) {
        acc[m * TN + j] = fma(gv[m], xv[j], acc[m * TN + j]);
      }
    }
    ox += 1u;
    let wrapX = ox == OW;
    ox = select(ox, 0u, wrapX);
    oy += select(0u, 1u, wrapX);
    let wrapY = oy == params.OH;
    oy = select(oy, 0u, wrapY);
    n += select(0u, 1u, wrapY);
  }

  let outBase = s * params.O * cols;
  for (var m = 0u; m < TM; m++) {
    let co = mb * TM + m;
    if (co < Og) {
      for (var j = 0u; j < TN; j++) {
        let col = nb * TN + j;
        if (col < cols) {
          part[outBase + (gi * Og + co) * cols + col] = acc[m * TN + j];
        }
      }
    }
  }
}
