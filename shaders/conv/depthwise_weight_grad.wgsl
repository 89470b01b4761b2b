// conv_depthwise_weight_grad: partial weight gradients of a depthwise conv2d (groups == C == O),
// float32, NCHW:
//   part[s, c, ky, kx] = sum over the output rows (n, oy) of split s, and every ox, of
//                        g[n, c, oy, ox] * x[n, c, oy*SH - pH + ky*DH, ox*SW - pW + kx*DW]
//   (taps outside the input read 0). The N*OH output rows are cut into `splits` chunks of `chunk`
//   rows; sum_partials.wgsl adds the splits in order. With one split `part` is dW itself.
// Layouts: x [N, C, H, W], g [N, C, OH, OW], part [splits, C, 1, KH, KW].
// Bindings: params (uniform), x, g (read), part (written, every element).
//
// Tiling (overrides): one thread per (split, channel, tap row ky) keeps the KW taps of that row
// in registers; it walks its output rows in segments of TW pixels (gpu().tuning.conv
// .depthwiseWeightGrad), loading TW gradients and the (TW-1)*SW + (KW-1)*DW + 1 inputs they
// touch once, then TW*KW FMAs. KW, SW, DW are overrides (the segment is unrolled); the height
// geometry is in the uniforms. Rows whose input row is padding are skipped. No workgroup memory.
// Grid: x*y (folded, index = wid.y * wgX + wid.x) = ceil(splits*C*KH / WG);
// thread t = (s*C + c)*KH + ky.

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  OH: u32, OW: u32, KH: u32, SH: u32,
  DH: u32, padH: i32, padW: i32, chunk: u32,
  wgX: u32, threads: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;

override WG: u32 = 64;
override TW: u32 = 8;
override KW: u32 = 3;
override SW: u32 = 1;
override DW: u32 = 1;

const MAX_KW: u32 = 16u;
const MAX_TW: u32 = 32u;
const MAX_SEG: u32 = 64u;

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
  let W = params.W;
  let OH = params.OH;
  let OW = params.OW;
  let PW = (TW - 1u) * SW + (KW - 1u) * DW + 1u;

  var acc: array<f32, MAX_KW>;
  for (var kx = 0u; kx < KW; kx++) { acc[kx] = 0.0; }

  let r0 = s * params.chunk;
  let r1 = min(r0 + params.chunk, params.N * OH);
  var n = r0 / OH;
  var oy = r0 % OH;
  for (var r = r0; r < r1; r++) {
    let iy = i32(oy * params.SH + ky * params.DH) - params.padH;
    if ((iy >= 0) & (iy < i32(H))) {
      let xRow = ((n * C + c) * H + u32(iy)) * W;
      let gRow = ((n * C + c) * OH + oy) * OW;
      for (var ox0 = 0u; ox0 < OW; ox0 += TW) {
        var gv: array<f32, MAX_TW>;
        for (var i = 0u; i < TW; i++) {
          let ok = ox0 + i < OW;
          gv[i] = select(0.0, g[select(gRow, gRow + ox0 + i, ok)], ok);
        }
        let ix0 = i32(ox0 * SW) - params.padW;
        var seg: array<f32, MAX_SEG>;
        for (var px = 0u; px < PW; px++) {
          let ix = ix0 + i32(px);
          let ok = (ix >= 0) & (ix < i32(W));
          seg[px] = select(0.0, x[select(xRow, xRow + u32(ix), ok)], ok);
        }
        for (var kx = 0u; kx < KW; kx++) {
          var a = acc[kx];
          for (var i = 0u; i < TW; i++) {
            a = fma(gv[i], seg[i * SW + kx * DW], a);
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
