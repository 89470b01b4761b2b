// Checkpoints: everything a run needs to continue as if never stopped: weights, buffers and
// feedback matrices (the model's named tensors), optimizer state, generator states, the
// position (epoch, next batch) and the config. Written atomically (temporary file, rename).

import { Tensor } from '../tensor.js';
import type { Module } from '../nn/module.js';
import { saveTensors, readState, type SavedState } from '../run/state.js';
import type { SGD } from '../optim/sgd.js';
import type { Adam } from '../optim/adam.js';

export type Optimizer = SGD | Adam;

/** The optimizer's state as named tensors plus the JSON rest. */
export function optimizerTensors(opt: Optimizer, prefix = 'optimizer'): { tensors: [string, Tensor][]; meta: Record<string, unknown> } {
  const dict = opt.stateDict() as unknown as Record<string, unknown>;
  const tensors: [string, Tensor][] = [];
  const meta: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(dict)) {
    if (Array.isArray(value) && value.some((v) => v instanceof Tensor)) {
      meta[key] = value.map((v) => (v instanceof Tensor ? true : null));
      value.forEach((v, i) => v instanceof Tensor && tensors.push([`${prefix}.${key}.${i}`, v]));
    } else meta[key] = value;
  }
  return { tensors, meta };
}

/** Rebuilds the optimizer's state from a checkpoint (tensors uploaded, copied in, released). */
export function restoreOptimizer(opt: Optimizer, saved: SavedState, meta: Record<string, unknown>, prefix = 'optimizer'): void {
  const dict: Record<string, unknown> = {};
  const temporaries: Tensor[] = [];
  for (const [key, value] of Object.entries(meta)) {
    if (Array.isArray(value) && value.some((v) => v === true)) {
      dict[key] = value.map((present, i) => {
        if (!present) return null;
        const s = saved.tensors.get(`${prefix}.${key}.${i}`);
        if (!s) throw new Error(`checkpoint: optimizer tensor ${prefix}.${key}.${i} missing`);
        const t = Tensor.fromData(s.data, s.shape, s.dtype);
        temporaries.push(t);
        return t;
      });
    } else dict[key] = value;
  }
  opt.loadStateDict(dict as never);
  for (const t of temporaries) t.release();
}

export interface CheckpointMeta {
  kind: string;
  epoch: number;
  /** The next batch of `epoch` to run (0 at an epoch boundary). */
  nextBatch: number;
  config: unknown;
  optimizer: Record<string, unknown>;
  generators: Record<string, unknown>;
  history: unknown[];
  [key: string]: unknown;
}

export async function saveCheckpoint(path: string, model: Module, opt: Optimizer, meta: Omit<CheckpointMeta, 'optimizer'>, extra: [string, Tensor][] = []): Promise<void> {
  const o = optimizerTensors(opt);
  await saveTensors(path, [...model.namedTensors().map(([n, t]) => [`model.${n}`, t] as [string, Tensor]), ...o.tensors, ...extra], { ...meta, optimizer: o.meta });
}

export async function loadCheckpoint(path: string): Promise<{ saved: SavedState; meta: CheckpointMeta }> {
  const saved = await readState(path);
  const meta = saved.meta as unknown as CheckpointMeta;
  if (typeof meta.epoch !== 'number' || typeof meta.nextBatch !== 'number') throw new Error(`${path}: not a bionas checkpoint (no epoch/position)`);
  return { saved, meta };
}
