// The random draws of an attack, behind one interface so that a test (or a comparison with
// another implementation) can inject them: tensors of uniform or normal noise drawn on the
// GPU by the engine's counter-based generator, and scalars in [0, 1) drawn on the CPU (window
// positions, signs per channel, DE's F, shuffles). seededDraws(seed) is the default.

import type { Shape, Tensor } from '../tensor.js';
import { Generator, randomUniform, randomNormal } from '../ops/random.js';
import { mulberry32 } from '../data/dataset.js';

export interface AttackDraws {
  /** A [shape] tensor of U[lo, hi) draws (owned by the caller). */
  uniform(shape: Shape, lo: number, hi: number): Tensor;
  /** A [shape] tensor of N(0, std^2) draws (owned by the caller). */
  normal(shape: Shape, std: number): Tensor;
  /** One U[0, 1) draw on the CPU. */
  scalar(): number;
}

export function seededDraws(seed: number): AttackDraws {
  const gen = new Generator(seed);
  const next = mulberry32(seed ^ 0x5bd1e995);
  return {
    uniform: (shape, lo, hi) => randomUniform(shape, gen, lo, hi),
    normal: (shape, std) => randomNormal(shape, gen, 0, std),
    scalar: next,
  };
}
