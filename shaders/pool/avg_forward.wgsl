// avgpool_forward: out[p, oh, ow] = (sum of x[p, ih, iw] over the window's valid pixels) / d,
// where d is the number of valid pixels (COUNT_PAD = 0) or kh * kw (COUNT_PAD = 1, padding
// counted as zeros), ih = oh * sh - ph + kh, iw = ow * sw - pw + kw.
// Layout: NCHW row-major; p = n * C + c runs over the planes N * C.
// Bindings: params (uniform), x (read), out (written).
// Tiling: 1-D; thread t = gid.x + gid.y * nwg.x * WG computes PER (<= 8, tuning.pixelsPerThread)
// neighbouring outputs of one output row: row r = t / B (B = ceil(Wo / PER) blocks per row),
// ow from (t % B) * PER. It reads each input pixel of the blocks' joint window once and adds
// it to every output whose window holds it, so neighbouring windows share their loads.

struct Params {
  n: u32,        // outputs: planes * Ho * Wo
  H: u32, W: u32, Ho: u32, Wo: u32,
  kh: u32, kw: u32, sh: u32, sw: u32, ph: u32, pw: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;
override COUNT_PAD: u32 = 0;
override PER: u32 = 1;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * WG;
  let Wo = params.Wo;
  let blocks = (Wo + PER - 1u) / PER;
  let r = t / blocks;
  if (r * Wo >= params.n) { return; }
  let ow0 = (t - r * blocks) * PER;
  let count = min(PER, Wo - ow0);
  let oh = r % params.Ho;
  let plane = r / params.Ho;
  let H = i32(params.H);
  let W = i32(params.W);
  let kw = i32(params.kw);
  let sw = i32(params.sw);
  let h0 = i32(oh * params.sh) - i32(params.ph);
  let hs = max(h0, 0);
  let he = min(h0 + i32(params.kh), H);
  let c0 = i32(ow0) * sw - i32(params.pw);
  let cs = max(c0, 0);
  let ce = min(c0 + (i32(count) - 1) * sw + kw, W);
  let base = plane * params.H * params.W;
  var acc: array<f32, 8>;
  for (var j = 0u; j < PER; j++) {
    acc[j] = 0.0;
  }
  for (var h = hs; h < he; h++) {
    let row = base + u32(h * W);
    for (var c = cs; c < ce; c++) {
      let v = x[row + u32(c)];
      for (var j = 0u; j < PER; j++) {
        let lo = c0 + i32(j) * sw;
        if (c >= lo && c < lo + kw) {
          acc[j] += v;
        }
      }
    }
  }
  let o = r * Wo + ow0;
  for (var j = 0u; j < count; j++) {
    let lo = c0 + i32(j) * sw;
    var d = f32((he - hs) * (min(lo + kw, W) - max(lo, 0)));
    if (COUNT_PAD == 1u) {
      d = f32(params.kh * params.kw);
    }
    out[o + j] = acc[j] / d;
  }
}
