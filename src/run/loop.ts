// The one run loop: epochs x phases x steps of a job (./job.ts), with the progress bar, the
// stop request (signals, AbortSignal, a step budget), a finite check of every metric read
// back, history streams as JSON lines, atomic checkpoints (each epoch, every
// `checkpointMinutes` inside one, and on a stop) and resume. A resumed run continues to the
// same numbers as an uninterrupted one: the job restores its exact state, and the history
// files are made equal to the checkpoint's copy (records written after it are dropped).

import { Progress } from './progress.js';
import { StopRequest, yieldToEventLoop, type StopSignal } from './stop.js';
import { NonFiniteError } from './finite.js';
import { openRunFolder, type RunFolder } from './folder.js';
import {
  CHECKPOINT_FILE, CHECKPOINT_FORMAT, writeCheckpoint, loadCheckpoint, readCheckpointMeta, checkResumable,
  type CheckpointMeta, type Invocation, type Position, type StreamEntry,
} from './checkpoint.js';
import type { Job, RunContext } from './job.js';

/** A killed CPU run loses at most this many minutes (10: a checkpoint of a DARTS-size supernet takes about a second). */
export const DEFAULT_CHECKPOINT_MINUTES = 10;

export interface RunOptions {
  /** Folder for the checkpoint, history files and drawings; none: nothing is written (a browser). */
  runDir?: string;
  /** The folder already opened (and locked) by the caller; takes the place of runDir. */
  folder?: RunFolder;
  /** Continue from the folder's checkpoint (an error when there is none). */
  resume?: boolean;
  /** Aborting it stops the run at the next step, with a checkpoint (e.g. a page's stop button). */
  signal?: AbortSignal;
  /** Stop (as a signal would) after this many steps of this process: tests of resume. */
  stopAfterSteps?: number;
  /** Also checkpoint inside an epoch when this many minutes passed since the last one; 0: only at epoch ends and stops. */
  checkpointMinutes?: number;
  log?: (line: string) => void;
  /** Saved in checkpoints (how to rebuild the model). */
  describe?: Record<string, unknown>;
  /** Saved in checkpoints: the command line that started the run. */
  invocation?: Invocation;
  /** How to continue, in stop messages (default: "resume with resume: true"). */
  resumeHint?: string;
  /** Tests: die as a kill would (no checkpoint, an exception) after this many steps, or after epoch N's end work but before its checkpoint. */
  simulateKill?: { afterSteps?: number; beforeEpochCheckpoint?: number };
}

export interface RunOutcome {
  stopped: boolean;
  /** The process signal that stopped it (a CLI exits 130 / 143). */
  signal: StopSignal | null;
  position: Position;
  /** Seconds over every process of the run. */
  seconds: number;
  history<T = Record<string, unknown>>(stream: string): T[];
}

/** Thrown by RunOptions.simulateKill. */
export class SimulatedKill extends Error {
  override name = 'SimulatedKill';
}

const fmtPosition = (p: Position, epochs: number) => `epoch ${p.epoch + 1}/${epochs}${p.phase || p.step ? `, phase ${p.phase}, step ${p.step}` : ''}`;

function checkConfig(path: string, stored: Record<string, unknown>, current: Record<string, unknown>, resumable: readonly string[]): void {
  for (const key of new Set([...Object.keys(stored), ...Object.keys(current)])) {
    if (resumable.includes(key)) continue;
    const a = JSON.stringify(stored[key]), b = JSON.stringify(current[key]);
    if (a !== b) {
      throw new Error(`${path}: '${key}' is ${b} for this run but ${a} in the checkpoint; a resumed run keeps it (it may change only ${resumable.join(', ') || 'nothing'})`);
    }
  }
}

/**
 * A new run into `folder`: a finished run there is replaced (its checkpoint removed at once, so
 * the two never mix); an unfinished one is an error, since it was most likely meant to be resumed.
 */
export async function startFresh(folder: RunFolder, log: (line: string) => void): Promise<void> {
  if (!folder.exists(CHECKPOINT_FILE)) return;
  const path = folder.file(CHECKPOINT_FILE);
  const meta = await readCheckpointMeta(path).catch(() => null);
  const finished = meta?.position && typeof meta.epochs === 'number' && meta.position.epoch >= meta.epochs;
  if (!finished) {
    throw new Error(`${folder.dir} holds an unfinished run (${path}${meta?.position ? `, at ${fmtPosition(meta.position, meta.epochs ?? NaN)}` : ''}): ` +
      `continue it with --resume ${folder.dir}, or choose another run folder (or delete that one)`);
  }
  const { rmSync } = await import('node:fs');
  rmSync(path);
  log(`${folder.dir}: replacing the finished run there (${meta.epochs} epochs) with a new one`);
}

export async function runJob(job: Job, o: RunOptions = {}): Promise<RunOutcome> {
  const log = o.log ?? ((line: string) => console.log(line));
  let folder: RunFolder | null = o.folder ?? null;
  let ownsFolder = false;
  const started = performance.now();
  let elapsed = 0;
  let pos: Position = { epoch: 0, phase: 0, step: 0 };
  const streams: Record<string, StreamEntry[]> = Object.fromEntries(job.streams.map((s) => [s, []]));
  const hint = o.resumeHint ?? (o.folder || o.runDir ? `resume: true (${o.folder?.dir ?? o.runDir})` : 'a run folder (nothing was saved)');
  const seconds = () => elapsed + (performance.now() - started) / 1000;
  let stop: StopRequest | null = null;
  try {
    if (!folder && o.runDir) {
      folder = await openRunFolder(o.runDir, log);
      ownsFolder = true;
    }
    const ckpt = folder ? folder.file(CHECKPOINT_FILE) : null;
    if (o.resume) {
      if (!folder || !ckpt) throw new Error('resume: needs a run folder');
      if (!folder.exists(CHECKPOINT_FILE)) throw new Error(`${folder.dir}: no ${CHECKPOINT_FILE} to resume from (the run never saved one); start it without resume`);
      const { saved, meta } = await loadCheckpoint(ckpt);
      checkResumable(ckpt, meta, job.kind);
      checkConfig(ckpt, meta.config, job.config, job.resumable ?? []);
      job.restore(saved, meta.job, meta.position);
      pos = meta.position;
      elapsed = meta.elapsed;
      for (const s of job.streams) streams[s] = meta.streams[s] ?? [];
      log(`resumed from ${ckpt}: ${fmtPosition(pos, job.epochs)}`);
    } else if (folder) {
      await startFresh(folder, log);
    }
    // History files hold what the checkpoint holds: a kill between an append and the next
    // checkpoint (or before the first one) leaves records that the continued run writes again.
    for (const s of job.streams) {
      const change = folder?.reconcile(s, streams[s]);
      if (change) log(`${folder!.dir}/${change}`);
    }

    const ctx: RunContext & { position: Position } = {
      log,
      position: pos,
      runDir: folder?.dir ?? null,
      record(stream, record) {
        const list = streams[stream];
        if (!list) throw new Error(`${job.kind}: record to the undeclared stream '${stream}' (declare it in the job's streams)`);
        const entry = { at: { ...ctx.position }, record };
        list.push(entry);
        folder?.append(stream, entry);
      },
      history: <T>(stream: string) => (streams[stream] ?? []).map((e) => e.record as T),
      writeText: (name, text) => folder?.writeText(name, text),
    };
    let lastSave = performance.now();
    const save = async (at: Position) => {
      if (!folder || !ckpt) return;
      const state = await job.state(at);
      const meta: CheckpointMeta = {
        format: CHECKPOINT_FORMAT, kind: job.kind, position: at, epoch: at.epoch, epochs: job.epochs, config: job.config, job: state.meta, streams,
        elapsed: seconds(), describe: o.describe ?? null, invocation: o.invocation ?? null, savedAt: new Date().toISOString(),
      };
      await writeCheckpoint(ckpt, state.tensors, meta);
      lastSave = performance.now();
    };
    const minutes = o.checkpointMinutes ?? DEFAULT_CHECKPOINT_MINUTES;
    const timeToSave = () => minutes > 0 && performance.now() - lastSave >= minutes * 60_000;
    stop = new StopRequest(log, { signal: o.signal, afterSteps: o.stopAfterSteps });
    const outcome = (stopped: boolean): RunOutcome => ({ stopped, signal: stop!.signalled, position: pos, seconds: seconds(), history: ctx.history });
    let stepsThisRun = 0;

    while (pos.epoch < job.epochs) {
      const phases = job.phases(pos.epoch);
      while (pos.phase < phases.length) {
        const phase = phases[pos.phase];
        const unit = phase.unit ?? 'batch';
        const where = (step: number) => `epoch ${pos.epoch + 1}, ${unit} ${step}/${phase.steps}${phases.length > 1 ? ` of ${phase.name}` : ''}`;
        ctx.position = { ...pos };
        await job.beginPhase({ ...pos }, ctx);
        const bar = new Progress(phase.steps, phase.label ?? `${phase.name} ${pos.epoch + 1}/${job.epochs}`);
        const logEvery = phase.logEvery ?? job.logEvery;
        const t0 = performance.now();
        let images = 0;
        for (let s = pos.step; s < phase.steps; s++) {
          ctx.position = { ...pos, step: s + 1 };
          images += await job.step({ ...pos, step: s }, ctx);
          stepsThisRun++;
          // Lets a signal handler run now rather than at the next read-back.
          await yieldToEventLoop();
          if ((s + 1) % logEvery === 0 || s + 1 === phase.steps) {
            const m = await job.metrics({ ...pos, step: s });
            for (const [k, v] of Object.entries(m)) {
              if (!Number.isFinite(v)) {
                bar.done();
                throw new NonFiniteError(`${k} became ${v} at ${where(s + 1)}: the run diverged (a lower learning rate or gradient clipping may help); ` +
                  `${folder ? `the last checkpoint in ${folder.dir} is from before` : 'nothing was saved'}`);
              }
            }
            const secs = (performance.now() - t0) / 1000;
            bar.update(s + 1, { ...m, ...(images > 0 && secs > 0 ? { 'img/s': Math.round(images / secs) } : {}) });
          }
          if (o.simulateKill?.afterSteps === stepsThisRun) {
            bar.done();
            throw new SimulatedKill(`simulated kill after ${stepsThisRun} steps (${where(s + 1)})`);
          }
          pos = { ...pos, step: s + 1 };
          if (s + 1 < phase.steps) {
            if (stop.due(stepsThisRun)) {
              bar.done();
              await save(pos);
              log(`stopped at ${where(s + 1)}; continue with ${hint}`);
              return outcome(true);
            }
            if (timeToSave()) await save(pos);
          }
        }
        bar.done();
        await job.endPhase?.({ ...pos }, ctx);
        pos = { epoch: pos.epoch, phase: pos.phase + 1, step: 0 };
        if (pos.phase < phases.length) {
          if (stop.due(stepsThisRun)) {
            await save(pos);
            log(`stopped at epoch ${pos.epoch + 1} after ${phase.name}; continue with ${hint}`);
            return outcome(true);
          }
          if (timeToSave()) await save(pos);
        }
      }
      const next: Position = { epoch: pos.epoch + 1, phase: 0, step: 0 };
      ctx.position = next;
      await job.endEpoch(pos.epoch, ctx);
      if (o.simulateKill?.beforeEpochCheckpoint === next.epoch) throw new SimulatedKill(`simulated kill after epoch ${next.epoch}'s records, before its checkpoint`);
      pos = next;
      await save(pos);
      if (stop.due(stepsThisRun) && pos.epoch < job.epochs) {
        log(`stopped after epoch ${pos.epoch}; continue with ${hint}`);
        return outcome(true);
      }
    }
    return outcome(false);
  } finally {
    stop?.dispose();
    job.close();
    if (ownsFolder) folder?.release();
  }
}
