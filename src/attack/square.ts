// Square attack, Linf (Andriushchenko et al. 2020), with the semantics of torchattacks 3.5.1
// (SPEC 6): a random search that only reads logits. Only initially-correct images are attacked;
// they start from vertical stripes clip01(x + eps * s), s = +-1 per (image, channel, column);
// iteration i proposes, for the whole batch at once, one square window (side from the p
// schedule, one position) moved by 2 eps times one sign per channel, projected on the eps ball
// and [0, 1]; an image keeps the proposal iff its margin z_y - max_{k != y} z_k fell, and stops
// once misclassified. Fooled images come back as their best image, the others clean (as
// torchattacks returns them).
//
// Everything per image (best images, best margin, attacked flag, queries) stays on the GPU: an
// iteration records the window kernel, the forward, the bookkeeping kernel and the row select
// into the engine's one command encoder, with no readback. The CPU only draws the window.

import { Tensor, scope, keep } from '../tensor.js';
import { copy } from '../ops/elementwise.js';
import { fillInPlace } from '../ops/fill.js';
import { squareStripes, squareWindow, squareMargin, selectRowsInto, type SquareState } from '../ops/attack_search.js';
import { registerAttack, type AttackInput, type AttackOutput, type Attack } from './attack.js';
import { targetLogits } from './target.js';
import type { FlagValues } from '../options.js';

/** torchattacks' (and the paper's) default query budget; Biotorch's notebooks used 50. */
export const SQUARE_QUERIES = 5000;
/** The initial fraction of pixels a window covers (paper and torchattacks: 0.8). */
export const SQUARE_P_INIT = 0.8;
/** p is halved each time i * 10000 / n_queries passes one of these (torchattacks' p_selection). */
export const SQUARE_P_THRESHOLDS = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000] as const;
/** bionas choice: the batch stops early when every image is done, checked by a readback every
 * this many iterations (torchattacks checks every iteration; the result is the same, since a
 * done image no longer changes). */
export const SQUARE_CHECK_EVERY = 10;

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The fraction p at iteration i of n queries: pInit halved once per threshold that i*10000/n has passed. */
export function squareFraction(i: number, nQueries: number, pInit = SQUARE_P_INIT): number {
  const it = Math.trunc((i / nQueries) * 10000);
  let p = pInit;
  for (const t of SQUARE_P_THRESHOLDS) if (it > t) p /= 2;
  return p;
}

/**
 * The window's side at iteration i: max(round(sqrt(p H W)), 1). bionas choice: capped at
 * min(H, W) so a window fits a non-square image (torchattacks would index outside it).
 */
export function squareSide(i: number, nQueries: number, H: number, W: number, pInit = SQUARE_P_INIT): number {
  return Math.min(Math.max(roundHalfEven(Math.sqrt(squareFraction(i, nQueries, pInit) * H * W)), 1), H, W);
}

/** sign(2u - 1), u ~ U[0, 1): torchattacks' random_choice (sign(0) = 0). */
const randomSign = (u: number) => Math.sign(2 * u - 1);

async function anyActive(s: SquareState): Promise<boolean> {
  const [attacked, best] = [await s.attacked.data(), await s.best.data()];
  return attacked.some((a, n) => a !== 0 && best[n] > 0);
}

export async function runSquare(input: AttackInput): Promise<AttackOutput> {
  const { target, x, y, eps, draws } = input;
  const nQueries = input.options.queries as number;
  const pInit = input.options['p-init'] as number;
  if (!(Number.isInteger(nQueries) && nQueries >= 0)) throw new Error(`square: queries must be a non-negative integer, got ${nQueries}`);
  if (!(pInit > 0 && pInit <= 1)) throw new Error(`square: p-init must be in (0, 1], got ${pInit}`);
  if (!(eps >= 0 && eps <= 1)) throw new Error(`square: eps must be in [0, 1], got ${eps}`);
  if (x.rank !== 4) throw new Error(`square: images must be [N, C, H, W]`);
  const [N, C, H, W] = x.shape;
  const s: SquareState = {
    attacked: Tensor.empty([N], 'u32'), best: Tensor.empty([N]), queries: Tensor.empty([N]), accept: fillInPlace(Tensor.empty([N], 'u32'), 0),
  };
  const clean = targetLogits(target, x);
  let xBest: Tensor | null = null;
  try {
    squareMargin(clean, y, s, 'clean');
    xBest = keep(scope(() => squareStripes(x, draws.uniform([N, C, W], -1, 1), eps)));
    const start = targetLogits(target, xBest);
    squareMargin(start, y, s, 'start');
    start.release();
    for (let i = 0; i < nQueries; i++) {
      if (i % SQUARE_CHECK_EVERY === 0 && !(await anyActive(s))) break;
      const side = squareSide(i, nQueries, H, W, pInit);
      // torchattacks' random_int(0, h - s): floor(u * (h - s)), so the last position is never drawn.
      const top = Math.floor(draws.scalar() * (H - side));
      const left = Math.floor(draws.scalar() * (W - side));
      const sign = Array.from({ length: C }, () => randomSign(draws.scalar()));
      const best = xBest;
      scope(() => {
        const proposal = squareWindow(x, best, eps, { top, left, side, sign });
        const logits = targetLogits(target, proposal);
        squareMargin(logits, y, s, 'step');
        selectRowsInto(best, proposal, s.accept);
        logits.release();
      });
      input.progress?.(i + 1, nQueries);
    }
    squareMargin(clean, y, s, 'final');
    const adv = keep(copy(x));
    selectRowsInto(adv, xBest, s.accept);
    const queries = Float32Array.from(await s.queries.data());
    return { adv, queries };
  } finally {
    clean.release();
    xBest?.release();
    for (const t of Object.values(s)) t.release();
  }
}

export const square: Attack = registerAttack({
  name: 'square',
  title: 'Square',
  help: 'Square attack (Andriushchenko et al. 2020), Linf, black box: random square windows kept when the margin falls; only initially-correct images',
  kind: 'black-box',
  flags: {
    queries: { type: 'int', default: SQUARE_QUERIES, min: 0, help: `query budget per image (torchattacks: ${SQUARE_QUERIES}; Biotorch's notebooks: 50)` },
    'p-init': { type: 'number', default: SQUARE_P_INIT, min: 0, max: 1, help: `initial fraction of pixels a window covers (paper: ${SQUARE_P_INIT})` },
  },
  describe: (o: FlagValues) => `${o.queries} queries, p_init ${o['p-init']}`,
  run: runSquare,
});
