// batchnorm_apply_texture: apply.wgsl's per-channel affine maps of batch norm reading x (and g)
// from texture copies, for CPU rasterisers (llvmpipe gathers a texel in one vector op, where
// every storage-buffer load is a per-lane loop; layout: src/ops/texture_copy.ts).
//   MODE 0 (forward):  out = x * coef[2GC + gc] + coef[3GC + gc]   (stats: scale, shift); g unused.
//   MODE 1 (backward): out = coef[GC + gc] * g + coef[2GC + gc] * (x - coef[gc]) + coef[3GC + gc]
//                      (batchnorm_backward_coef: mean, k, p, q).
// gc = (n / Ng) * C + c is the group channel of batchnorm_partial; GC = G * C.
// x, g [N, C, H, W] with H*W % 4 == 0: a row (n, c) is HW4 = H*W/4 whole texels.
// Bindings: params (uniform), x, g (textures; g = x when unused), coef (read), out (written).
// Tiling: 1-D over texels; thread t maps the PER (dividing HW4) consecutive texels from t*PER,
// all in one row, so it finds its channel and loads its coefficients once. Grid folded into y
// past 65535 groups.

struct Params { C: u32, HW4: u32, texels: u32, Ng: u32, GC: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var x: texture_2d<f32>;
@group(0) @binding(2) var g: texture_2d<f32>;
@group(0) @binding(3) var<storage, read> coef: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;
override MODE: u32 = 0;
override PER: u32 = 1;
override WT_SHIFT: u32 = 10;

fn at(t: u32) -> vec2<u32> {
  return vec2<u32>(t & ((1u << WT_SHIFT) - 1u), t >> WT_SHIFT);
}

fn store(t: u32, v: vec4<f32>) {
  // Scalar stores: cheaper than one vec4 store on llvmpipe.
  out[4u * t] = v.x;
  out[4u * t + 1u] = v.y;
  out[4u * t + 2u] = v.z;
  out[4u * t + 3u] = v.w;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t0 = (gid.x + gid.y * nwg.x * WG) * PER;
  if (t0 >= params.texels) { return; }
  let C = params.C;
  let row = t0 / params.HW4;
  let gc = (row / (params.Ng * C)) * C + row % C;
  let GC = params.GC;
  if (MODE == 0u) {
    let sc = coef[2u * GC + gc];
    let sh = coef[3u * GC + gc];
    for (var t = t0; t < t0 + PER; t++) { store(t, textureLoad(x, at(t), 0) * sc + sh); }
  } else {
    let mean = coef[gc];
    let k = coef[GC + gc];
    let p = coef[2u * GC + gc];
    let q = coef[3u * GC + gc];
    for (var t = t0; t < t0 + PER; t++) {
      store(t, k * textureLoad(g, at(t), 0) + p * (textureLoad(x, at(t), 0) - mean) + q);
    }
  }
}
