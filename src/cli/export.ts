// `bionas export`: a training checkpoint's network as a safetensors file (weights, batch-norm
// statistics and feedback matrices, named by module path) plus a JSON file describing the
// architecture, so the same network can be rebuilt and checked in another framework
// (docs/EXPORT.md). Reads the checkpoint's bytes only: no GPU is started.

import { basename, dirname } from 'node:path';
import { mkdirSync } from 'node:fs';
import { writeFileAtomic } from '../run/state.js';
import type { SavedState } from '../run/state.js';
import type { CheckpointMeta } from '../run/checkpoint.js';
import { encodeSafetensors, type NamedArray } from '../export/safetensors.js';
import type { Genotype } from '../models/genotype.js';
import { parseFlags, helpText, UsageError, type FlagTable } from './flags.js';
import { loadModelState, datasetNormalisation, MODEL_PREFIX } from './checkpoint_model.js';
import type { ModelDescription } from './train.js';

/** Version of the architecture JSON below. */
export const ARCHITECTURE_FORMAT = 'bionas-architecture/1';

const EXPORT_FLAGS: FlagTable = {
  checkpoint: { type: 'string', help: 'checkpoint.bin of a training run (required)' },
  format: { type: 'string', default: 'safetensors', choices: ['safetensors'], help: 'file format of the weights' },
  out: { type: 'string', help: 'the weights file to write, e.g. model.safetensors (required)' },
  'arch-out': { type: 'string', help: 'the architecture JSON (default: --out with .safetensors replaced by .json)' },
};

/** What each tensor is, from its name (module paths: docs/EXPORT.md). */
export function tensorRole(name: string): 'feedback' | 'running-stat' | 'weight' {
  if (/(^|\.)rule\.[^.]+$/.test(name)) return 'feedback';
  if (/\.running(Mean|Var)$/.test(name)) return 'running-stat';
  return 'weight';
}

/** The model's tensors of a checkpoint, named by module path (the 'model.' prefix dropped), in saved order. */
export function modelArrays(saved: SavedState): NamedArray[] {
  const out: NamedArray[] = [];
  for (const [name, t] of saved.tensors) {
    if (name.startsWith(MODEL_PREFIX)) out.push({ name: name.slice(MODEL_PREFIX.length), dtype: t.dtype, shape: t.shape, data: t.data });
  }
  return out;
}

/** Every edge of a genotype network with its operation and learning rule. */
function genotypeEdges(g: Genotype): { cell: 'normal' | 'reduce'; node: number; input: number; op: string; rule: string }[] {
  return (['normal', 'reduce'] as const).flatMap((cell) => g[cell].map((e, i) => ({ cell, node: 2 + Math.floor(i / 2), input: e.input, op: e.op, rule: e.rule })));
}

/** The architecture JSON: enough to rebuild the network elsewhere and feed it the same inputs. */
export function architectureJson(path: string, meta: CheckpointMeta, d: ModelDescription, arrays: NamedArray[], weightsFile: string): Record<string, unknown> {
  const flags = meta.invocation?.flags ?? {};
  const dataset = typeof flags.dataset === 'string' ? flags.dataset : null;
  const side = dataset === 'synthetic' ? ((flags['image-size'] as number | undefined) ?? 32) : dataset === 'imagenet16' ? 16 : dataset ? 32 : null;
  const norm = dataset ? datasetNormalisation(dataset) : null;
  return {
    format: ARCHITECTURE_FORMAT,
    weights: weightsFile,
    checkpoint: path,
    epochs: meta.epoch,
    model: d.model,
    // ResNets: one rule for every conv and linear layer; genotype networks: per edge (edges below).
    rule: d.model.startsWith('resnet') ? d.rule : null,
    genotype: d.genotype ?? null,
    edges: d.genotype ? genotypeEdges(d.genotype as Genotype) : null,
    arch: d.arch ?? null,
    C: d.C,
    layers: d.layers,
    auxiliary: d.auxiliary,
    numClasses: d.numClasses,
    inChannels: d.inChannels,
    seed: d.seed,
    input: {
      dataset,
      height: side,
      width: side,
      range: [0, 1],
      normalisation: norm ? { mean: norm.mean, std: norm.std, applied: 'the network expects (x - mean[c]) / std[c] of images x in [0, 1]' } : null,
    },
    tensors: arrays.map((a) => ({ name: a.name, dtype: a.dtype, shape: a.shape, role: tensorRole(a.name) })),
  };
}

export async function exportCommand(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(helpText('export', "Writes a training checkpoint's network as safetensors (names = module paths, feedback matrices\nincluded) and a JSON describing its architecture; see docs/EXPORT.md.", EXPORT_FLAGS));
    return;
  }
  const f = parseFlags(argv, EXPORT_FLAGS, 'export');
  if (!f.checkpoint) throw new UsageError('bionas export: --checkpoint RUN/checkpoint.bin is required');
  if (!f.out) throw new UsageError('bionas export: --out FILE is required (e.g. --out model.safetensors)');
  const out = f.out as string;
  const archOut = (f['arch-out'] as string | undefined) ?? (out.endsWith('.safetensors') ? out.slice(0, -'.safetensors'.length) : out) + '.json';
  if (archOut === out) throw new UsageError(`bionas export: --arch-out and --out name the same file (${out})`);
  const path = f.checkpoint as string;
  const { saved, meta, describe } = await loadModelState(path);
  const arrays = modelArrays(saved);
  if (!arrays.length) throw new Error(`${path}: no model tensors in the checkpoint`);
  const arch = architectureJson(path, meta, describe, arrays, basename(out));
  const { tensors: _, ...summary } = arch;
  const bytes = encodeSafetensors(arrays, { format: 'pt', bionas: JSON.stringify(summary) });
  for (const file of [out, archOut]) mkdirSync(dirname(file), { recursive: true });
  await writeFileAtomic(out, bytes);
  await writeFileAtomic(archOut, new TextEncoder().encode(JSON.stringify(arch, null, 1) + '\n'));
  const feedback = arrays.filter((a) => tensorRole(a.name) === 'feedback').length;
  const values = arrays.reduce((n, a) => n + a.data.length, 0);
  console.log(`${out}: ${arrays.length} tensors (${feedback} feedback matrices), ${(values / 1e6).toFixed(3)}M values, ${(bytes.length / 2 ** 20).toFixed(2)} MiB; architecture: ${archOut}`);
}
