// apgd_samples: APGD's decisions per image (Croce & Hein 2020; torchattacks 3.5.1 APGD), one
// thread per image, so that a whole iteration stays on the GPU. The state is f32 [FIELDS, N],
// field f of image n at f * N + n (field numbers as APGD_FIELD in src/ops/attack_steps.ts):
//   0 STEP            step size eta (starts at 2 eps, halved at checkpoints)
//   1 LOSS_BEST       best loss so far
//   2 LOSS_LAST       loss of the previous iterate (counts the increases)
//   3 INCREASES       iterations since the last checkpoint whose loss rose
//   4 BEST_AT_CHECK   LOSS_BEST at the last checkpoint
//   5 HALVED_AT_CHECK 1 if the step was halved at the last checkpoint (1 before the first)
//   6 FOOLED          some iterate of this restart was misclassified
//   7 DONE            not attacked any more: misclassified when clean, or fooled by a restart
//   8 IMPROVED        this iteration's loss beat LOSS_BEST          (read by apgd_record)
//   9 NEWLY_FOOLED    this iteration's iterate is the first misclassified one (apgd_record)
//  10 HALVE           this iteration is a checkpoint that halves the step (apgd_record)
//  11 T_MAX           max |t| of the start's draw t (apgd_start)
// Entry points (all take every binding; unused ones may be any buffer):
//   clean_main    DONE = (clean prediction != label)           reads logits, labels
//   t_max_main    T_MAX = max_j |t[n, j]|                        reads t (per values per image)
//   init_main     the state at the start point x_0              reads logits, labels, loss
//   iterate_main  after iteration i: best loss, first misclassification, increases, and at a
//                 checkpoint (params.checkpoint = 1, window k) the halving decision:
//                 halve = (increases <= rho * k) or (not halved at the last checkpoint and
//                 LOSS_BEST <= BEST_AT_CHECK)                   reads logits, labels, loss
//   finish_main   DONE |= FOOLED (after apgd_merge has taken this restart's adversarials)
// A prediction is the first maximum of the row (argmax); a label outside [0, K) never matches.
// Bindings: params (uniform), logits (read, [N, K]), labels (read, i32 [N]), loss (read, [N]),
// t (read, [N, per]), state (read and written).
// Tiling: 1-D, one thread per image, n = gid.x + gid.y * nwg.x * WG; rows are looped over.

struct Params { N: u32, K: u32, per: u32, checkpoint: u32, window: f32, rho: f32, eps: f32, pad: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read> loss: array<f32>;
@group(0) @binding(4) var<storage, read> t: array<f32>;
@group(0) @binding(5) var<storage, read_write> state: array<f32>;

const STEP = 0u;
const LOSS_BEST = 1u;
const LOSS_LAST = 2u;
const INCREASES = 3u;
const BEST_AT_CHECK = 4u;
const HALVED_AT_CHECK = 5u;
const FOOLED = 6u;
const DONE = 7u;
const IMPROVED = 8u;
const NEWLY_FOOLED = 9u;
const HALVE = 10u;
const T_MAX = 11u;
// APGD's first step size is 2 eps (Croce & Hein 2020, Algorithm 1).
const FIRST_STEP_IN_EPS = 2.0;

override WG: u32 = 64;

fn at(field: u32, n: u32) -> u32 { return field * params.N + n; }

fn flag(b: bool) -> f32 { return select(0.0, 1.0, b); }

fn correct(n: u32) -> bool {
  let K = params.K;
  let base = n * K;
  var best = 0u;
  var v = logits[base];
  for (var k = 1u; k < K; k++) {
    let z = logits[base + k];
    if (z > v) { v = z; best = k; }
  }
  return i32(best) == labels[n];
}

fn image(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * WG; }

@compute @workgroup_size(WG)
fn clean_main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let n = image(gid, nwg);
  if (n >= params.N) { return; }
  state[at(DONE, n)] = flag(!correct(n));
}

@compute @workgroup_size(WG)
fn t_max_main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let n = image(gid, nwg);
  if (n >= params.N) { return; }
  var m = 0.0;
  for (var j = 0u; j < params.per; j++) { m = max(m, abs(t[n * params.per + j])); }
  state[at(T_MAX, n)] = m;
}

@compute @workgroup_size(WG)
fn init_main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let n = image(gid, nwg);
  if (n >= params.N) { return; }
  let l = loss[n];
  state[at(STEP, n)] = FIRST_STEP_IN_EPS * params.eps;
  state[at(LOSS_BEST, n)] = l;
  state[at(LOSS_LAST, n)] = l;
  state[at(INCREASES, n)] = 0.0;
  state[at(BEST_AT_CHECK, n)] = l;
  state[at(HALVED_AT_CHECK, n)] = 1.0;
  state[at(FOOLED, n)] = flag(!correct(n));
  state[at(IMPROVED, n)] = 0.0;
  state[at(NEWLY_FOOLED, n)] = 0.0;
  state[at(HALVE, n)] = 0.0;
}

@compute @workgroup_size(WG)
fn iterate_main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let n = image(gid, nwg);
  if (n >= params.N) { return; }
  let l = loss[n];
  let newly = state[at(FOOLED, n)] < 0.5 && !correct(n);
  state[at(NEWLY_FOOLED, n)] = flag(newly);
  if (newly) { state[at(FOOLED, n)] = 1.0; }
  let improved = l > state[at(LOSS_BEST, n)];
  state[at(IMPROVED, n)] = flag(improved);
  if (improved) { state[at(LOSS_BEST, n)] = l; }
  if (l > state[at(LOSS_LAST, n)]) { state[at(INCREASES, n)] += 1.0; }
  state[at(LOSS_LAST, n)] = l;
  var halve = false;
  if (params.checkpoint == 1u) {
    let best = state[at(LOSS_BEST, n)];
    let oscillating = state[at(INCREASES, n)] <= params.window * params.rho;
    let stalled = state[at(HALVED_AT_CHECK, n)] < 0.5 && state[at(BEST_AT_CHECK, n)] >= best;
    halve = oscillating || stalled;
    state[at(HALVED_AT_CHECK, n)] = flag(halve);
    state[at(BEST_AT_CHECK, n)] = best;
    state[at(INCREASES, n)] = 0.0;
    if (halve) { state[at(STEP, n)] *= 0.5; }
  }
  state[at(HALVE, n)] = flag(halve);
}

@compute @workgroup_size(WG)
fn finish_main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let n = image(gid, nwg);
  if (n >= params.N) { return; }
  if (state[at(FOOLED, n)] > 0.5) { state[at(DONE, n)] = 1.0; }
}
