// The losses of the logits that the white-box attacks ascend, per image ([N] rows): each
// attack sums its rows for the input gradient (bionas choice: the sum, also where torchattacks
// takes the CE's batch mean; the gradient's sign, all a step uses, is the same), and the rows
// are APGD's per-image state. Kernels: ops/loss.ts (CE) and
// ops/attack_losses.ts (DLR, KL).

import type { Tensor } from '../tensor.js';
import { crossEntropy } from '../ops/loss.js';
import { scale } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import { dlrLoss, klDivergence } from '../ops/attack_losses.js';

/** Per-image losses [N] of logits [N, K], differentiable in the logits. */
export type RowLoss = (logits: Tensor) => Tensor;

/** Cross-entropy against the true labels (untargeted: pushed up). */
export const crossEntropyRows = (labels: Tensor): RowLoss => (z) => crossEntropy(z, labels, { reduction: 'none' });

/** Minus the cross-entropy against target labels (targeted: torchattacks' cost = -loss(outputs, targets)). */
export const targetedRows = (targets: Tensor): RowLoss => (z) => scale(crossEntropy(z, targets, { reduction: 'none' }), -1);

/** KL(p || softmax(z)) against the clean softmax p (TPGD: labels unused). */
export const klRows = (p: Tensor): RowLoss => (z) => klDivergence(z, p);

/** The DLR loss of APGD-DLR (needs at least 3 classes). */
export const dlrRows = (labels: Tensor): RowLoss => (z) => dlrLoss(z, labels);

/** The scalar an attack differentiates: the rows summed. */
export const summed = (rows: RowLoss) => (z: Tensor): Tensor => sum(rows(z));
