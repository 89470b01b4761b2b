// batchnorm_partial: per-channel partial sums of x [N, C, H, W] (NCHW, row-major) over N*H*W.
// Groups: the batch may be G equal slices of Ng = N / G images (candidates scored side by side,
// src/search/eg.ts), each with its own statistics; a statistic's index is then the group
// channel gc = g * C + c < G * C, and without groups (G = 1, Ng = N) simply c.
// Group channel gc's M = Ng * H * W elements (flat r = n * HW + hw, n < Ng within the group)
// are cut into S chunks of `chunk`; workgroup (s, gc) adds up chunk s and writes two sums to
// partial[2 * (gc * S + s) + {0, 1}]:
//   MODE 0 (forward):  sum(d), sum(d * d) with d = x - (the group's first x of channel c) (a
//                      shift close to the mean keeps the variance free of cancellation), g and
//                      mean unused;
//   MODE 1 (backward): sum(g), sum(g * (x - mean[gc]));
//   MODE 2 (backward from the output, affine = false: x is xhat, centred): sum(g), sum(g * x),
//                      mean unused.
// Bindings: params (uniform), x, g, mean (read), partial (written: 2 * C * S values).
// Entry points:
//   group_main  grid (S, G * C), chunks of gc's flat r = n * HW + hw; WG threads (a power
//               of two) stride over the chunk, walking (n, hw) without a division per element,
//               then add up in a tree in workgroup memory (GPUs: coalesced reads).
//   thread_main one thread per contiguous run of `chunk` values inside one (n, c) plane, walked
//               sequentially (llvmpipe: no barriers). With SP = ceil(HW / chunk) runs per
//               plane, S = Ng * SP and thread j = ((n * C + c) * SP + sp) (n < N) writes
//               partial (gc, (n - g * Ng) * SP + sp), g = n / Ng. 1-D: j = gid.x + gid.y * nwg.x * WG.

struct Params { C: u32, HW: u32, M: u32, chunk: u32, S: u32, Ng: u32, planes: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;

override WG: u32 = 64;
override MODE: u32 = 0;

var<workgroup> sums: array<vec2<f32>, WG>;

@compute @workgroup_size(WG)
fn group_main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let s = wid.x;
  let gc = wid.y;
  let c = gc % params.C;
  let HW = params.HW;
  let CHW = params.C * HW;
  let base = (gc / params.C) * params.Ng * CHW + c * HW;
  let r0 = s * params.chunk;
  let r1 = min(r0 + params.chunk, params.M);
  var center: f32;
  if (MODE == 0u) {
    center = x[base];
  } else if (MODE == 1u) {
    center = mean[gc];
  } else {
    center = 0.0;
  }
  var acc = vec2<f32>(0.0, 0.0);
  var r = r0 + lid.x;
  var n = r / HW;
  var hw = r - n * HW;
  for (; r < r1; r += WG) {
    let idx = base + n * CHW + hw;
    let d = x[idx] - center;
    if (MODE == 0u) {
      acc += vec2<f32>(d, d * d);
    } else {
      let gv = g[idx];
      acc += vec2<f32>(gv, gv * d);
    }
    hw += WG;
    if (hw >= HW) {
      let q = hw / HW;
      n += q;
      hw -= q * HW;
    }
  }
  sums[lid.x] = acc;
  workgroupBarrier();
  for (var width = WG / 2u; width > 0u; width = width / 2u) {
    if (lid.x < width) {
      sums[lid.x] = sums[lid.x] + sums[lid.x + width];
    }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    let o = 2u * (gc * params.S + s);
    partial[o] = sums[0].x;
    partial[o + 1u] = sums[0].y;
  }
}

@compute @workgroup_size(WG)
fn thread_main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = gid.x + gid.y * nwg.x * WG;
  let HW = params.HW;
  let C = params.C;
  let SP = (HW + params.chunk - 1u) / params.chunk;
  let sp = j % SP;
  let plane = j / SP;
  if (plane >= params.planes) { return; }
  let c = plane % C;
  let n = plane / C;
  let grp = n / params.Ng;
  let gc = grp * C + c;
  var center: f32;
  if (MODE == 0u) {
    center = x[(grp * params.Ng * C + c) * HW];
  } else if (MODE == 1u) {
    center = mean[gc];
  } else {
    center = 0.0;
  }
  let start = plane * HW + sp * params.chunk;
  let end = plane * HW + min((sp + 1u) * params.chunk, HW);
  var acc = vec2<f32>(0.0, 0.0);
  for (var i = start; i < end; i++) {
    let d = x[i] - center;
    if (MODE == 0u) {
      acc += vec2<f32>(d, d * d);
    } else {
      let gv = g[i];
      acc += vec2<f32>(gv, gv * d);
    }
  }
  let o = 2u * (gc * params.S + (n - grp * params.Ng) * SP + sp);
  partial[o] = acc.x;
  partial[o + 1u] = acc.y;
}
