// What the run loop (./loop.ts) runs: a job. A job has a kind, a config, state it can
// serialise (tensors and JSON), and per epoch a list of phases, each a number of steps
// (batches, generations ...), then epoch-end work (evaluation, a genotype, drawings). Training
// is one phase per epoch; BioNAS-DARTS one; BioNAS-EG two (evolve the alphas, then train the
// weights). The loop gives every job the same progress bar, stop handling, metric checks,
// JSON-lines history, atomic checkpoints (each epoch, every few minutes, on a stop) and resume.

import type { Tensor } from '../tensor.js';
import type { SavedState } from './state.js';
import type { Position } from './checkpoint.js';

export type { Position } from './checkpoint.js';

export interface Phase {
  /** Shown in the progress bar's label and in stop messages (e.g. 'train', 'evolve'). */
  name: string;
  steps: number;
  /** The bar's label (default: `<name> <epoch>/<epochs>`). */
  label?: string;
  /** What one step is, in messages (default 'batch'). */
  unit?: string;
  /** Read metrics back every this many steps (default: the job's logEvery). */
  logEvery?: number;
}

/** A job's state at a position: tensors and plain JSON. */
export interface JobState {
  tensors: [string, Tensor][];
  meta: Record<string, unknown>;
}

/** What the loop offers a job while it runs. */
export interface RunContext {
  log(line: string): void;
  /**
   * Appends a record to the history stream `stream` (declared in Job.streams): kept in memory
   * and in checkpoints, and appended to `<stream>.jsonl` in the run folder, stamped with the
   * position the run reaches when the current step (or epoch end) completes.
   */
  record(stream: string, record: Record<string, unknown>): void;
  /** The records of a stream so far (over every process of the run). */
  history<T = Record<string, unknown>>(stream: string): T[];
  /** Replaces a text file in the run folder atomically (no-op without a folder). */
  writeText(name: string, text: string): void;
  readonly runDir: string | null;
  /** Where the run will stand when the current step or epoch end completes. */
  readonly position: Position;
}

export interface Job {
  /** Written into checkpoints; a resume refuses a checkpoint of another kind. */
  readonly kind: string;
  /** Written into checkpoints; a resume refuses a different value of a key not in `resumable`. */
  readonly config: Record<string, unknown>;
  /** Config keys a resume may change (e.g. epochs, logEvery). */
  readonly resumable?: readonly string[];
  readonly epochs: number;
  /** Steps between metric read-backs, unless a phase says otherwise. */
  readonly logEvery: number;
  /** History streams the job records to (each becomes `<name>.jsonl`). */
  readonly streams: readonly string[];
  /** The phases of epoch `epoch` (0-based). */
  phases(epoch: number): Phase[];
  /** Starts a phase at `at.step` (0, or where a resumed run stopped). */
  beginPhase(at: Position, ctx: RunContext): void | Promise<void>;
  /** Runs step `at.step`; returns the images it processed (for img/s; 0 if none). */
  step(at: Position, ctx: RunContext): number | Promise<number>;
  /** The phase's running metrics, read back from the GPU; every value must be finite (a NaN loss ends the run). */
  metrics(at: Position): Promise<Record<string, number>>;
  /** After the phase's last step, before the position moves past it. */
  endPhase?(at: Position, ctx: RunContext): void | Promise<void>;
  /** After the epoch's phases: evaluation, records, logs, drawings. */
  endEpoch(epoch: number, ctx: RunContext): Promise<void>;
  /** Everything needed to continue from `at` (partial sums of a phase in progress included). */
  state(at: Position): Promise<JobState>;
  /** The inverse of state(): called once, before the loop starts, on a resume. */
  restore(saved: SavedState, meta: Record<string, unknown>, at: Position): void;
  /** Called when the run ends, however it ends: closes iterators, frees the job's GPU state. */
  close(): void;
}
