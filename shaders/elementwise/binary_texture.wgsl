// binary_texture: binary.wgsl's elementwise ops reading their operands from texture copies, for
// CPU rasterisers (llvmpipe gathers a texel in one vector op, where every storage-buffer load is
// a per-lane loop; see src/ops/texture_copy.ts for the layout). Each thread maps one texel: 4
// consecutive values.
// OP (override): 0 add, 1 sub, 2 mul, 3 axpy (out = b + alpha * a: b is out's copy),
//                4 scale (out = alpha * a), 5 relu (out = max(a, 0)),
//                6 relu backward (out = a where b > 0, else 0; a = grad, b = forward input).
// Layout: flat, n values; the last texel may hold padding past n, never stored.
// Bindings: params, a, b (textures; b = a when unused), out (written).
// Tiling: 1-D, WG threads, one texel each; grid folded into y past 65535 groups.

struct Params { n: u32, alpha: f32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var a: texture_2d<f32>;
@group(0) @binding(2) var b: texture_2d<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;
override OP: u32 = 0;
override WT_SHIFT: u32 = 10;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * WG;
  let i = 4u * t;
  if (i >= params.n) { return; }
  let at = vec2<u32>(t & ((1u << WT_SHIFT) - 1u), t >> WT_SHIFT);
  let x = textureLoad(a, at, 0);
  var r: vec4<f32>;
  switch OP {
    case 0u: { r = x + textureLoad(b, at, 0); }
    case 1u: { r = x - textureLoad(b, at, 0); }
    case 2u: { r = x * textureLoad(b, at, 0); }
    case 3u: { r = textureLoad(b, at, 0) + params.alpha * x; }
    case 4u: { r = params.alpha * x; }
    case 5u: { r = max(x, vec4<f32>(0.0)); }
    case 6u: { r = select(vec4<f32>(0.0), x, textureLoad(b, at, 0) > vec4<f32>(0.0)); }
    default: { r = x; }
  }
  // Scalar stores: cheaper than one vec4 store on llvmpipe.
  out[i] = r.x;
  if (i + 3u < params.n) {
    out[i + 1u] = r.y;
    out[i + 2u] = r.z;
    out[i + 3u] = r.w;
  } else {
    if (i + 1u < params.n) { out[i + 1u] = r.y; }
    if (i + 2u < params.n) { out[i + 2u] = r.z; }
  }
}
