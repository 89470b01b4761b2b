// colsum: out[n] = sum over r < rows of x[r * cols + n] (the bias gradient of a linear layer:
// column sums of the output gradient; also sums a batched gradient over its batch).
// Layout: x row-major [rows, cols]; out [cols]. Bindings: params (uniform), x (read),
// out (written, every element).
// Tiling: 1-D over columns, WG threads per workgroup, one thread per column walking the rows
// (consecutive threads read consecutive addresses); grid folded into y past 65535 groups.
// Summation is pairwise in blocks of 4 rows to keep float32 rounding small.

struct Params { rows: u32, cols: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let n = gid.x + gid.y * nwg.x * WG;
  let cols = params.cols;
  let rows = params.rows;
  if (n >= cols) { return; }
  var s0 = 0.0;
  var s1 = 0.0;
  var s2 = 0.0;
  var s3 = 0.0;
  var r = 0u;
  for (; r + 4u <= rows; r += 4u) {
    s0 += x[r * cols + n];
    s1 += x[(r + 1u) * cols + n];
    s2 += x[(r + 2u) * cols + n];
    s3 += x[(r + 3u) * cols + n];
  }
  for (; r < rows; r++) { s0 += x[r * cols + n]; }
  out[n] = (s0 + s1) + (s2 + s3);
}
