// write_pixels: One-Pixel's candidate images. Row r is a copy of image image[r] of x with k
// pixels overwritten: genome r holds, per pixel, (row, col, value of channel 0..C-1); the
// position is truncated to an integer as torchattacks' int() and clamped into the image (bionas
// choice: a gene equal to the upper bound H would index past it; torchattacks would fail there); a later pixel at the same position
// wins, as torchattacks' loop. Values are written as they are (the optimiser keeps them in [0, 1]).
// Layout: x [N, C, H, W], out [R, C, H, W] NCHW row-major; image i32 [R]; genomes [R, k*(2+C)].
// Bindings: params, x (read), image (read), genomes (read), out (written).
// Tiling: 1-D over out, WG threads, one element each; each reads the k positions of its row.

struct Params {
  n: u32,
  channels: u32,
  h: u32,
  w: u32,
  pixels: u32,
  genes: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> image: array<i32>;
@group(0) @binding(3) var<storage, read> genomes: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let hw = params.h * params.w;
  let chw = params.channels * hw;
  let r = i / chw;
  let within = i % chw;
  let c = within / hw;
  let p = within % hw;
  let row = i32(p / params.w);
  let col = i32(p % params.w);
  var v = x[u32(image[r]) * chw + within];
  let stride = 2u + params.channels;
  for (var k = 0u; k < params.pixels; k++) {
    let g = r * params.genes + k * stride;
    let pr = clamp(i32(floor(genomes[g])), 0, i32(params.h) - 1);
    let pc = clamp(i32(floor(genomes[g + 1u])), 0, i32(params.w) - 1);
    if (pr == row && pc == col) { v = genomes[g + 2u + c]; }
  }
  out[i] = v;
}
