// avgpool_backward: dx[p, h, w] = sum of g[p, oh, ow] / d(oh, ow) over the outputs whose window
// covers (h, w), d as in avgpool_forward (valid pixels, or kh * kw with COUNT_PAD = 1).
// A gather over the covering outputs, so overlapping windows need no atomics.
// Layout: NCHW row-major; g is [planes, Ho, Wo], dx is [planes, H, W].
// Bindings: params (uniform), g (read), dx (written).
// Tiling: 1-D; thread t = gid.x + gid.y * nwg.x * WG computes the PER consecutive input pixels
// from t * PER (tuning.pixelsPerThread), stepping (plane, h, w) without dividing again.

struct Params {
  n: u32,        // inputs: planes * H * W
  H: u32, W: u32, Ho: u32, Wo: u32,
  kh: u32, kw: u32, sh: u32, sw: u32, ph: u32, pw: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

override WG: u32 = 64;
override COUNT_PAD: u32 = 0;

/** Outputs along one axis whose window [o * s - p, o * s - p + k) covers position q. */
fn covering(q: i32, k: i32, s: i32, p: i32, count: i32) -> vec2<i32> {
  let hi = min((q + p) / s, count - 1);
  let num = q + p - k + 1;
  let lo = select(0, (num + s - 1) / s, num > 0);
  return vec2<i32>(lo, hi);
}

/** Valid pixels of the window starting at o * s - p along an axis of length n. */
fn valid(o: i32, k: i32, s: i32, p: i32, n: i32) -> i32 {
  let a = o * s - p;
  return min(a + k, n) - max(a, 0);
}

override PER: u32 = 1;

fn pixel(i: u32, plane: u32, h: i32, w: i32) {
  let kh = i32(params.kh);
  let kw = i32(params.kw);
  let sh = i32(params.sh);
  let sw = i32(params.sw);
  let ph = i32(params.ph);
  let pw = i32(params.pw);
  let rows = covering(h, kh, sh, ph, i32(params.Ho));
  let cols = covering(w, kw, sw, pw, i32(params.Wo));
  let base = plane * params.Ho * params.Wo;
  var acc = 0.0;
  for (var oh = rows.x; oh <= rows.y; oh++) {
    let dh = select(valid(oh, kh, sh, ph, i32(params.H)), kh, COUNT_PAD == 1u);
    for (var ow = cols.x; ow <= cols.y; ow++) {
      let dw = select(valid(ow, kw, sw, pw, i32(params.W)), kw, COUNT_PAD == 1u);
      acc += g[base + u32(oh) * params.Wo + u32(ow)] / f32(dh * dw);
    }
  }
  dx[i] = acc;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let first = (gid.x + gid.y * nwg.x * WG) * PER;
  if (first >= params.n) { return; }
  let last = min(first + PER, params.n);
  var w = first % params.W;
  let t = first / params.W;
  var h = t % params.H;
  var plane = t / params.H;
  for (var i = first; i < last; i++) {
    pixel(i, plane, i32(h), i32(w));
    w++;
    if (w == params.W) {
      w = 0u;
      h++;
      if (h == params.H) {
        h = 0u;
        plane++;
      }
    }
  }
}
