// One job of an experiment: a bionas command (train, search, attack) with its flags and the run
// folder it writes. Plain JSON, so that a list of jobs can be saved (jobs.json), read back and
// later sent to other machines; its status is read from its folder alone.

import * as fs from 'node:fs';
import { existsSync } from 'node:fs';
import { join, isAbsolute } from 'node:path';
import { CHECKPOINT_FILE, readCheckpointMeta } from '../run/checkpoint.js';
import { writeTextAtomic } from '../run/state.js';

export const JOB_COMMANDS = ['train', 'search', 'attack'] as const;
export type JobCommand = (typeof JOB_COMMANDS)[number];

export type JobArg = string | number | boolean;

export interface ExperimentJob {
  /** Unique within the experiment: names the job in logs and reports (e.g. 'mixed-s0'). */
  id: string;
  command: JobCommand;
  /** Flags without the leading '--' (true: `--flag`, false: `--no-flag`); never run or resume. */
  args: Record<string, JobArg>;
  /** Run folder, relative to the experiment's --out folder (or absolute). */
  run: string;
}

/**
 * The file each command writes last, when its run is complete: its presence marks a finished
 * job (train, search and attack all write summary.json last).
 */
export const FINISHED_FILES: Readonly<Record<JobCommand, string>> = { train: 'summary.json', search: 'summary.json', attack: 'summary.json' };

/** Commands that checkpoint and continue with `--resume DIR`; others restart an unfinished run. */
export const RESUMABLE_COMMANDS: readonly JobCommand[] = ['train', 'search'];

export type JobStatus = 'finished' | 'partial' | 'not started';

export function runFolder(job: ExperimentJob, outDir: string): string {
  return isAbsolute(job.run) ? job.run : join(outDir, job.run);
}

/** finished: its FINISHED_FILES entry written; partial: a checkpoint but no summary; else not started. */
export function jobStatus(job: ExperimentJob, outDir: string): JobStatus {
  const dir = runFolder(job, outDir);
  if (existsSync(join(dir, FINISHED_FILES[job.command]))) return 'finished';
  if (existsSync(join(dir, CHECKPOINT_FILE))) return 'partial';
  return 'not started';
}

/** A JSON file of a run folder, or null when it is absent; `fix` says what to do when it is not valid JSON. */
function readJson<T>(path: string, fix: string): T | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(fs.readFileSync(path, 'utf8')) as T;
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message}); ${fix}`);
  }
}

/** The parsed summary (FINISHED_FILES) of a finished job, or null. */
export function jobSummary(job: ExperimentJob, outDir: string): Record<string, unknown> | null {
  return readJson(join(runFolder(job, outDir), FINISHED_FILES[job.command]), "delete the job's folder to run it again");
}

/**
 * The runner's clock for a job, kept in its run folder (so it travels with the run when another
 * experiment shares it): each attempt's wall seconds; a fresh start clears it, a resume adds to it.
 */
export const JOB_TIME_FILE = 'job-time.json';

type Attempt = { seconds: number; status: JobStatus; ended: string };

export interface JobTime {
  /** Wall seconds of all attempts of the run now in the folder (their sum). */
  seconds: number;
  attempts: Attempt[];
}

/** The job's time record, or null when the runner never ran it (or it predates the record). */
export function readJobTime(job: ExperimentJob, outDir: string): JobTime | null {
  const path = join(runFolder(job, outDir), JOB_TIME_FILE);
  const file = readJson<{ attempts?: Attempt[] }>(path, "delete it (the job's time is then unknown)");
  if (file && !Array.isArray(file.attempts)) throw new Error(`${path}: no list of attempts; delete it (the job's time is then unknown)`);
  return file && { seconds: file.attempts!.reduce((a, t) => a + t.seconds, 0), attempts: file.attempts! };
}

/** Adds an attempt to the job's time record; `fresh` starts a new record (the run began anew). */
export function recordJobTime(job: ExperimentJob, outDir: string, seconds: number, status: JobStatus, fresh: boolean): void {
  const attempts = [...((fresh ? null : readJobTime(job, outDir))?.attempts ?? []), { seconds, status, ended: new Date().toISOString() }];
  const dir = runFolder(job, outDir);
  fs.mkdirSync(dir, { recursive: true });
  writeTextAtomic(fs, join(dir, JOB_TIME_FILE), JSON.stringify({ attempts }, null, 1) + '\n');
}

/** The flags of a job as command-line words; `--name=value` so that no value is taken for a flag. */
export function jobArgv(args: Record<string, JobArg>): string[] {
  return Object.entries(args).map(([name, v]) => (v === true ? `--${name}` : v === false ? `--no-${name}` : `--${name}=${Array.isArray(v) ? (v as unknown[]).join(',') : String(v)}`));
}

/** The full command line of a job: a fresh start into its folder, or a resume of a partial one. */
export function jobCommandLine(job: ExperimentJob, outDir: string, status: JobStatus = jobStatus(job, outDir)): string[] {
  const dir = runFolder(job, outDir);
  const resume = status === 'partial' && RESUMABLE_COMMANDS.includes(job.command);
  return [job.command, ...jobArgv(job.args), resume ? `--resume=${dir}` : `--run=${dir}`];
}

/** Checks a list of jobs: ids unique and well-formed, commands known, no --run/--resume in args, folders distinct. */
export function checkJobs(jobs: ExperimentJob[], where: string): void {
  const ids = new Set<string>(), runs = new Set<string>();
  for (const j of jobs) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(j.id)) throw new Error(`${where}: job id '${j.id}': letters, digits, '.', '_' and '-' only`);
    if (ids.has(j.id)) throw new Error(`${where}: job id '${j.id}' appears twice`);
    ids.add(j.id);
    if (!(JOB_COMMANDS as readonly string[]).includes(j.command)) throw new Error(`${where}: job '${j.id}': command must be one of ${JOB_COMMANDS.join(', ')}, got '${j.command}'`);
    for (const k of ['run', 'resume']) if (k in j.args) throw new Error(`${where}: job '${j.id}': --${k} comes from the job's run folder, not its args`);
    if (runs.has(j.run)) throw new Error(`${where}: jobs share the run folder '${j.run}'`);
    runs.add(j.run);
  }
}

/**
 * How the run in a job's folder differs from the job: the flags whose values differ from the
 * ones its checkpoint was started with (none: the folder holds this job's run, or no run).
 * A job list changed between two runs of an experiment (another --epochs, another --data) would
 * otherwise count a run of other settings as its own.
 */
export async function runMismatch(job: ExperimentJob, outDir: string): Promise<{ flag: string; job: string; run: string }[]> {
  const path = join(runFolder(job, outDir), CHECKPOINT_FILE);
  if (!existsSync(path)) return [];
  const flags = (await readCheckpointMeta(path)).invocation?.flags;
  if (!flags) return [];
  const show = (v: unknown) => (Array.isArray(v) ? v.join(',') : String(v));
  return Object.entries(job.args).filter(([k, v]) => show(flags[k]) !== show(v)).map(([k, v]) => ({ flag: k, job: show(v), run: show(flags[k]) }));
}
