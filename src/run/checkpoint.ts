// Checkpoints: one layout for every job (training, each search strategy, what comes next).
// A checkpoint is a state file (./state.ts: checksum, atomic write) holding the job's tensors
// (weights, buffers, feedback matrices, optimizer state) and a meta of plain JSON: the format,
// the job's kind and config, the position reached (epoch, phase, step), the job's own JSON
// state (generators, partial sums, CMA-ES ...), the history streams written so far, and the
// command line that started the run (for --resume). Tensors are checked finite before writing.

import { Tensor } from '../tensor.js';
import { saveTensors, readState, readStateMeta, type SavedState } from './state.js';
import type { SGD } from '../optim/sgd.js';
import type { Adam } from '../optim/adam.js';

/** Version of the meta layout below; a resume refuses other versions. */
export const CHECKPOINT_FORMAT = 2;

export const CHECKPOINT_FILE = 'checkpoint.bin';

/** Where a run stands: `step` steps of phase `phase` of epoch `epoch` (0-based) are done. */
export interface Position {
  epoch: number;
  phase: number;
  step: number;
}

/** A record of a history stream (metrics.jsonl ...), with the position after the work it reports. */
export interface StreamEntry {
  at: Position;
  record: Record<string, unknown>;
}

/** The command that started a run, so `--resume DIR` can take the flags it leaves out. */
export interface Invocation {
  command: string;
  flags: Record<string, unknown>;
}

export interface CheckpointMeta {
  format: number;
  kind: string;
  position: Position;
  /** Completed epochs (what `bionas eval` reports). */
  epoch: number;
  /** The run's epochs: it is finished when position.epoch reaches them. */
  epochs: number;
  config: Record<string, unknown>;
  /** The job's own JSON state. */
  job: Record<string, unknown>;
  streams: Record<string, StreamEntry[]>;
  /** Seconds the run has taken, over all its processes. */
  elapsed: number;
  /** What the job's creator saved to rebuild its model (e.g. bionas train's model description), or null. */
  describe: unknown;
  invocation: Invocation | null;
  savedAt: string;
}

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

/** Writes a checkpoint atomically; refuses (NonFiniteError) when a tensor is NaN or infinite. */
export async function writeCheckpoint(path: string, tensors: [string, Tensor][], meta: CheckpointMeta): Promise<void> {
  await saveTensors(path, tensors, meta as unknown as Record<string, unknown>, { checkFinite: true });
}

function checkMeta(path: string, meta: Record<string, unknown>): void {
  if (typeof meta.epoch !== 'number') throw new Error(`${path}: not a bionas checkpoint (no epoch/position)`);
}

/** A checkpoint's tensors and meta (checksum verified). Reads the older layout too, for evaluation. */
export async function loadCheckpoint(path: string): Promise<{ saved: SavedState; meta: CheckpointMeta }> {
  const saved = await readState(path);
  checkMeta(path, saved.meta);
  return { saved, meta: saved.meta as unknown as CheckpointMeta };
}

/** Only the meta, without decoding tensors: what `--resume` compares flags against. */
export async function readCheckpointMeta(path: string): Promise<CheckpointMeta> {
  const { meta } = await readStateMeta(path);
  checkMeta(path, meta);
  return meta as unknown as CheckpointMeta;
}

/** Throws unless the meta is this version's layout (older checkpoints cannot be resumed). */
export function checkResumable(path: string, meta: CheckpointMeta, kind: string): void {
  if (meta.format !== CHECKPOINT_FORMAT || !meta.position) {
    throw new Error(`${path}: checkpoint layout ${meta.format ?? 1} was written by an older bionas and cannot be resumed (this one resumes layout ${CHECKPOINT_FORMAT}); start a new run`);
  }
  if (meta.kind !== kind) throw new Error(`${path}: a '${meta.kind}' checkpoint cannot be resumed as a '${kind}' run`);
}

/** a before b, a equal to b, a after b: -1, 0, 1. */
export function comparePositions(a: Position, b: Position): number {
  return Math.sign(a.epoch - b.epoch) || Math.sign(a.phase - b.phase) || Math.sign(a.step - b.step);
}
