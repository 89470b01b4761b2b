// A learning rule (after Biotorch) decides what a conv or linear layer's backward sends to its
// input. The forward always uses W; the weight gradient is always the exact local one. A rule
// gives each layer its own state (LayerRule), which does one of two things:
//   (a) feedback: the matrix the input-gradient kernel reads instead of W (null: W itself);
//       BP, FA and the sign-symmetry family;
//   (b) route: the layer's input gradient is replaced as a whole (DFA: B^T e from the output
//       error, bypassing the layers above).
// Rules are registered by name (registry.ts); a family lives in one file (bp, fa,
// sign_symmetry, dfa). Layers run every rule through forwardWithRule (route.ts).

import type { Tensor, Shape, HasState } from '../tensor.js';
import type { Generator } from '../ops/random.js';
import type { Conv2dParams } from '../ops/conv.js';
import type { OutputErrorSlot } from '../context.js';

/** A registered rule's name (ruleNames() lists them). */
export type RuleName = string;

/** What a rule is told about the layer it serves. */
export interface RuleLayerShape {
  /** W's shape: [C_out, C_in / groups, kh, kw] or [out, in]. */
  weightShape: Shape;
  /** Classes of the network's output (DFA-like rules). */
  numClasses?: number;
  /** DFA's B: [classes, C_in, kh, kw] for a conv, [classes, in] for a linear layer. */
  dfaShape?: Shape;
}

/** What a rule knows of the forward it serves. */
export interface FeedbackContext {
  /**
   * The layer learns in this forward (module.training and the step context in 'train'): the
   * rule may change its state (brSF draws new magnitudes). False in evaluation.
   */
  learning: boolean;
}

/** The layer an error route serves. */
export interface RouteTarget {
  /** Names the layer in errors and in the recorded node, e.g. 'Conv2d (dfa)'. */
  name: string;
  /** The conv's geometry; null for a linear layer. */
  conv: Conv2dParams | null;
  /**
   * The exact input gradient from the output gradient, for a backward under exact gradients;
   * absent where the layer cannot give it from a detached input (the backward then keeps the route).
   */
  exactInputGradient?: (g: Tensor) => Tensor;
}

/** Replaces a layer's input gradient as a whole. */
export interface ErrorRoute {
  /**
   * The gradient the layer's input (shape `input`) receives, for an output of shape `output`,
   * read from the output error captured in `slot` (the one active at the layer's forward).
   */
  inputGradient(slot: OutputErrorSlot, input: Shape, output: Shape, target: RouteTarget): Tensor;
}

/** A rule's state in one layer. Its [STATE]() tensors are checkpointed with the layer. */
export interface LayerRule extends HasState {
  readonly name: RuleName;
  /** The rule's matrix: B of W's shape (FA, sign symmetry), DFA's [classes, ...]; null for BP. */
  readonly matrix: Tensor | null;
  /** Set by rules of kind (b); then feedback is not called. */
  readonly route: ErrorRoute | null;
  /** (a) The matrix the input gradient reads in this forward, refreshed for it; null = W itself. */
  feedback(weight: Tensor, ctx: FeedbackContext): Tensor | null;
}

/** A learning rule, as registered. */
export interface LearningRule {
  /** Lower-case name, as written in search spaces, genotypes and on the command line. */
  readonly name: RuleName;
  /** One line for --help and docs. */
  readonly description: string;
  /** Ops of the catalogue this rule cannot pair with, each with the reason. */
  readonly unsupportedOps?: Readonly<Record<string, string>>;
  /** Creates the rule's state for one layer, drawing any random matrix from gen. */
  create(layer: RuleLayerShape, gen: Generator): LayerRule;
}
