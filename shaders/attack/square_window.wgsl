// square_window: one Square proposal for every image of the batch at once. Inside the window
// (rows top..top+side-1, columns left..left+side-1, every channel) the best image so far moves
// to best + 2 * eps * sign[c]; everything is then projected on the Linf ball of radius eps
// around the clean image and on [0, 1] (torchattacks 3.5.1's order: ball, then [0, 1]).
// Layout: NCHW row-major, images [N, C, H, W]; sign holds one +-1 per channel (C <= 4).
// Bindings: params, x (clean, read), best (read), out (proposal, written).
// Tiling: 1-D over out, WG threads, one element each.

struct Params {
  sign: vec4<f32>,
  n: u32,
  channels: u32,
  h: u32,
  w: u32,
  top: u32,
  left: u32,
  side: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> best: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let col = i % params.w;
  let row = (i / params.w) % params.h;
  let c = (i / (params.w * params.h)) % params.channels;
  var v = best[i];
  if (row >= params.top && row < params.top + params.side && col >= params.left && col < params.left + params.side) {
    v = v + 2.0 * params.eps * params.sign[c];
  }
  let x0 = x[i];
  out[i] = clamp(clamp(v, x0 - params.eps, x0 + params.eps), 0.0, 1.0);
}
