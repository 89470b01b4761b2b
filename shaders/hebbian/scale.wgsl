// hebbian_scale: the output of a conv scaled so that the Hebbian correlation becomes a conv
// weight gradient. For every output position m = (n, oh, ow) of a conv of x [N, C, H, W] with
// kh x kw filters (NCHW, row-major):
//   out[n, o, oh, ow] = y[n, o, oh, ow] / max(|Y_m|, eps) / max(|P_m|, eps)    for o < O
// where Y_m = y[n, :, oh, ow] (the O outputs at m), P_m = the input patch of m (C*kh*kw values,
// zero padding) and eps = 1e-12 (as torch.nn.functional.normalize). Then
//   sum_m (Y_m[o] / |Y_m|) (P_m[k] / |P_m|) = sum_m out[m, o] P_m[k] = conv2dBackwardWeight(x, out)[o, k].
// Bindings: params (uniform), x [N, C, H, W], y [N, O, OH, OW] (read), out [N, O, OH, OW] (written).
// Tiling: 1-D, one thread per position m (it walks its C*kh*kw patch and its O outputs).

struct Params {
  M: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32, KH: u32,
  KW: u32, stride_h: u32, stride_w: u32, pad_h: i32,
  pad_w: i32, dil_h: u32, dil_w: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;
const EPS: f32 = 1e-12;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let m = gid.x + gid.y * nwg.x * WG;
  if (m >= params.M) {
    return;
  }
  let ohw = params.OH * params.OW;
  let n = m / ohw;
  let q = m - n * ohw;
  let oh = q / params.OW;
  let ow = q - oh * params.OW;
  let h0 = i32(oh * params.stride_h) - params.pad_h;
  let w0 = i32(ow * params.stride_w) - params.pad_w;
  let H = i32(params.H);
  let W = i32(params.W);
  var pn: f32 = 0.0;
  for (var c = 0u; c < params.C; c++) {
    let plane = (n * params.C + c) * params.H * params.W;
    for (var i = 0u; i < params.KH; i++) {
      let h = h0 + i32(i * params.dil_h);
      if (h < 0 || h >= H) {
        continue;
      }
      for (var j = 0u; j < params.KW; j++) {
        let w = w0 + i32(j * params.dil_w);
        if (w < 0 || w >= W) {
          continue;
        }
        let v = x[plane + u32(h) * params.W + u32(w)];
        pn += v * v;
      }
    }
  }
  var yn: f32 = 0.0;
  for (var o = 0u; o < params.O; o++) {
    let v = y[(n * params.O + o) * ohw + q];
    yn += v * v;
  }
  let s = (1.0 / max(sqrt(yn), EPS)) * (1.0 / max(sqrt(pn), EPS));
  for (var o = 0u; o < params.O; o++) {
    let idx = (n * params.O + o) * ohw + q;
    out[idx] = y[idx] * s;
  }
}
