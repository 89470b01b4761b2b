// maxpool3_forward: max pooling with a 3x3 window and stride 1 (DARTS' max_pool_3x3 in normal
// cells), forward only, no argmax (inference, candidate scoring): separable. A thread makes PER
// (<= 8, tuning.pixelsPerThread) neighbouring outputs of one row from the column maxima of the
// PER + 2 input columns under them, so each input is loaded once per thread instead of up to
// nine times. Padding never wins: padded rows and columns are left out of the maxima.
// Layout: NCHW row-major; p = n * C + c runs over the planes N * C.
// Bindings: params (uniform; maxpool_forward's layout, kh = kw = 3 and sh = sw = 1 assumed),
// x (read), out (written).
// Tiling: 1-D; thread t = gid.x + gid.y * nwg.x * WG: output row r = t / B (B = ceil(Wo / PER)),
// ow from (t % B) * PER.

struct Params {
  n: u32,        // outputs: planes * Ho * Wo
  H: u32, W: u32, Ho: u32, Wo: u32,
  kh: u32, kw: u32, sh: u32, sw: u32, ph: u32, pw: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;
override PER: u32 = 1;

const LOWEST = -3.402823e38;

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
  let h0 = i32(oh) - i32(params.ph);
  let hs = max(h0, 0);
  let he = min(h0 + 3, H);
  let c0 = i32(ow0) - i32(params.pw);
  let base = plane * params.H * params.W;
  var col: array<f32, 10>;
  for (var k = 0u; k < PER + 2u; k++) {
    let c = c0 + i32(k);
    var m = LOWEST;
    if (c >= 0 && c < W) {
      for (var h = hs; h < he; h++) {
        m = max(m, x[base + u32(h * W + c)]);
      }
    }
    col[k] = m;
  }
  let o = r * Wo + ow0;
  for (var j = 0u; j < count; j++) {
    out[o + j] = max(max(col[j], col[j + 1u]), col[j + 2u]);
  }
}
