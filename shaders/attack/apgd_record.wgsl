// apgd_record: APGD's per-element bookkeeping after an iteration, from the per-image flags that
// apgd_samples.wgsl's iterate_main set (fields IMPROVED 8, NEWLY_FOOLED 9, HALVE 10), in the
// reference's order: if the loss improved, xBest = x and gBest = g; if the iterate is the first
// misclassified one, xAdv = x; then at a halving checkpoint, x = xBest and g = gBest (the next
// step restarts from the best point with its gradient).
// Layout: [N, per] (per = C * H * W). Bindings: params (uniform), state (read, f32 [FIELDS, N]),
// x, g, xBest, gBest, xAdv (read and written).
// Tiling: 1-D, one thread per element, i = gid.x + gid.y * nwg.x * WG.

struct Params { n: u32, per: u32, N: u32, pad: u32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> state: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> xBest: array<f32>;
@group(0) @binding(5) var<storage, read_write> gBest: array<f32>;
@group(0) @binding(6) var<storage, read_write> xAdv: array<f32>;

const IMPROVED = 8u;
const NEWLY_FOOLED = 9u;
const HALVE = 10u;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let n = i / params.per;
  let N = params.N;
  if (state[IMPROVED * N + n] > 0.5) {
    xBest[i] = x[i];
    gBest[i] = g[i];
  }
  if (state[NEWLY_FOOLED * N + n] > 0.5) { xAdv[i] = x[i]; }
  if (state[HALVE * N + n] > 0.5) {
    x[i] = xBest[i];
    g[i] = gBest[i];
  }
}
