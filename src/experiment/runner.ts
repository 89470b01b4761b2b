// Runs an experiment's jobs in order, each as a child process of the same bionas executable:
// finished jobs (summary.json in their folder) are skipped, partial ones (a checkpoint, no
// summary) continue with --resume, the rest start fresh; so a killed experiment, run again,
// continues where it stopped. Each child's output is passed on line by line behind '[job id] '.
// Children run in the experiment folder, so relative paths in a job's args (a space file the
// recipe wrote, another job's checkpoint) are relative to it.
//
// Stopping: the children run in their own process group, so a Ctrl-C at the terminal reaches
// only the runner; on SIGINT or SIGTERM it sends the running child one SIGTERM (the run loop
// then checkpoints at the end of its step and exits 143), waits for it, and starts no more jobs.
// A second signal is passed on as well, and the run loop quits at once.

import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { jobCommandLine, jobStatus, checkJobs, recordJobTime, runMismatch, RESUMABLE_COMMANDS, type ExperimentJob, type JobStatus } from './job.js';
import { SIGNAL_EXIT_CODES, type StopSignal } from '../run/stop.js';

export interface JobOutcome {
  job: ExperimentJob;
  /** What the folder held before this run; 'finished' jobs were skipped. */
  before: JobStatus;
  /** What the folder holds now. */
  after: JobStatus;
  /** The child's exit code (null: skipped, or killed by a signal it did not handle). */
  code: number | null;
  seconds: number;
}

export interface RunnerOptions {
  /** The experiment folder that job run folders are relative to. */
  outDir: string;
  /** The bionas executable (default: this process's script, process.argv[1]). */
  bin?: string;
  /** Where output lines go (default: stdout / stderr of this process). */
  log?: (line: string) => void;
  /** Extra environment for the children. */
  env?: NodeJS.ProcessEnv;
}

export interface RunnerResult {
  outcomes: JobOutcome[];
  /** Set when a signal stopped the experiment before its last job. */
  stopped: StopSignal | null;
}

/** Splits a stream into lines and passes each on with a prefix. */
function pipeLines(stream: NodeJS.ReadableStream | null, emit: (line: string) => void): void {
  if (!stream) return;
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    // A progress bar redraws its line with '\r'; only its last state is worth passing on.
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    for (const l of lines) emit(l.slice(l.lastIndexOf('\r') + 1));
  });
  stream.on('end', () => {
    if (rest) emit(rest.slice(rest.lastIndexOf('\r') + 1));
  });
}

export async function runJobs(jobs: ExperimentJob[], o: RunnerOptions): Promise<RunnerResult> {
  checkJobs(jobs, 'experiment');
  const bin = resolve(o.bin ?? process.argv[1]);
  const outDir = resolve(o.outDir);
  mkdirSync(outDir, { recursive: true });
  const log = o.log ?? ((line: string) => console.log(line));
  // Before anything runs: a folder holding a run of other settings is an error, except a run
  // that only asks for more epochs now, which continues (train and search extend with --resume).
  const extend = new Set<string>();
  const conflicts: string[] = [];
  for (const job of jobs) {
    const diff = await runMismatch(job, outDir);
    const longer = diff.length === 1 && diff[0].flag === 'epochs' && Number(diff[0].job) > Number(diff[0].run) && RESUMABLE_COMMANDS.includes(job.command);
    if (longer) extend.add(job.id);
    else if (diff.length) conflicts.push(`${job.id}: ${diff.map((d) => `--${d.flag} ${d.job} (the run there has ${d.run})`).join(', ')}`);
  }
  if (conflicts.length) {
    throw new Error(`the experiment folder ${outDir} holds runs of other settings than this job list:\n  ${conflicts.join('\n  ')}\n` +
      'use another --out, or delete those run folders to run them again');
  }
  let stopped: StopSignal | null = null;
  let child: ChildProcess | null = null;
  const onSignal = (name: StopSignal) => {
    const again = stopped !== null;
    stopped = name;
    log(again ? `\n${name} again: telling the running job to quit at once` : `\nstopping (${name}): the running job checkpoints and stops; rerun the same command to continue`);
    child?.kill('SIGTERM');
  };
  const killChild = () => child?.kill('SIGTERM');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', killChild);
  const outcomes: JobOutcome[] = [];
  try {
    for (const [i, job] of jobs.entries()) {
      let before = jobStatus(job, outDir);
      if (before === 'finished' && extend.has(job.id)) before = 'partial';
      const tag = `[${job.id}]`;
      if (before === 'finished') {
        log(`${tag} finished already: skipped`);
        outcomes.push({ job, before, after: before, code: null, seconds: 0 });
        continue;
      }
      if (stopped) break;
      const argv = jobCommandLine(job, outDir, before);
      log(`${tag} (${i + 1}/${jobs.length}) ${before === 'partial' ? 'resuming' : 'starting'}: bionas ${argv.join(' ')}`);
      const t0 = Date.now();
      const code = await new Promise<number | null>((resolve, reject) => {
        child = spawn(process.execPath, [bin, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, cwd: outDir, env: { ...process.env, ...o.env } });
        pipeLines(child.stdout, (l) => log(`${tag} ${l}`));
        pipeLines(child.stderr, (l) => log(`${tag} ${l}`));
        child.on('error', reject);
        child.on('close', (c) => resolve(c));
      });
      child = null;
      const seconds = (Date.now() - t0) / 1000;
      const after = jobStatus(job, outDir);
      recordJobTime(job, outDir, seconds, after, before === 'not started');
      outcomes.push({ job, before, after, code, seconds });
      const stoppedBySignal = code === SIGNAL_EXIT_CODES.SIGTERM || code === SIGNAL_EXIT_CODES.SIGINT;
      log(`${tag} ${after === 'finished' ? 'finished' : stoppedBySignal ? 'stopped' : `failed (exit code ${code})`} after ${seconds.toFixed(1)} s`);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', killChild);
  }
  return { outcomes, stopped };
}
