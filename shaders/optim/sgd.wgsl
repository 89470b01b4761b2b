// sgd: one fused SGD update of one parameter, PyTorch semantics:
//   d = g + weight_decay * p                          (when weight_decay != 0)
//   buf = d on the first step, else momentum * buf + (1 - dampening) * d   (MOMENTUM = 1)
//   d = d + momentum * buf (NESTEROV = 1), or d = buf (MOMENTUM = 1)
//   p = p - lr * d
// lr, 1 - dampening (rounded from float64) and the first-step flag are uniforms, so a schedule
// never recompiles; no readback.
// MOMENTUM = 0 never touches buf (bind any other buffer there).
// Layout: flat, n values. Bindings: params, p (read_write), g (read), buf (read_write).
// Tiling: 1-D, WG threads, one element each; grid folded into y past 65535 groups.

struct Params {
  n: u32,
  lr: f32,
  momentum: f32,
  one_minus_dampening: f32,
  weight_decay: f32,
  first: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> buf: array<f32>;

override WG: u32 = 64;
override MOMENTUM: u32 = 0;
override NESTEROV: u32 = 0;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let w = p[i];
  var d = g[i];
  if (params.weight_decay != 0.0) { d = d + params.weight_decay * w; }
  if (MOMENTUM == 1u) {
    var b = d;
    if (params.first == 0u) { b = params.momentum * buf[i] + params.one_minus_dampening * d; }
    buf[i] = b;
    if (NESTEROV == 1u) { d = d + params.momentum * b; } else { d = b; }
  }
  p[i] = w - params.lr * d;
}
