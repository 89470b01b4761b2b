// batchnorm_stats: per-channel statistics for the forward, one thread per group channel
// gc = g * C + c < G * C (G groups of Ng images each normalised by their own statistics, see
// batchnorm_partial; G = 1 without groups).
//   TRAINING 1: from the partial sums of batchnorm_partial (MODE 0) over M = Ng*H*W values:
//       mean = shift + sum(d) / M, var = (sum(d^2) - sum(d)^2 / M) / M (biased, for normalising),
//       and in place, when update is 1 (the host sets it only with G = 1: a group's statistics
//       are not the batch's; and not in evaluation-mode scoring):
//                     running_mean = (1 - momentum) * running_mean + momentum * mean,
//                     running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)
//   TRAINING 0: mean = running_mean, var = running_var (nothing updated).
// Writes stats [4, G * C] (index gc): mean, invstd = 1 / sqrt(var + eps), scale = invstd * w, shift = b - mean * scale
// (w = 1, b = 0 where hasWeight / hasBias is 0), so the forward is y = x * scale + shift.
// Bindings: params (uniform), partial, x, weight, bias (read), runningMean, runningVar (read_write),
// stats (written). Tiling: 1-D, i = gid.x + gid.y * nwg.x * WG.

struct Params { C: u32, HW: u32, M: u32, S: u32, momentum: f32, eps: f32, hasWeight: u32, hasBias: u32, G: u32, Ng: u32, update: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> runningMean: array<f32>;
@group(0) @binding(6) var<storage, read_write> runningVar: array<f32>;
@group(0) @binding(7) var<storage, read_write> stats: array<f32>;

override WG: u32 = 64;
override TRAINING: u32 = 1;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gc = gid.x + gid.y * nwg.x * WG;
  let C = params.C;
  let GC = params.G * C;
  if (gc >= GC) { return; }
  let c = gc % C;
  let g = gc / C;
  var mean: f32;
  var v: f32;
  if (TRAINING == 1u) {
    var sd = 0.0;
    var sdd = 0.0;
    let base = 2u * gc * params.S;
    for (var s = 0u; s < params.S; s++) {
      sd += partial[base + 2u * s];
      sdd += partial[base + 2u * s + 1u];
    }
    let m = f32(params.M);
    let dm = sd / m;
    mean = x[(g * params.Ng * C + c) * params.HW] + dm;
    v = max(sdd / m - dm * dm, 0.0);
    if (params.update == 1u) {
      let mom = params.momentum;
      runningMean[c] = (1.0 - mom) * runningMean[c] + mom * mean;
      runningVar[c] = (1.0 - mom) * runningVar[c] + mom * v * (m / (m - 1.0));
    }
  } else {
    mean = runningMean[c];
    v = runningVar[c];
  }
  let invstd = inverseSqrt(v + params.eps);
  var w = 1.0;
  if (params.hasWeight == 1u) { w = weight[c]; }
  var b = 0.0;
  if (params.hasBias == 1u) { b = bias[c]; }
  let scale = invstd * w;
  stats[gc] = mean;
  stats[GC + gc] = invstd;
  stats[2u * GC + gc] = scale;
  stats[3u * GC + gc] = b - mean * scale;
}
