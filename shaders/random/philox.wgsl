// philox: counter-based random numbers, Philox4x32-10 (Salmon et al., SC'11; Random123).
// Word j of a stream (key = the generator's seed) comes from Philox block b = floor(j / 4),
// counter (b mod 2^32, floor(b / 2^32), 0, 0), output word j mod 4. A value depends only on
// (key, j): not on the workgroup size, the grid, or how draws are split.
// Thread t computes block params.block + t and writes elements 4t .. 4t+3 (those < n).
// DIST (override): 0 raw words (u32); 1 uniform lo + (hi - lo) * u, u = top24 * 2^-24 in [0, 1)
//                  (a = lo, b = hi); 2 normal a + b * z by Box-Muller on word pairs (0,1), (2,3):
//                  u1 = (top24 + 1) * 2^-24 in (0, 1], theta = 2 pi u2 - pi, words 0/2 get
//                  r cos(theta), words 1/3 r sin(theta), r = sqrt(-2 ln u1);
//                  3 scaled Bernoulli mask: b where u < a, else 0 (drop path: a = keep, b = 1/keep).
// Floats are written as their bits, so one binding serves u32 and f32 outputs.
// WGSL has no 64-bit integers: the 32x32 -> 64 products are built from 16-bit halves.
// Layout: flat. Bindings: params (uniform), out (storage, written).
// Tiling: 1-D, WG threads per workgroup, ceil(n / 4) threads, grid folded into y.

struct Params {
  n: u32,
  block_lo: u32,
  block_hi: u32,
  key0: u32,
  key1: u32,
  a: f32,
  b: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

override WG: u32 = 64;
override DIST: u32 = 0;

const M0: u32 = 0xD2511F53u;
const M1: u32 = 0xCD9E8D57u;
const W0: u32 = 0x9E3779B9u;
const W1: u32 = 0xBB67AE85u;

// (high, low) 32-bit words of the 64-bit product a * b.
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  let hi = p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
  return vec2<u32>(hi, a * b);
}

fn philox_round(c: vec4<u32>, k: vec2<u32>) -> vec4<u32> {
  let r0 = mulhilo(M0, c.x);
  let r1 = mulhilo(M1, c.z);
  return vec4<u32>(r1.x ^ c.y ^ k.x, r1.y, r0.x ^ c.w ^ k.y, r0.y);
}

fn philox4x32_10(ctr: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = ctr;
  var k = key;
  c = philox_round(c, k);
  for (var r = 1u; r < 10u; r++) {
    k = k + vec2<u32>(W0, W1);
    c = philox_round(c, k);
  }
  return c;
}

fn unit(w: u32) -> f32 {
  return f32(w >> 8u) * (1.0 / 16777216.0);
}

fn value(words: vec4<u32>, l: u32) -> u32 {
  let w = words[l];
  if (DIST == 0u) {
    return w;
  }
  if (DIST == 1u) {
    var v = params.a + (params.b - params.a) * unit(w);
    // Rounding may land on hi for wide ranges; keep the interval half-open.
    if (v >= params.b) { v = params.a; }
    return bitcast<u32>(v);
  }
  if (DIST == 2u) {
    let p = l & 2u;
    let u1 = (f32(words[p] >> 8u) + 1.0) * (1.0 / 16777216.0);
    let theta = 6.28318530717958648 * unit(words[p + 1u]) - 3.14159265358979324;
    let r = sqrt(-2.0 * log(u1));
    let z = select(r * cos(theta), r * sin(theta), (l & 1u) == 1u);
    return bitcast<u32>(params.a + params.b * z);
  }
  return bitcast<u32>(select(0.0, params.b, unit(w) < params.a));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * WG;
  let first = t * 4u;
  if (first >= params.n) { return; }
  let lo = params.block_lo + t;
  let hi = params.block_hi + select(0u, 1u, lo < params.block_lo);
  let words = philox4x32_10(vec4<u32>(lo, hi, 0u, 0u), vec2<u32>(params.key0, params.key1));
  let count = min(4u, params.n - first);
  for (var l = 0u; l < count; l++) {
    out[first + l] = value(words, l);
  }
}
