// select_rows: dst[r, j] = flag[r] != 0 ? src[r, j] : dst[r, j], in place on dst: the rows
// (images) whose flag is set take src's row. Square's accept step and its final choice.
// Layout: dst, src [R, row] row-major (row = C*H*W); flag u32 [R].
// Bindings: params, dst (read_write), src (read), flag (read).
// Tiling: 1-D over dst, WG threads, one element each.

struct Params {
  n: u32,
  row: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read> flag: array<u32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  if (flag[i / params.row] != 0u) { dst[i] = src[i]; }
}
