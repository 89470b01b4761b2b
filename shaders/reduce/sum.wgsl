// reduce_sum: a strided sum over the middle extent of x viewed as [outer, R, inner] (row-major):
//   out[(o * S + s) * inner + i] = alpha * sum_{r in chunk s} x[(o * R + r) * inner + i],
// chunk s = [s * chunk, min((s + 1) * chunk, R)). With S = 1 this is the whole reduction; with
// S > 1 the op sums the [outer, S, inner] partials in a second pass (alpha only on the last).
// Bindings: params (uniform), x (read), out (written: outer * S * inner values).
// Entry points:
//   group_main  one workgroup of WG threads per output; the threads stride over the chunk (reads
//               of neighbouring threads are adjacent when inner = 1) and add up their partial
//               sums in a tree in workgroup memory. Workgroup index wid.x + wid.y * nwg.x
//               (grid folded into y past 65535). WG must be a power of two.
//   thread_main one thread per output, looping over its chunk; neighbouring threads read
//               neighbouring addresses when inner > 1. 1-D: i = gid.x + gid.y * nwg.x * WG.

struct Params { outer: u32, R: u32, inner: u32, chunk: u32, S: u32, alpha: f32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn group_main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
              @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = wid.x + wid.y * nwg.x;
  let total = params.outer * params.S * params.inner;
  let inner = params.inner;
  var acc = 0.0;
  if (j < total) {
    let i = j % inner;
    let t = j / inner;
    let s = t % params.S;
    let o = t / params.S;
    let r0 = s * params.chunk;
    let r1 = min(r0 + params.chunk, params.R);
    var r = r0 + lid.x;
    var p = (o * params.R + r) * inner + i;
    let step = WG * inner;
    for (; r < r1; r += WG) {
      acc += x[p];
      p += step;
    }
  }
  partial[lid.x] = acc;
  workgroupBarrier();
  for (var width = WG / 2u; width > 0u; width = width / 2u) {
    if (lid.x < width) {
      partial[lid.x] = partial[lid.x] + partial[lid.x + width];
    }
    workgroupBarrier();
  }
  if (lid.x == 0u && j < total) {
    out[j] = partial[0] * params.alpha;
  }
}

@compute @workgroup_size(WG)
fn thread_main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = gid.x + gid.y * nwg.x * WG;
  let inner = params.inner;
  if (j >= params.outer * params.S * inner) { return; }
  let i = j % inner;
  let t = j / inner;
  let s = t % params.S;
  let o = t / params.S;
  let r0 = s * params.chunk;
  let r1 = min(r0 + params.chunk, params.R);
  var p = (o * params.R + r0) * inner + i;
  var acc = 0.0;
  for (var r = r0; r < r1; r++) {
    acc += x[p];
    p += inner;
  }
  out[j] = acc * params.alpha;
}
