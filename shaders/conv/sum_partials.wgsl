// conv_sum_partials: out[i] = sum over s < splits of part[s * n + i], in order of s (so a split
// reduction gives the same bits on every run). Used after weight_grad.wgsl,
// depthwise_weight_grad.wgsl and bias_grad.wgsl.
// Layout: part [splits, n], out [n]. Bindings: params (uniform), part (read), out (written).
// Tiling: 1-D, WG threads per workgroup, one thread per output element; the grid folds into y
// past 65535 workgroups (index i = gid.x + gid.y * nwg.x * WG).

struct Params { n: u32, splits: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let n = params.n;
  if (i >= n) { return; }
  var sum = 0.0;
  for (var s = 0u; s < params.splits; s++) {
    sum += part[s * n + i];
  }
  out[i] = sum;
}
