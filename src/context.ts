// The step context: what the work of a forward and backward runs under, passed by scope
// instead of kept in module-level switches. One context is current; withContext replaces it
// for the duration of a (synchronous) call and restores it afterwards, also on a throw.
//
//   grad         ops record backward nodes (noGrad turns it off)
//   exact        every layer's backward uses W itself, whatever its learning rule (attacks, checks)
//   mode         'train': modules in training mode learn and update their state (BN running
//                statistics, Hebbian filters, brSF draws, drop path, auxiliary heads);
//                'eval': no module changes any state, whatever its own training flag
//   batchStats   BN normalises with the batch's statistics (true in train, false in eval unless asked)
//   batchGroups  BN computes those statistics per group of N / G images (BioNAS-EG stacks one copy
//                of a batch per candidate; each must be normalised as if it ran alone)
//   dfa          the slot where the network's output error e = dLoss/dlogits is captured for
//                DFA layers; captured by layers and tapOutput at forward time, so a backward
//                never reads a global
//
// A module learns in a forward when module.training && context().mode === 'train'.

import { keep, type Tensor } from './tensor.js';

export type StepMode = 'train' | 'eval';

/** Where a backward leaves the output error for the DFA layers of the forward that made it. */
export class OutputErrorSlot {
  private error: Tensor | null = null;
  private closed = false;

  /** Keeps (a view of) the output error, replacing the previous one. */
  capture(g: Tensor): void {
    if (this.closed) throw new Error('DFA: the backward ran after the step that made its forward had ended (run both inside withStep)');
    this.error?.release();
    this.error = keep(g.view());
  }

  /** The captured error; `layer` names the reader in the error when nothing was captured. */
  read(layer: string): Tensor {
    if (!this.error) throw new Error(`${layer}: DFA needs the output error, but the network did not call tapOutput() on its logits`);
    return this.error;
  }

  /** Releases the captured error (end of a step). */
  clear(): void {
    this.error?.release();
    this.error = null;
  }

  /** Releases the error and refuses later captures (a step's own slot, when the step ends). */
  close(): void {
    this.clear();
    this.closed = true;
  }
}

export interface StepContext {
  readonly grad: boolean;
  readonly exact: boolean;
  readonly mode: StepMode;
  readonly batchStats: boolean;
  readonly batchGroups: number;
  readonly dfa: OutputErrorSlot;
}

const ROOT: StepContext = Object.freeze({ grad: true, exact: false, mode: 'train', batchStats: true, batchGroups: 1, dfa: new OutputErrorSlot() });
let current: StepContext = ROOT;

/** The context active now. */
export function context(): StepContext {
  return current;
}

/**
 * Runs fn under the current context changed by `partial`, restored when fn returns or throws.
 * Changing the mode without saying batchStats gives that mode's default (train: true, eval: false).
 * fn should be synchronous: the context is restored when it returns, not when a promise settles.
 */
export function withContext<T>(partial: Partial<StepContext>, fn: () => T): T {
  const { batchGroups } = partial;
  if (batchGroups !== undefined && !(Number.isInteger(batchGroups) && batchGroups >= 1)) {
    throw new Error(`withContext: batchGroups must be a positive integer, got ${batchGroups}`);
  }
  if (partial.mode !== undefined && partial.mode !== 'train' && partial.mode !== 'eval') {
    throw new Error(`withContext: mode must be 'train' or 'eval', got '${String(partial.mode)}'`);
  }
  const batchStats = partial.batchStats ?? (partial.mode !== undefined ? partial.mode === 'train' : current.batchStats);
  const before = current;
  current = Object.freeze({ ...current, ...partial, batchStats });
  try {
    return fn();
  } finally {
    current = before;
  }
}

/** Whether a module in training mode learns in this forward (the context is not evaluating). */
export function learning(moduleTraining: boolean): boolean {
  return moduleTraining && current.mode === 'train';
}

// ---- thin wrappers, as the engine has always spelled them ----------------------------------

export function isGradEnabled(): boolean {
  return current.grad;
}

/** Runs fn without recording anything for backward (evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  return withContext({ grad: false }, fn);
}

/** When on, every layer's backward uses W itself, whatever its learning rule (attacks, checks). */
export function exactGradients(): boolean {
  return current.exact;
}

export function withExactGradients<T>(fn: () => T, on = true): T {
  return withContext({ exact: on }, fn);
}

/** Runs f with batch norm computing its batch statistics per each of G equal slices of the batch. */
export function withBatchGroups<T>(G: number, f: () => T): T {
  if (!Number.isInteger(G) || G < 1) throw new Error(`withBatchGroups: groups must be a positive integer, got ${G}`);
  return withContext({ batchGroups: G }, f);
}

/**
 * Runs fn with its own DFA output-error slot, released when fn ends: a step's forward and
 * backward inside it never see another step's error.
 */
export function withStep<T>(fn: () => T): T {
  const slot = new OutputErrorSlot();
  try {
    return withContext({ dfa: slot }, fn);
  } finally {
    slot.close();
  }
}

/**
 * Scoring without side effects (BioNAS-EG): no gradient, evaluation mode (nothing learns or
 * updates a statistic), BN normalising each of the G stacked copies of the batch with its
 * own batch statistics, as a candidate's network would in training.
 */
export function scoring<T>(G: number, fn: () => T): T {
  return withContext({ grad: false, mode: 'eval', batchStats: true, batchGroups: G }, fn);
}

/** Releases the output error captured in the current context's slot (the end of a step). */
export function clearOutputError(): void {
  current.dfa.clear();
}
