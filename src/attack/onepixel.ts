// One-Pixel attack (Su et al. 2019) by differential evolution, with the semantics of
// torchattacks' OnePixel (SPEC 6): a genome holds, per pixel, (row, col, value of each channel)
// within [0, H] x [0, W] x [0, 1]^C; the fitness is the softmax probability of the true class,
// minimised (untargeted); strategy best1bin, F ~ U[0.5, 1) per generation, crossover 1; an
// image stops once its best candidate is misclassified (checked after each generation, as
// torchattacks' callback). The result is the best candidate found, whatever its class.
// One-Pixel is not an Linf attack: it ignores eps (a pixel may take any value in [0, 1]).
//
// Every image has its own optimiser (src/search/optimizers/differential_evolution.ts), all on
// one stream of draws; a generation's candidates of all images still running are evaluated
// together: the GPU writes the k pixels into copies of their images and runs one forward (in
// chunks of at most `batch` rows), and the fitness comes back in one readback per chunk.

import { Tensor, scope, keep } from '../tensor.js';
import { copy } from '../ops/elementwise.js';
import { writePixels, trueClassProbability, selectRowsInto } from '../ops/attack_search.js';
import { DifferentialEvolution } from '../search/optimizers/differential_evolution.js';
import { registerAttack, type Attack, type AttackInput, type AttackOutput } from './attack.js';
import { targetLogits, type AttackTarget } from './target.js';
import type { FlagValues } from '../options.js';

/** The paper's setting as BioNAS reports it (population 10, 10 steps) and Biotorch's notebooks' (150, 30). */
export const ONEPIXEL_PRESETS = {
  paper: { popsize: 10, steps: 10 },
  biotorch: { popsize: 150, steps: 30 },
} as const;
export type OnePixelPreset = keyof typeof ONEPIXEL_PRESETS;
/** Su et al. attack 1, 3 or 5 pixels; SPEC 6: 1..5. */
export const ONEPIXEL_MAX_PIXELS = 5;
/** torchattacks' DE settings: dithered mutation in [0.5, 1) and recombination 1. */
export const ONEPIXEL_MUTATION: readonly [number, number] = [0.5, 1];
export const ONEPIXEL_CROSSOVER = 1;
/** scipy's smallest population. */
export const ONEPIXEL_MIN_POPULATION = 5;
/** bionas choice: candidate images per forward (memory: 4096 CIFAR images are 50 MB), a flag. */
export const ONEPIXEL_BATCH = 4096;

/**
 * DE's population for `popsize` and a genome of `genes` genes (5 per pixel for RGB): scipy's
 * max(5, popmul * genes) with torchattacks' popmul = max(1, floor(popsize / genes)). SPEC 6
 * writes floor(popsize / genes) * genes, which is the same whenever popsize >= genes; below that
 * (e.g. popsize 10 with 3 pixels) torchattacks' max(1, .) gives `genes` members. bionas choice:
 * we follow torchattacks' code there (SPEC's formula would give 5 members for 15 genes).
 */
export function onePixelPopulation(popsize: number, genes: number): number {
  return Math.max(ONEPIXEL_MIN_POPULATION, Math.max(1, Math.floor(popsize / genes)) * genes);
}

export function onePixelSettings(o: FlagValues): { pixels: number; popsize: number; steps: number } {
  const preset = ONEPIXEL_PRESETS[o.preset as OnePixelPreset];
  if (!preset) throw new Error(`onepixel: unknown preset '${o.preset}' (paper or biotorch)`);
  const popsize = (o.population as number) || preset.popsize;
  const steps = (o.steps as number) || preset.steps;
  const pixels = o.pixels as number;
  if (!(Number.isInteger(pixels) && pixels >= 1 && pixels <= ONEPIXEL_MAX_PIXELS)) throw new Error(`onepixel: pixels must be 1..${ONEPIXEL_MAX_PIXELS}, got ${pixels}`);
  if (!(Number.isInteger(popsize) && popsize >= 1)) throw new Error(`onepixel: population must be a positive integer, got ${popsize}`);
  if (!(Number.isInteger(steps) && steps >= 1)) throw new Error(`onepixel: steps must be a positive integer, got ${steps}`);
  return { pixels, popsize, steps };
}

/** A candidate's evaluation: the true-class probability (the fitness) and whether it is misclassified. */
interface Scored {
  prob: Float64Array;
  wrong: Uint8Array;
}

/**
 * Evaluates candidate genomes (rows of `genes` values) on the images `image[r]` of x: the
 * true-class probability and misclassification of each, in chunks of `batch` rows per forward.
 */
export async function scoreCandidates(
  target: AttackTarget, x: Tensor, y: Tensor, image: Int32Array, genomes: Float32Array, pixels: number, batch: number,
): Promise<Scored> {
  const R = image.length, genes = genomes.length / Math.max(R, 1);
  const out: Scored = { prob: new Float64Array(R), wrong: new Uint8Array(R) };
  for (let start = 0; start < R; start += batch) {
    const end = Math.min(R, start + batch);
    const scores = scope(() => {
      const rows = Tensor.fromData(image.subarray(start, end), [end - start], 'i32');
      const g = Tensor.fromData(genomes.subarray(start * genes, end * genes), [end - start, genes]);
      const logits = targetLogits(target, writePixels(x, rows, g, pixels));
      const p = trueClassProbability(logits, rows, y);
      logits.release();
      return p;
    });
    const data = await scores.data();
    scores.release();
    for (let r = start; r < end; r++) {
      out.prob[r] = data[2 * (r - start)];
      out.wrong[r] = data[2 * (r - start) + 1];
    }
  }
  return out;
}

export async function runOnePixel(input: AttackInput): Promise<AttackOutput> {
  const { target, x, y, draws } = input;
  const { pixels, popsize, steps } = onePixelSettings(input.options);
  const batch = input.options.batch as number;
  if (!(Number.isInteger(batch) && batch >= 1)) throw new Error(`onepixel: batch must be a positive integer, got ${batch}`);
  if (x.rank !== 4) throw new Error('onepixel: images must be [N, C, H, W]');
  const [N, C, H, W] = x.shape;
  const stride = 2 + C, genes = pixels * stride;
  const P = onePixelPopulation(popsize, genes);
  // torchattacks' bounds: (0, H), (0, W), then (0, 1) per channel, for each pixel.
  const lower = new Array(genes).fill(0);
  const upper = Array.from({ length: genes }, (_, g) => (g % stride === 0 ? H : g % stride === 1 ? W : 1));

  // bionas choice: only initially-correct images are attacked (as Square and APGD); the others
  // come back clean with 0 queries (torchattacks' OnePixel would run DE on them too).
  const all = Int32Array.from({ length: N }, (_, n) => n);
  const cleanWrong = await cleanMisclassified(target, x, y);
  const queries = new Float32Array(N);
  const solvers: (DifferentialEvolution | null)[] = Array.from({ length: N }, (_, n) =>
    cleanWrong[n] ? null : new DifferentialEvolution({ population: P, lower, upper, mutation: ONEPIXEL_MUTATION, crossover: ONEPIXEL_CROSSOVER, random: draws.scalar }));
  // Whether each member of each image's population is misclassified, beside its fitness.
  const wrong = solvers.map(() => new Uint8Array(P));
  let running = solvers.map((s, n) => (s ? n : -1)).filter((n) => n >= 0);

  for (let generation = 0; generation <= steps && running.length; generation++) {
    const image = new Int32Array(running.length * P);
    const genomes = new Float32Array(running.length * P * genes);
    running.forEach((n, k) => {
      solvers[n]!.ask().forEach((g, i) => {
        image[k * P + i] = n;
        genomes.set(g, (k * P + i) * genes);
      });
    });
    const scored = await scoreCandidates(target, x, y, image, genomes, pixels, batch);
    running = running.filter((n, k) => {
      const accepted = solvers[n]!.tell(scored.prob.subarray(k * P, (k + 1) * P));
      accepted.forEach((a, i) => { if (a) wrong[n][i] = scored.wrong[k * P + i]; });
      queries[n] += P;
      // torchattacks' callback runs after each generation, not after the initial population.
      return !(generation > 0 && wrong[n][solvers[n]!.bestIndex]);
    });
    input.progress?.(generation, steps);
  }

  return scope(() => {
    const attacked = Uint32Array.from(solvers, (s) => (s ? 1 : 0));
    const best = new Float32Array(N * genes);
    solvers.forEach((s, n) => s && best.set(s.best, n * genes));
    const adv = keep(copy(x));
    const candidates = writePixels(x, Tensor.fromData(all, [N], 'i32'), Tensor.fromData(best, [N, genes]), pixels);
    selectRowsInto(adv, candidates, Tensor.fromData(attacked, [N], 'u32'));
    return { adv, queries };
  });
}

/** Whether each clean image is misclassified (its argmax is not its label). */
async function cleanMisclassified(target: AttackTarget, x: Tensor, y: Tensor): Promise<Uint8Array> {
  const N = x.shape[0];
  const p = scope(() => {
    const logits = targetLogits(target, x);
    const out = trueClassProbability(logits, Tensor.fromData(Int32Array.from({ length: N }, (_, n) => n), [N], 'i32'), y);
    logits.release();
    return out;
  });
  const data = await p.data();
  p.release();
  return Uint8Array.from({ length: N }, (_, n) => data[2 * n + 1]);
}

export const onePixel: Attack = registerAttack({
  name: 'onepixel',
  title: 'One-Pixel',
  help: 'One-Pixel attack (Su et al. 2019): differential evolution over k pixels (position and colour), minimising the true-class probability; black box; ignores eps (not an Linf attack)',
  kind: 'black-box',
  flags: {
    pixels: { type: 'int', default: 1, min: 1, max: ONEPIXEL_MAX_PIXELS, help: 'pixels changed per image (SPEC 6: 1..5)' },
    preset: { type: 'string', default: 'paper', choices: Object.keys(ONEPIXEL_PRESETS), help: "DE settings: 'paper' (population 10, 10 steps, as BioNAS reports) or 'biotorch' (150, 30, Biotorch's notebooks)" },
    population: { type: 'int', default: 0, min: 0, help: "torchattacks' popsize (0: the preset's); DE runs max(5, max(1, floor(popsize / genes)) * genes) members, genes = pixels * (2 + channels)" },
    steps: { type: 'int', default: 0, min: 0, help: "DE generations after the initial population (0: the preset's)" },
    batch: { type: 'int', default: ONEPIXEL_BATCH, min: 1, help: 'candidate images per forward (memory only; results do not depend on it)' },
  },
  describe: (o: FlagValues) => {
    const { pixels, popsize, steps } = onePixelSettings(o);
    return `${pixels} pixel${pixels > 1 ? 's' : ''}, population ${popsize}, ${steps} steps (eps ignored)`;
  },
  run: runOnePixel,
});
