// Learning rules (after Biotorch): a rule decides which matrix a conv or linear layer's
// backward sends the error through. The forward always uses W; the weight gradient is always
// the exact local one. Only the input gradient changes:
//   bp    W itself
//   fa    B drawn once (xavier-uniform), never changed
//   usf   B = s * sign(W), recomputed every forward, s = sqrt(2 / (fan_in + fan_out))
//   brsf  B = |M| * sign(W), M redrawn (xavier-uniform) every forward
//   frsf  B = |M0| * sign(W), M0 drawn once
//   dfa   the layer's input receives B^T e, with e = dLoss/dlogits and B [classes, fan-in dims]
//         (broadcast over the positions of a conv's output), bypassing the layers above.
// Feedback matrices live on the GPU and are refreshed by small kernels inside the step's
// command encoder, reproducibly from the generator's seed.

import { Tensor, keep, type Shape, fmt } from '../tensor.js';
import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { record, exactGradients } from '../autograd.js';
import { Generator, uniformInPlace } from '../ops/random.js';
import { fans } from './init.js';
import { STATE, type HasState } from './module.js';
import feedbackSource from '../../shaders/rules/feedback.wgsl';
import broadcastSource from '../../shaders/rules/broadcast_spatial.wgsl';

export const RULE_NAMES = ['bp', 'fa', 'dfa', 'usf', 'brsf', 'frsf'] as const;
export type RuleName = (typeof RULE_NAMES)[number];

export function parseRule(name: string): RuleName {
  const lower = name.toLowerCase();
  if ((RULE_NAMES as readonly string[]).includes(lower)) return lower as RuleName;
  throw new Error(`unknown learning rule '${name}'; known rules: ${RULE_NAMES.join(', ')}`);
}

const feedbackKernel = new Kernel('rule_feedback', feedbackSource);
const broadcastKernel = new Kernel('dfa_broadcast_spatial', broadcastSource);

/** Rules whose feedback matrix is a tensor of W's shape. */
const USES_FEEDBACK_MATRIX: readonly RuleName[] = ['fa', 'usf', 'brsf', 'frsf'];

export interface RuleOptions {
  /** Classes of the network's output: the DFA matrix's first dimension. */
  numClasses?: number;
  /** For convs, DFA's B is [classes, C_in, kh, kw]; for linear layers [classes, in]. */
  dfaShape?: Shape;
}

/** The rule of one layer and the GPU state it needs. */
export class LearningRule implements HasState {
  /** FA: the fixed B. uSF/brSF/frSF: the B refreshed at each forward. DFA: [classes, ...]. */
  readonly matrix: Tensor | null = null;
  /** frSF: the fixed magnitudes M0. */
  readonly magnitudes: Tensor | null = null;
  private readonly xavierBound: number;

  constructor(readonly name: RuleName, readonly weightShape: Shape, private gen: Generator, opts: RuleOptions = {}) {
    const { fanIn, fanOut } = fans(weightShape);
    this.xavierBound = Math.sqrt(6 / (fanIn + fanOut));
    if (USES_FEEDBACK_MATRIX.includes(name)) {
      this.matrix = keep(Tensor.empty(weightShape, 'f32', `${name}.B`));
      if (name === 'fa') uniformInPlace(this.matrix, gen, -this.xavierBound, this.xavierBound);
      if (name === 'frsf') {
        this.magnitudes = keep(Tensor.empty(weightShape, 'f32', 'frsf.M0'));
        uniformInPlace(this.magnitudes, gen, -this.xavierBound, this.xavierBound);
      }
    } else if (name === 'dfa') {
      if (!opts.numClasses || !opts.dfaShape) throw new Error('DFA needs the number of classes of the network output (numClasses)');
      this.matrix = keep(Tensor.empty(opts.dfaShape, 'f32', 'dfa.B'));
      const f = fans(opts.dfaShape);
      const bound = Math.sqrt(6 / (f.fanIn + f.fanOut));
      uniformInPlace(this.matrix, gen, -bound, bound);
    }
  }

  /**
   * The matrix the input gradient goes through, refreshed for this forward; null for BP
   * and DFA (DFA replaces the input gradient as a whole: see dfaJoin).
   */
  feedback(weight: Tensor): Tensor | null {
    const B = this.matrix;
    switch (this.name) {
      case 'bp':
      case 'dfa':
        return null;
      case 'fa':
        return B;
      case 'usf': {
        const { fanIn, fanOut } = fans(this.weightShape);
        refresh(0, weight, weight, B!, Math.sqrt(2 / (fanIn + fanOut)));
        return B;
      }
      case 'brsf':
        uniformInPlace(B!, this.gen, -this.xavierBound, this.xavierBound);
        refresh(2, weight, weight, B!, 0);
        return B;
      case 'frsf':
        refresh(1, weight, this.magnitudes!, B!, 0);
        return B;
    }
  }

  /** Tensors to checkpoint with the layer (the random state that is not recomputed). */
  [STATE](): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    if (this.name === 'fa' || this.name === 'dfa') out.push(['B', this.matrix!]);
    if (this.name === 'frsf') out.push(['M0', this.magnitudes!]);
    return out;
  }

  dispose(): void {
    for (const t of [this.matrix, this.magnitudes]) if (t && !t.released) t.release();
  }
}

function refresh(mode: 0 | 1 | 2, w: Tensor, m: Tensor, b: Tensor, scale: number): void {
  gpu().dispatch1d(feedbackKernel, { w: w.buffer, m: m.buffer, b: b.buffer }, { n: w.size, scale }, w.size, { MODE: mode });
}

// ---- DFA ------------------------------------------------------------------------------------

/** e = dLoss/dlogits of the current backward, captured by a hook on the network's output. */
let outputError: Tensor | null = null;

/** Networks call this on their logits; DFA layers read the error it captures during backward. */
export function tapOutput(logits: Tensor): Tensor {
  if (!logits.requiresGrad) return logits;
  logits.hooks.push((g) => {
    outputError?.release();
    outputError = keep(g.view());
  });
  return logits;
}

export function currentOutputError(layer: string): Tensor {
  if (!outputError) throw new Error(`${layer}: DFA needs the output error, but the network did not call tapOutput() on its logits`);
  return outputError;
}

/** Releases the captured error (end of a step). */
export function clearOutputError(): void {
  outputError?.release();
  outputError = null;
}

/** e [N, K] repeated over every position: [N, K, H, W]. */
export function broadcastSpatial(e: Tensor, h: number, w: number): Tensor {
  if (e.rank !== 2) throw new Error(`broadcastSpatial: error must be [N, classes], got ${fmt(e.shape)}`);
  const out = Tensor.empty([e.shape[0], e.shape[1], h, w]);
  gpu().dispatch1d(broadcastKernel, { e: e.buffer, out: out.buffer }, { n: out.size, hw: h * w }, out.size);
  return out;
}

/**
 * Gives `y` (computed from a detached view of x) a second parent: x, whose gradient is
 * `inputGrad(g)` instead of the one y's own backward would send. The weight gradient still
 * flows through y's node.
 */
export function joinInputGradient(y: Tensor, x: Tensor, name: string, inputGrad: (g: Tensor) => Tensor): Tensor {
  if (!x.requiresGrad && !y.requiresGrad) return y;
  const out = y.view();
  return record(out, name, [y, x], (g) => [g, x.requiresGrad ? inputGrad(g) : null]);
}

export { exactGradients };
