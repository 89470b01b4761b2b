// conv_bias_grad: partial bias gradients of conv2d, float32, NCHW:
//   part[s, o] = sum of g[n, o, p] over the elements e = n*OHW + p of split s
//   (N*OHW elements per channel, cut into `splits` chunks of `chunk`); sum_partials.wgsl adds the
//   splits in order. With one split `part` is db itself.
// Layouts: g [N, O, OH, OW] (OHW = OH*OW), part [splits, O].
// Bindings: params (uniform), g (read), part (written, every element).
// Tiling: one thread per (split, channel), thread t = s*O + o, 4 independent running sums;
//   WG threads per workgroup (gpu().tuning.elementwiseWorkgroup), no workgroup memory.
// Grid: x*y (folded, index = wid.y * wgX + wid.x) = ceil(splits*O / WG).

struct Params {
  N: u32, O: u32, OHW: u32, chunk: u32,
  wgX: u32, threads: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> part: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * params.wgX + wid.x) * WG + lid;
  if (t >= params.threads) { return; }
  let O = params.O;
  let OHW = params.OHW;
  let o = t % O;
  let s = t / O;
  let e0 = s * params.chunk;
  let e1 = min(e0 + params.chunk, params.N * OHW);
  var n = e0 / OHW;
  var p = e0 % OHW;
  var sum = vec4<f32>(0.0);
  var lane = 0u;
  for (var e = e0; e < e1; e++) {
    let v = g[(n * O + o) * OHW + p];
    sum[lane] += v;
    lane = (lane + 1u) & 3u;
    p += 1u;
    let wrap = p == OHW;
    p = select(p, 0u, wrap);
    n += select(0u, 1u, wrap);
  }
  part[t] = (sum.x + sum.y) + (sum.z + sum.w);
}
