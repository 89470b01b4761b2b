// batchnorm_partial_texture: partial.wgsl's thread_main (per-channel partial sums for batch norm,
// one thread per contiguous run of `chunk` values inside one (n, c) plane) reading x and g from
// texture copies, for CPU rasterisers (llvmpipe gathers a texel in one vector op, where every
// storage-buffer load is a per-lane loop; layout: src/ops/texture_copy.ts). H*W % 4 == 0 and
// chunk % 4 == 0, so a run is whole texels.
//   MODE 0 (forward):  sum(d), sum(d * d) with d = x - (the group's first x of channel c);
//   MODE 1 (backward): sum(g), sum(g * (x - mean[gc]));
//   MODE 2 (backward from the output, affine = false): sum(g), sum(g * x).
// Partial (gc, (n - grp * Ng) * SP + sp) as in partial.wgsl, SP = ceil(HW / chunk) runs per plane.
// Bindings: params (uniform), x, g (textures; g = x when unused), mean (read), partial (written).
// 1-D: thread j = gid.x + gid.y * nwg.x * WG = plane * SP + sp.

struct Params { C: u32, HW: u32, M: u32, chunk: u32, S: u32, Ng: u32, planes: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var x: texture_2d<f32>;
@group(0) @binding(2) var g: texture_2d<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;

override WG: u32 = 64;
override MODE: u32 = 0;
override WT_SHIFT: u32 = 10;

fn at(t: u32) -> vec2<u32> {
  return vec2<u32>(t & ((1u << WT_SHIFT) - 1u), t >> WT_SHIFT);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
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
    center = textureLoad(x, at((grp * params.Ng * C + c) * HW / 4u), 0).x;
  } else if (MODE == 1u) {
    center = mean[gc];
  } else {
    center = 0.0;
  }
  let start = (plane * HW + sp * params.chunk) / 4u;
  let end = (plane * HW + min((sp + 1u) * params.chunk, HW)) / 4u;
  var acc = vec2<f32>(0.0, 0.0);
  for (var t = start; t < end; t++) {
    let d = textureLoad(x, at(t), 0) - center;
    if (MODE == 0u) {
      acc += vec2<f32>(d.x + d.y + d.z + d.w, dot(d, d));
    } else {
      let gv = textureLoad(g, at(t), 0);
      acc += vec2<f32>(gv.x + gv.y + gv.z + gv.w, dot(gv, d));
    }
  }
  let o = 2u * (gc * params.S + (n - grp * params.Ng) * SP + sp);
  partial[o] = acc.x;
  partial[o + 1u] = acc.y;
}
