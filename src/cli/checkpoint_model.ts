// A training checkpoint's network, for the commands that use a trained model (attack, export):
// the model description and the data set it was trained on, read from the checkpoint's meta
// alone (so a mismatch is reported before any data is loaded or GPU started), and the model
// rebuilt with its weights.

import { Generator } from '../ops/random.js';
import { loadCheckpoint, readCheckpointMeta, type CheckpointMeta } from '../run/checkpoint.js';
import { loadInto, type SavedState } from '../run/state.js';
import { parseGenotype } from '../models/genotype.js';
import { CIFAR10_MEAN, CIFAR10_STD, CIFAR100_MEAN, CIFAR100_STD, IMAGENET16_MEAN, IMAGENET16_STD } from '../data/dataset.js';
import { syntheticDataset } from '../data/synthetic.js';
import type { TrainableModel } from '../train/trainer.js';
import { buildModel, type ModelDescription } from './train.js';
import { nonFiniteTensors } from './eval.js';
import { UsageError } from './flags.js';

/** The prefix of a model's tensors in a training checkpoint (the optimizer's are 'optimizer.'). */
export const MODEL_PREFIX = 'model.';

export interface CheckpointInfo {
  path: string;
  meta: CheckpointMeta;
  describe: ModelDescription;
  /** --dataset of the training run (null: a checkpoint that does not say). */
  dataset: string | null;
  /** Side of its images in pixels, when the run says (synthetic --image-size); else null. */
  imageSize: number | null;
}

/** The data set's per-channel normalisation, as its loader applies it. */
export function datasetNormalisation(name: string): { mean: number[]; std: number[] } | null {
  switch (name) {
    case 'cifar10':
      return { mean: CIFAR10_MEAN, std: CIFAR10_STD };
    case 'cifar100':
      return { mean: CIFAR100_MEAN, std: CIFAR100_STD };
    case 'imagenet16':
      return { mean: IMAGENET16_MEAN, std: IMAGENET16_STD };
    case 'synthetic': {
      const d = syntheticDataset({ count: 1, seed: 0, size: 8 });
      return { mean: d.mean, std: d.std };
    }
    default:
      return null;
  }
}

function describeOf(path: string, meta: CheckpointMeta): ModelDescription {
  const d = meta.describe as ModelDescription | undefined;
  if (!d || !d.model) throw new UsageError(`${path}: the checkpoint does not describe its model (a search checkpoint, or written by an older bionas?); use the checkpoint of a bionas train run`);
  return d;
}

/** The checkpoint's model description and training data set, from its meta only. */
export async function readCheckpointInfo(path: string): Promise<CheckpointInfo> {
  const meta = await readCheckpointMeta(path);
  const describe = describeOf(path, meta);
  const flags = meta.invocation?.flags ?? {};
  const dataset = typeof flags.dataset === 'string' ? flags.dataset : null;
  const imageSize = dataset === 'synthetic' ? ((flags['image-size'] as number | undefined) ?? 32) : null;
  return { path, meta, describe, dataset, imageSize };
}

/** The saved state of a checkpoint whose model tensors are all finite (a diverged run is refused). */
export async function loadModelState(path: string): Promise<{ saved: SavedState; meta: CheckpointMeta; describe: ModelDescription }> {
  const { saved, meta } = await loadCheckpoint(path);
  const describe = describeOf(path, meta);
  const broken = nonFiniteTensors(saved, MODEL_PREFIX);
  if (broken.length) {
    throw new Error(`${path}: ${broken.length} model tensor(s) hold NaN or Inf: ${broken.slice(0, 5).join('; ')} (the run diverged; use an earlier checkpoint)`);
  }
  if (describe.genotype) describe.genotype = parseGenotype(describe.genotype, `${path} (genotype)`);
  return { saved, meta, describe };
}

/** The checkpoint's model, rebuilt from its description, with its weights (the GPU must be up). */
export async function loadCheckpointModel(path: string): Promise<{ model: TrainableModel; describe: ModelDescription; meta: CheckpointMeta }> {
  const { saved, meta, describe } = await loadModelState(path);
  const model = buildModel(describe, new Generator(describe.seed));
  loadInto(model.namedTensors().map(([n, t]) => [MODEL_PREFIX + n, t]), saved, path);
  model.eval();
  return { model, describe, meta };
}
