// `bionas eval`: test accuracy of a trained checkpoint (the model is rebuilt from the
// description saved in it).

import { initGpu } from '../gpu/runtime.js';
import { Generator } from '../ops/random.js';
import { BatchLoader } from '../data/loader.js';
import { loadCheckpoint } from '../run/checkpoint.js';
import { loadInto } from '../run/state.js';
import type { SavedState } from '../run/state.js';
import { evaluate } from '../train/trainer.js';
import { parseGenotype } from '../models/genotype.js';
import { parseFlags, helpText, UsageError, type FlagTable } from './flags.js';
import { DATA_FLAGS, loadData } from './common.js';
import { buildModel, type ModelDescription } from './train.js';
import { parseSpikingGenotype } from '../snn/genome.js';

const EVAL_FLAGS: FlagTable = {
  checkpoint: { type: 'string', help: 'checkpoint.bin of a training run (required)' },
  ...DATA_FLAGS,
  batch: { type: 'int', min: 1, default: 256, help: 'evaluation batch size' },
  seed: { type: 'int', min: 0, default: 0, help: 'seed (synthetic data, --test-size subsets)' },
};

export async function evalCommand(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(helpText('eval', 'Evaluates a training checkpoint on the test set of a dataset.', EVAL_FLAGS));
    return;
  }
  const f = parseFlags(argv, EVAL_FLAGS, 'eval');
  if (!f.checkpoint) throw new UsageError('bionas eval: --checkpoint FILE is required');
  const { saved, meta } = await loadCheckpoint(f.checkpoint as string);
  // A diverged run checkpoints its NaNs faithfully; its "accuracy" would be that of a constant.
  const broken = nonFiniteTensors(saved, 'model.');
  if (broken.length) {
    throw new Error(`${f.checkpoint}: refusing to evaluate: ${broken.length} model tensor(s) hold NaN or Inf: ` +
      `${broken.slice(0, 5).join('; ')}${broken.length > 5 ? `; and ${broken.length - 5} more` : ''} (the run diverged; evaluate an earlier checkpoint or retrain)`);
  }
  await initGpu();
  const d = meta.describe as ModelDescription | undefined;
  if (!d || !d.model) throw new Error(`${f.checkpoint}: the checkpoint does not describe its model (written by an older bionas?)`);
  if (d.genotype) d.genotype = d.model === 'spiking' ? parseSpikingGenotype(d.genotype, `${f.checkpoint} (genotype)`) : parseGenotype(d.genotype, `${f.checkpoint} (genotype)`);
  // Event data is binned into as many frames as the spiking network has steps.
  if (f['event-frames'] === undefined && d.encoding === 'frames') f['event-frames'] = d.timesteps;
  const { test } = await loadData(f, f.seed as number);
  if (test.numClasses !== d.numClasses) throw new UsageError(`the checkpoint's model has ${d.numClasses} classes, --dataset ${f.dataset} has ${test.numClasses}`);
  const model = buildModel(d, new Generator(d.seed));
  loadInto(model.namedTensors().map(([n, t]) => [`model.${n}`, t]), saved, f.checkpoint as string);
  const r = await evaluate(model, new BatchLoader(test, { batchSize: f.batch as number }));
  console.log(`${f.checkpoint}: ${d.model}${d.model.startsWith('resnet') ? ` (${d.rule})` : ''} after ${meta.epoch} epochs: test loss ${r.loss.toFixed(4)}, accuracy ${(100 * r.acc).toFixed(2)}% on ${r.count} images (${test.name})`);
  model.dispose();
}

/** 'name: 3 NaN, 1 Inf (first at index 17)' for each float tensor under `prefix` that is not all finite. */
export function nonFiniteTensors(saved: SavedState, prefix: string): string[] {
  const found: string[] = [];
  for (const [name, t] of saved.tensors) {
    if (!name.startsWith(prefix) || !(t.data instanceof Float32Array)) continue;
    let nan = 0, inf = 0, first = -1;
    for (let i = 0; i < t.data.length; i++) {
      const v = t.data[i];
      if (Number.isFinite(v)) continue;
      if (Number.isNaN(v)) nan++;
      else inf++;
      if (first < 0) first = i;
    }
    if (first >= 0) found.push(`'${name}': ${[nan ? `${nan} NaN` : '', inf ? `${inf} Inf` : ''].filter(Boolean).join(', ')} of ${t.data.length} (first at index ${first})`);
  }
  return found;
}
