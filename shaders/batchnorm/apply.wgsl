// batchnorm_apply: the per-channel affine maps of batch norm over x [N, C, H, W] (NCHW).
//   MODE 0 (forward):  out = x * coef[2GC + gc] + coef[3GC + gc]   (stats: scale, shift); g unused.
//   MODE 1 (backward): out = coef[GC + gc] * g + coef[2GC + gc] * (x - coef[gc]) + coef[3GC + gc]
//                      (batchnorm_backward_coef: mean, k, p, q).
// gc = (n / Ng) * C + c is the group channel of batchnorm_partial (c when G = 1, Ng = N);
// GC = G * C.
// Bindings: params (uniform), x, g, coef (read), out (written).
// Tiling: one row (n, c) of HW values per grid row: row = wid.y + wid.z * nwg.y (rows folded
// into z past 65535); each thread maps the PER consecutive values from
// hw = (wid.x * WG + lid.x) * PER (tuning.pixelsPerThread). The channel is found once per thread.

struct Params { C: u32, HW: u32, rows: u32, Ng: u32, GC: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> coef: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

override WG: u32 = 64;
override MODE: u32 = 0;
override PER: u32 = 1;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.y + wid.z * nwg.y;
  let hw0 = (wid.x * WG + lid.x) * PER;
  if (row >= params.rows || hw0 >= params.HW) { return; }
  let C = params.C;
  let GC = params.GC;
  let gc = (row / (params.Ng * C)) * C + row % C;
  let i0 = row * params.HW + hw0;
  let i1 = i0 + min(PER, params.HW - hw0);
  if (MODE == 0u) {
    let sc = coef[2u * GC + gc];
    let sh = coef[3u * GC + gc];
    for (var i = i0; i < i1; i++) { out[i] = x[i] * sc + sh; }
  } else {
    let mean = coef[gc];
    let k = coef[GC + gc];
    let p = coef[2u * GC + gc];
    let q = coef[3u * GC + gc];
    for (var i = i0; i < i1; i++) { out[i] = k * g[i] + p * (x[i] - mean) + q; }
  }
}
