// batchnorm_backward_coef: per-channel gradient sums and the coefficients of dx, one thread per
// channel c < C, from the partial sums of batchnorm_partial (MODE 1) over M = N*H*W values:
//   sg = sum(g), sgd = sum(g * (x - mean)), dweight = sgd * invstd (= sum(g * xhat)), dbias = sg,
//   dx = k * g + p * (x - mean) + q with k = invstd * w and
//     TRAINING 1: p = -k * invstd^2 * sgd / M, q = -k * sg / M
//                 (= invstd * w / M * (M * g - sum(g) - xhat * sum(g * xhat)));
//     TRAINING 0: p = q = 0 (the statistics are constants).
// FROM_OUTPUT 1 (affine = false, src/ops/batchnorm.ts): the partial sums were taken over the
// output y = xhat with center 0, so sgd = sum(g * xhat) already: dweight = sgd, p = -k * sgd / M,
// mean written as 0, and dx = k * g + p * y + q reads y instead of x.
// S may be 0 (no parameter gradient in evaluation): the sums are then 0.
// Writes coef [4, C]: mean, k, p, q. stats is batchnorm_stats' [4, C] (mean, invstd, ...).
// Bindings: params (uniform), partial, stats, weight (read), dweight, dbias, coef (written).
// Tiling: 1-D, i = gid.x + gid.y * nwg.x * WG.

struct Params { C: u32, M: u32, S: u32, hasWeight: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(5) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(6) var<storage, read_write> coef: array<f32>;

override WG: u32 = 64;
override TRAINING: u32 = 1;
override FROM_OUTPUT: u32 = 0;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = gid.x + gid.y * nwg.x * WG;
  let C = params.C;
  if (c >= C) { return; }
  var sg = 0.0;
  var sgd = 0.0;
  let base = 2u * c * params.S;
  for (var s = 0u; s < params.S; s++) {
    sg += partial[base + 2u * s];
    sgd += partial[base + 2u * s + 1u];
  }
  var mean = stats[c];
  let invstd = stats[C + c];
  // sum(g * xhat): from x it is sgd * invstd, from y = xhat it is sgd.
  var sgx = sgd * invstd;
  var pScale = invstd * invstd;
  if (FROM_OUTPUT == 1u) {
    mean = 0.0;
    sgx = sgd;
    pScale = 1.0;
  }
  var w = 1.0;
  if (params.hasWeight == 1u) { w = weight[c]; }
  let k = invstd * w;
  var p = 0.0;
  var q = 0.0;
  if (TRAINING == 1u) {
    let m = f32(params.M);
    p = -k * pScale * sgd / m;
    q = -k * sg / m;
  }
  dweight[c] = sgx;
  dbias[c] = sg;
  coef[c] = mean;
  coef[C + c] = k;
  coef[2u * C + c] = p;
  coef[3u * C + c] = q;
}
