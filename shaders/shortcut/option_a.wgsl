// option_a: the parameter-free ResNet shortcut of He et al. for CIFAR (option A): subsample
// by `stride` in H and W and zero-pad the channels, `pad` before and after.
// BACKWARD (override) 0: forward  out[n, c, h, w] = x[n, c - pad, h*stride, w*stride] or 0
//                     1: backward dx[n, c, h, w] = g[n, c + pad, h/stride, w/stride] where
//                        h, w are multiples of stride, else 0
// Layout: NCHW. Bindings: params, src (read), dst (written: out, or dx).
// Tiling: 1-D over dst, WG threads, one element each.

struct Params {
  n: u32,
  in_c: u32, in_h: u32, in_w: u32,
  out_c: u32, out_h: u32, out_w: u32,
  pad: u32,
  stride: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

override WG: u32 = 64;
override BACKWARD: u32 = 0;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  if (BACKWARD == 0u) {
    let w = i % params.out_w;
    let h = (i / params.out_w) % params.out_h;
    let c = (i / (params.out_w * params.out_h)) % params.out_c;
    let b = i / (params.out_w * params.out_h * params.out_c);
    var v = 0.0;
    if (c >= params.pad && c < params.pad + params.in_c) {
      v = src[((b * params.in_c + c - params.pad) * params.in_h + h * params.stride) * params.in_w + w * params.stride];
    }
    dst[i] = v;
  } else {
    // dst is dx with the input's shape; src is g with the output's shape.
    let w = i % params.in_w;
    let h = (i / params.in_w) % params.in_h;
    let c = (i / (params.in_w * params.in_h)) % params.in_c;
    let b = i / (params.in_w * params.in_h * params.in_c);
    var v = 0.0;
    if (h % params.stride == 0u && w % params.stride == 0u) {
      v = src[((b * params.out_c + c + params.pad) * params.out_h + h / params.stride) * params.out_w + w / params.stride];
    }
    dst[i] = v;
  }
}
