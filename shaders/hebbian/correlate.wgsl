// hebbian_correlate: partial sums of the Hebbian correlation of normalised output rows and
// normalised input patches. With positions m = (n, oh, ow) (M = N*OH*OW of them) cut into S
// chunks of `chunk`, and k = (c, i, j) the index into a filter (K = C*kh*kw, filter layout
// [O, C, kh, kw] row-major):
//   partial[s * O*K + o*K + k] = sum_{m in chunk s} y[n, o, oh, ow] * inv[M + m] * x[n, c, h, w] * inv[m]
// where (h, w) = (oh*stride_h - pad_h + i*dil_h, ow*stride_w - pad_w + j*dil_w) (zero outside)
// and inv holds the inverse row norms from hebbian_norms.
// Bindings: params (uniform), x [N, C, H, W], y [N, O, OH, OW], inv [2M] (read), partial [S*O*K] (written).
// Tiling: 1-D, one thread per (s, o, k): it walks its chunk of positions, so a parallel sum
// over N*positions with no atomics; hebbian_apply adds the S partials in order.

struct Params {
  M: u32, C: u32, H: u32, W: u32,
  O: u32, OH: u32, OW: u32, KH: u32,
  KW: u32, stride_h: u32, stride_w: u32, pad_h: i32,
  pad_w: i32, dil_h: u32, dil_w: u32, chunk: u32,
  S: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> inv: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * WG;
  let kk = params.KH * params.KW;
  let K = params.C * kk;
  let OK = params.O * K;
  if (t >= params.S * OK) {
    return;
  }
  let s = t / OK;
  let r = t - s * OK;
  let o = r / K;
  let k = r - o * K;
  let c = k / kk;
  let ij = k - c * kk;
  let i = ij / params.KW;
  let j = ij - i * params.KW;
  let ohw = params.OH * params.OW;
  let hw = params.H * params.W;
  let di = i32(i * params.dil_h) - params.pad_h;
  let dj = i32(j * params.dil_w) - params.pad_w;
  let H = i32(params.H);
  let W = i32(params.W);
  let m0 = s * params.chunk;
  let m1 = min(m0 + params.chunk, params.M);
  // Walk (n, oh, ow) incrementally from m0.
  var n = m0 / ohw;
  var q = m0 - n * ohw;
  var oh = q / params.OW;
  var ow = q - oh * params.OW;
  var acc: f32 = 0.0;
  for (var m = m0; m < m1; m++) {
    let h = i32(oh * params.stride_h) + di;
    let w = i32(ow * params.stride_w) + dj;
    if (h >= 0 && h < H && w >= 0 && w < W) {
      let xv = x[(n * params.C + c) * hw + u32(h) * params.W + u32(w)];
      let yv = y[(n * params.O + o) * ohw + oh * params.OW + ow];
      acc += (yv * inv[params.M + m]) * (xv * inv[m]);
    }
    ow++;
    if (ow == params.OW) {
      ow = 0u;
      oh++;
      if (oh == params.OH) {
        oh = 0u;
        n++;
      }
    }
  }
  partial[t] = acc;
}
