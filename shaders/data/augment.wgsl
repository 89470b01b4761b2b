// augment: uint8 images -> normalised float batch, with random crop (zero padding, as
// torchvision pads before normalising), horizontal flip and cutout (zeroed after normalising).
// images: the chunk's bytes packed 4 per u32, image-major, each image CHW (CIFAR order).
// params: per batch item 6 i32: image index in chunk, dx, dy (crop offset), flip (0/1),
//         cutout centre y, x (cut when |y - cy| < half_lo... see below; cy < -1000 means none).
// stats: per channel the mean (0..C-1) then 1/std (C..2C-1), any number of channels (event
//        frames carry 2T).
// out: [B, C, H, W] f32. Tiling: 1-D over out, WG threads, one element each.

struct Params {
  n: u32,
  channels: u32,
  height: u32,
  width: u32,
  cut_size: i32,
  pad0: u32,
  pad1: u32,
  pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> images: array<u32>;
@group(0) @binding(2) var<storage, read> items: array<i32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

fn byte_at(i: u32) -> u32 {
  return (images[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let w = params.width;
  let h = params.height;
  let x = i32(i % w);
  let y = i32((i / w) % h);
  let c = (i / (w * h)) % params.channels;
  let b = i / (w * h * params.channels);
  let item = b * 6u;
  let image = u32(items[item]);
  var sx = x + items[item + 1u];
  let sy = y + items[item + 2u];
  if (items[item + 3u] != 0) { sx = i32(w) - 1 - x + items[item + 1u]; }
  var v = 0.0;
  if (sx >= 0 && sx < i32(w) && sy >= 0 && sy < i32(h)) {
    v = f32(byte_at(((image * params.channels + c) * h + u32(sy)) * w + u32(sx))) / 255.0;
  }
  v = (v - stats[c]) * stats[params.channels + c];
  // Cutout: a cut_size square centred at (cy, cx), clipped to the image (DARTS' Cutout).
  let cy = items[item + 4u];
  let cx = items[item + 5u];
  let lo = params.cut_size / 2;
  if (y >= cy - lo && y < cy - lo + params.cut_size && x >= cx - lo && x < cx - lo + params.cut_size) { v = 0.0; }
  out[i] = v;
}
