// binary: out = a OP b elementwise over n values, plus the unary forms used by autograd.
// OP (override): 0 add, 1 sub, 2 mul, 3 axpy (out = out + alpha * a, b unused),
//                4 scale (out = alpha * a), 5 relu (out = max(a, 0)),
//                6 relu backward (out = a where b > 0, else 0; a = grad, b = forward input),
//                7 copy (out = a).
// Layout: flat, same shape for a, b, out. Bindings: params, a, b (read), out (written).
// Tiling: 1-D, WG threads, each handles one element; grid folded into y past 65535 groups.

struct Params { n: u32, alpha: f32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;
override OP: u32 = 0;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let x = a[i];
  var r: f32;
  switch OP {
    case 0u: { r = x + b[i]; }
    case 1u: { r = x - b[i]; }
    case 2u: { r = x * b[i]; }
    case 3u: { r = out[i] + params.alpha * x; }
    case 4u: { r = params.alpha * x; }
    case 5u: { r = max(x, 0.0); }
    case 6u: { r = select(0.0, x, b[i] > 0.0); }
    default: { r = x; }
  }
  out[i] = r;
}
