// sum_rows: out[out_offset + r] = f(sum_{j < len} partials[base + r * len + j]) for r < rows,
// summed in order by one thread per row (rows are short: the partials of dot_partials).
// SQRT = 1: f = sqrt (a global L2 norm), else identity.
// Layout: partials row-major [rows, len]. Bindings: params, partials (read), out (read_write).
// Tiling: 1-D over rows, WG threads.

struct Params {
  rows: u32,
  len: u32,
  base: u32,
  out_offset: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;
override SQRT: u32 = 0;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= params.rows) { return; }
  let start = params.base + r * params.len;
  var s = 0.0;
  for (var j = 0u; j < params.len; j = j + 1u) {
    s = s + partials[start + j];
  }
  if (SQRT == 1u) { s = sqrt(s); }
  out[params.out_offset + r] = s;
}
