// The two scales of every recipe. proxy: a 2-core CPU in about an hour per recipe (a CIFAR-10
// subset, few epochs, small networks); paper: the papers' settings (SPEC 4, 5), for GPUs.
// Each returns the flags of a job; recipes add what they vary (rules, seed, model).

import type { JobArg } from './job.js';
import type { RecipeOptions } from './recipe.js';

type Args = Record<string, JobArg>;

/** Proxy data: a fixed subset of the training and test sets (bionas choice: enough images for accuracy differences of a few points). */
export const PROXY_TRAIN_IMAGES = 2000;
export const PROXY_TEST_IMAGES = 1000;
/** Proxy training of a genotype network or ResNet: 3 epochs at batch 64 (bionas choice: ~2-3 min per run on 2 cores). */
export const PROXY_EPOCHS = 3;
export const PROXY_BATCH = 64;
/** Proxy genotype network: C=8, 5 cells (DARTS evaluates C=36, 20 cells). */
export const PROXY_NETWORK = { C: 8, layers: 5 };
/** Proxy search: the tiny supernet (3 cells of 2 nodes) for 3 epochs on 1000 images (500 weights + 500 alphas; a search step costs ~3x a training step). */
export const PROXY_SEARCH_EPOCHS = 3;
export const PROXY_SEARCH_IMAGES = 1000;
/** Biotorch's held-out validation images (SPEC 5: 45k/5k split). */
export const BIOTORCH_VALID = 5000;

export function dataArgs(o: RecipeOptions): Args {
  const a: Args = { dataset: o.dataset };
  if (o.dataset !== 'synthetic') {
    if (!o.data) throw new Error(`--dataset ${o.dataset} needs --data DIR`);
    a.data = o.data;
  }
  if (o.scale === 'proxy') Object.assign(a, o.dataset === 'synthetic' ? { 'synthetic-size': PROXY_TRAIN_IMAGES } : { 'train-size': PROXY_TRAIN_IMAGES, 'test-size': PROXY_TEST_IMAGES });
  return a;
}

/** --epochs of the experiment, else the proxy's epochs at proxy scale, else the preset's (nothing). */
const epochs = (o: RecipeOptions, proxy?: number): Args => (o.epochs !== undefined ? { epochs: o.epochs } : o.scale === 'proxy' && proxy !== undefined ? { epochs: proxy } : {});

/** A genotype network: proxy C=8, 5 cells, 3 epochs; paper DARTS' evaluation (preset darts: C=36, 20 cells, auxiliary, 600 epochs), or preset imagenet16. */
export function networkArgs(o: RecipeOptions, seed: number): Args {
  const base: Args = { genotype: o.genotype, ...dataArgs(o), seed, alignment: false };
  if (o.scale === 'proxy') return { ...base, preset: 'quick', C: PROXY_NETWORK.C, layers: PROXY_NETWORK.layers, batch: PROXY_BATCH, ...epochs(o, PROXY_EPOCHS) };
  // ImageNet16-120: its own preset (C=48, 14 cells, auxiliary head; SPEC 5).
  if (o.dataset === 'imagenet16') return { ...base, preset: 'imagenet16', ...epochs(o) };
  return { ...base, preset: 'darts', C: 36, layers: 20, auxiliary: true, ...epochs(o) };
}

/** A CIFAR ResNet with one rule: Biotorch's protocol (preset biotorch, 5k validation) at paper scale. */
export function resnetArgs(o: RecipeOptions, depth: 20 | 56, rule: string, seed: number): Args {
  const base: Args = { model: `resnet${depth}`, rule, ...dataArgs(o), seed, alignment: false, preset: 'biotorch' };
  if (o.scale === 'proxy') return { ...base, batch: PROXY_BATCH, ...epochs(o, PROXY_EPOCHS) };
  return { ...base, 'valid-size': BIOTORCH_VALID, ...epochs(o) };
}

/** A BioNAS-DARTS search: proxy the tiny supernet; paper the BioNAS paper's table (preset bionas). */
export function searchArgs(o: RecipeOptions, space: string, seed: number): Args {
  const base: Args = { method: 'darts', space, ...dataArgs(o), seed };
  if (o.scale === 'proxy') return { ...base, ...(o.dataset === 'synthetic' ? {} : { 'train-size': PROXY_SEARCH_IMAGES }), preset: 'tiny', ...epochs(o, PROXY_SEARCH_EPOCHS) };
  return { ...base, preset: 'bionas', ...epochs(o) };
}
