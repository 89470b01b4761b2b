// A training checkpoint written as `bionas train` writes it, without training: for the tests of
// the commands that read one (attack, export).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Generator } from '../src/ops/random.js';
import { CifarResNet } from '../src/models/resnet.js';
import { writeCheckpoint, CHECKPOINT_FORMAT, type CheckpointMeta } from '../src/run/checkpoint.js';
import type { RuleName } from '../src/rules/rule.js';

/** A training checkpoint of a ResNet-20 as `bionas train` writes it, trained on `dataset`. */
export async function writeResnetCheckpoint(dir: string, o: { dataset: string; numClasses: number; rule?: RuleName; imageSize?: number; seed?: number }): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const rule = o.rule ?? 'fa', seed = o.seed ?? 1;
  const model = new CifarResNet({ depth: 20, rule, numClasses: o.numClasses, inChannels: 3, gen: new Generator(seed) });
  const describe = { model: 'resnet20', rule, C: 36, layers: 20, auxiliary: false, numClasses: o.numClasses, inChannels: 3, seed };
  const flags: Record<string, unknown> = { dataset: o.dataset, seed };
  if (o.imageSize) flags['image-size'] = o.imageSize;
  const meta = {
    format: CHECKPOINT_FORMAT, kind: 'train', position: { epoch: 1, phase: 0, step: 0 }, epoch: 1, epochs: 1, config: {}, job: {}, streams: {},
    elapsed: 1, describe, invocation: { command: 'train', flags }, savedAt: new Date().toISOString(),
  } as CheckpointMeta;
  const path = join(dir, 'checkpoint.bin');
  await writeCheckpoint(path, model.namedTensors().map(([n, t]) => [`model.${n}`, t]), meta);
  model.dispose();
  return path;
}

