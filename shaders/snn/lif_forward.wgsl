// lif_forward: T steps of leaky integrate-and-fire neurons, one thread per neuron looping t.
//   u_t = m_{t-1} + (x_t - m_{t-1}) / tau        (membrane before reset; m_{-1} = 0)
//   s_t = [u_t > threshold]                      (the spike)
//   m_t = u_t * (1 - s_t)                        (hard reset; the backward treats s_t here as a constant)
// Saves u_t for the backward (lif_backward.wgsl); with COUNT = 1 also counts[i] = sum_t s_t,
// the neuron's spike count over the T steps (spike features, an energy proxy).
// Layout: x, spikes, mem are [T, M], T-major (a [T*N, C, H, W] tensor: step t holds images
// t*N .. t*N+N-1, so M = N*C*H*W and neuron i of step t is at t*M + i); counts is [M].
// Bindings: params (T, M, tau, threshold), x (read), spikes, mem, counts (written).
// Tiling: 1-D over M, WG threads, one neuron each; grid folded into y past 65535 groups.

struct Params { T: u32, M: u32, tau: f32, threshold: f32, }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> spikes: array<f32>;
@group(0) @binding(3) var<storage, read_write> mem: array<f32>;
@group(0) @binding(4) var<storage, read_write> counts: array<f32>;

override WG: u32 = 64;
override COUNT: u32 = 0;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.M) { return; }
  var m = 0.0;
  var c = 0.0;
  for (var t = 0u; t < params.T; t++) {
    let k = t * params.M + i;
    let u = m + (x[k] - m) / params.tau;
    let s = select(0.0, 1.0, u > params.threshold);
    mem[k] = u;
    spikes[k] = s;
    m = u * (1.0 - s);
    c += s;
  }
  if (COUNT == 1u) { counts[i] = c; }
}
