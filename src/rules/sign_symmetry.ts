// The sign-symmetry family (Liao et al. 2016; Moskovitz et al. 2018, as in Biotorch): B keeps
// the signs of W and takes its magnitudes elsewhere.
//   uSF   B = s * sign(W), recomputed from the current W every forward, s = sqrt(2 / (fan_in + fan_out))
//   brSF  B = |M| * sign(W), M redrawn (xavier-uniform) at every learning forward, i.e. each update
//   frSF  B = |M0| * sign(W), M0 drawn once; checkpointed as 'M0'
// B is refreshed in place by the rule_feedback kernel (src/ops/feedback.ts), whose MODE is
// the family member. In evaluation (no learning) brSF keeps its last magnitudes: drawing would
// change the generator's stream, a side effect of scoring.

import { Tensor, keep, STATE, fans } from '../tensor.js';
import { uniformInPlace } from '../ops/random.js';
import { signFeedback } from '../ops/feedback.js';
import { xavierBound } from './xavier.js';
import type { LearningRule, LayerRule } from './rule.js';

/** shaders/rules/feedback.wgsl MODE of each member. */
const USF_MODE = 0;
const FRSF_MODE = 1;
/** B holds the fresh draw of M and is signed in place (the kernel reads no m). */
const BRSF_MODE = 2;

export const USF: LearningRule = {
  name: 'usf',
  description: 'uniform sign symmetry: B = s * sign(W), s = sqrt(2 / (fan_in + fan_out))',
  create({ weightShape }): LayerRule {
    const B = keep(Tensor.empty(weightShape, 'f32', 'usf.B'));
    const { fanIn, fanOut } = fans(weightShape);
    const s = Math.sqrt(2 / (fanIn + fanOut));
    return {
      name: 'usf',
      matrix: B,
      route: null,
      feedback(w) {
        signFeedback(USF_MODE, w, w, B, s);
        return B;
      },
      [STATE]: (): [string, Tensor][] => [],
      dispose: () => B.released || B.release(),
    };
  },
};

export const BRSF: LearningRule = {
  name: 'brsf',
  description: 'batchwise random-magnitude sign symmetry: B = |M| * sign(W), M redrawn every update',
  create({ weightShape }, gen): LayerRule {
    const B = keep(Tensor.empty(weightShape, 'f32', 'brsf.B'));
    const bound = xavierBound(weightShape);
    let drawn = false;
    return {
      name: 'brsf',
      matrix: B,
      route: null,
      feedback(w, { learning }) {
        // A first forward outside learning still needs magnitudes to sign.
        if (learning || !drawn) uniformInPlace(B, gen, -bound, bound);
        drawn = true;
        signFeedback(BRSF_MODE, w, w, B);
        return B;
      },
      [STATE]: (): [string, Tensor][] => [],
      dispose: () => B.released || B.release(),
    };
  },
};

export const FRSF: LearningRule = {
  name: 'frsf',
  description: 'fixed random-magnitude sign symmetry: B = |M0| * sign(W), M0 drawn once',
  create({ weightShape }, gen): LayerRule {
    const B = keep(Tensor.empty(weightShape, 'f32', 'frsf.B'));
    const M0 = keep(Tensor.empty(weightShape, 'f32', 'frsf.M0'));
    const bound = xavierBound(weightShape);
    uniformInPlace(M0, gen, -bound, bound);
    return {
      name: 'frsf',
      matrix: B,
      route: null,
      feedback(w) {
        signFeedback(FRSF_MODE, w, M0, B);
        return B;
      },
      [STATE]: (): [string, Tensor][] => [['M0', M0]],
      dispose() {
        for (const t of [B, M0]) if (!t.released) t.release();
      },
    };
  },
};
