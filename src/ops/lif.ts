// The leaky integrate-and-fire neuron of MSE-NAS (SPEC 10, BrainCog's LIFNode), over T time
// steps at once ("multi-step mode"): the input is a [T*N, ...] tensor, T-major, and one kernel
// loops t inside a thread per neuron, carrying the membrane between steps. Forward saves the
// membrane before reset, u_t, which is all the backward reads: the caller may free the input.
// The backward is backpropagation through time in one kernel, with BrainCog's quadratic-gate
// surrogate for the spike's derivative and the reset's spike detached.

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { Tensor, fmt } from '../tensor.js';
import { record } from '../tape.js';
import forwardSource from '../../shaders/snn/lif_forward.wgsl';
import backwardSource from '../../shaders/snn/lif_backward.wgsl';

const forwardKernel = new Kernel('lif_forward', forwardSource);
const backwardKernel = new Kernel('lif_backward', backwardSource);

/** Firing threshold: BrainCog's LIFNode default, the one MSE-NAS uses (SPEC 10). */
export const LIF_THRESHOLD = 0.5;
/** Membrane time constant: mem <- mem + (x - mem) / tau (BrainCog LIFNode, SPEC 10). */
export const LIF_TAU = 2;
/** Surrogate width: sg(d) = alpha - alpha^2 |d| on |d| <= 1/alpha (BrainCog QGateGrad default, SPEC 10). */
export const LIF_ALPHA = 2;

export interface LifOptions {
  /** Time steps; the input's first dimension is T * N. */
  T: number;
  tau?: number;
  threshold?: number;
  alpha?: number;
  /** Also return each neuron's spike count over the T steps ([N, ...rest], no gradient). */
  counts?: boolean;
}

export interface LifParams {
  T: number;
  M: number;
  tau: number;
  threshold: number;
  alpha: number;
}

/** Checks the options against the input; M = neurons per step. */
export function lifParams(op: string, x: Tensor, o: LifOptions): LifParams {
  if (x.dtype !== 'f32') throw new Error(`${op}: needs an f32 tensor, got ${x.dtype}`);
  if (!Number.isInteger(o.T) || o.T < 1) throw new Error(`${op}: T must be a positive integer, got ${o.T}`);
  if (x.rank < 1 || x.shape[0] % o.T) throw new Error(`${op}: input ${fmt(x.shape)} must have a first dimension T*N divisible by T = ${o.T}`);
  const p = { T: o.T, M: x.size / o.T, tau: o.tau ?? LIF_TAU, threshold: o.threshold ?? LIF_THRESHOLD, alpha: o.alpha ?? LIF_ALPHA };
  if (!(p.tau >= 1)) throw new Error(`${op}: tau must be >= 1 (the membrane leaks a fraction 1/tau per step), got ${p.tau}`);
  if (!(p.alpha > 0)) throw new Error(`${op}: alpha must be > 0, got ${p.alpha}`);
  if (!Number.isFinite(p.threshold)) throw new Error(`${op}: threshold must be finite, got ${p.threshold}`);
  return p;
}

/** Spikes [T*N, ...], the membranes before reset u (same shape) and, if asked, counts [N, ...]. */
export function lifForward(x: Tensor, o: LifOptions): { spikes: Tensor; u: Tensor; counts: Tensor | null } {
  const p = lifParams('lif', x, o);
  const spikes = Tensor.empty(x.shape, 'f32', 'lif.spikes');
  const u = Tensor.empty(x.shape, 'f32', 'lif.u');
  const counts = o.counts ? Tensor.empty([x.shape[0] / p.T, ...x.shape.slice(1)], 'f32', 'lif.counts') : null;
  // Without counts the binding still needs a buffer; the kernel never writes it (COUNT 0).
  const sink = counts ?? Tensor.empty([1], 'f32', 'lif.unused');
  if (p.M > 0) {
    gpu().dispatch1d(forwardKernel, { x: x.buffer, spikes: spikes.buffer, mem: u.buffer, counts: sink.buffer },
      { T: p.T, M: p.M, tau: p.tau, threshold: p.threshold }, p.M, { COUNT: counts ? 1 : 0 });
  }
  if (!counts) sink.release();
  return { spikes, u, counts };
}

/** dL/dx from dL/dspikes and the saved membranes (BPTT, surrogate gradient, reset detached). */
export function lifBackward(gs: Tensor, u: Tensor, o: LifOptions): Tensor {
  const p = lifParams('lif backward', u, o);
  if (gs.size !== u.size) throw new Error(`lif backward: gradient ${fmt(gs.shape)} does not match the membranes ${fmt(u.shape)}`);
  const gx = Tensor.empty(u.shape, 'f32', 'lif.gx');
  if (p.M > 0) {
    gpu().dispatch1d(backwardKernel, { gs: gs.buffer, mem: u.buffer, gx: gx.buffer },
      { T: p.T, M: p.M, tau: p.tau, threshold: p.threshold, alpha: p.alpha }, p.M);
  }
  return gx;
}

/**
 * LIF neurons over T steps: spikes (0/1) of x's shape, differentiable by the surrogate.
 * `counts` (when asked) is a plain tensor outside the graph. The saved membranes u stay alive
 * for the backward, as every op's saved tensors do (released with the step's scope); without
 * a recorded backward they are released at once.
 */
export function lif(x: Tensor, o: LifOptions): { spikes: Tensor; counts: Tensor | null } {
  const { spikes, u, counts } = lifForward(x, o);
  const out = record(spikes, 'lif', [x], (g) => [lifBackward(g, u, o)]);
  if (!out.node) u.release();
  return { spikes: out, counts };
}
