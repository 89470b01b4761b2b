// adam: one fused Adam / AdamW update of one parameter, PyTorch semantics (no amsgrad):
//   w = p * decay_mul                                 (AdamW's decoupled decay: decay_mul = 1 - lr * wd; Adam: 1)
//   d = g + weight_decay * w                          (Adam's coupled L2, when weight_decay != 0; AdamW passes 0)
//   m = beta1 * m + (1 - beta1) * d,  v = beta2 * v + (1 - beta2) * d * d   (m = v = 0 before step 1)
//   p = w - step_size * m / (sqrt(v) / bc2_sqrt + eps)
// with step_size = lr / (1 - beta1^t) and bc2_sqrt = sqrt(1 - beta2^t) computed on the CPU in
// float64 from the step count t and passed as uniforms (no recompiles, no readback).
// 1 - beta1 and 1 - beta2 come in float64-rounded (1 - f32(0.999) is 1.3e-5 off 0.001).
// first = 1 on a parameter's first step: m and v are written without being read.
// Layout: flat, n values. Bindings: params, p (read_write), g (read), m, v (read_write).
// Tiling: 1-D, WG threads, one element each; grid folded into y past 65535 groups.

struct Params {
  n: u32,
  step_size: f32,
  beta1: f32,
  beta2: f32,
  one_minus_beta1: f32,
  one_minus_beta2: f32,
  eps: f32,
  weight_decay: f32,
  bc2_sqrt: f32,
  first: u32,
  decay_mul: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let w = p[i] * params.decay_mul;
  var d = g[i];
  if (params.weight_decay != 0.0) { d = d + params.weight_decay * w; }
  var m1 = params.one_minus_beta1 * d;
  var v1 = params.one_minus_beta2 * d * d;
  if (params.first == 0u) {
    m1 = m1 + params.beta1 * m[i];
    v1 = v1 + params.beta2 * v[i];
  }
  m[i] = m1;
  v[i] = v1;
  p[i] = w - params.step_size * m1 / (sqrt(v1) / params.bc2_sqrt + params.eps);
}
