// copy_block: moves a block of columns between two tensors seen as row-major [outer, inner]
// matrices, as raw 32-bit words (any dtype): concat, slice and their gradients.
// OP 0 (copy): for o < outer, j < len: dst[o*dst_inner + dst_off + j] = src[o*src_inner + src_off + j];
//              threads cover outer * len, the rest of dst is left as it is.
// OP 1 (pad):  for o < outer, c < dst_inner: dst[o*dst_inner + c] = src[o*src_inner + src_off + c - dst_off]
//              when dst_off <= c < dst_off + len, else 0; threads cover all of dst (slice backward).
// For an axis a of shape s: outer = prod(s[:a]), inner = s[a] * prod(s[a+1:]), offsets and len
// are in words (start * prod(s[a+1:])).
// Bindings: params, src (read), dst (read_write).
// Tiling: 1-D, WG threads, one element each; grid folded into y past 65535 groups.

struct Params {
  n: u32,
  len: u32,
  src_inner: u32,
  src_off: u32,
  dst_inner: u32,
  dst_off: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

override WG: u32 = 64;
override OP: u32 = 0;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  if (OP == 0u) {
    let o = i / params.len;
    let j = i - o * params.len;
    dst[o * params.dst_inner + params.dst_off + j] = src[o * params.src_inner + params.src_off + j];
  } else {
    let o = i / params.dst_inner;
    let c = i - o * params.dst_inner;
    var v = 0u;
    if (c >= params.dst_off && c < params.dst_off + params.len) {
      v = src[o * params.src_inner + params.src_off + (c - params.dst_off)];
    }
    dst[i] = v;
  }
}
