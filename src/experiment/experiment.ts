// Runs a recipe end to end: its jobs (skipping finished ones, resuming partial ones), then its
// report from whatever has finished, into OUT/report/ (report.md, SVG drawings, report.json).

import * as fs from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { writeTextAtomic } from '../run/state.js';
import { runJobs, type RunnerOptions, type RunnerResult } from './runner.js';
import { jobStatus, jobSummary, runFolder, checkJobs, readJobTime } from './job.js';
import type { Recipe, RecipeOptions, JobResult } from './recipe.js';

export const REPORT_DIR = 'report';

export interface ExperimentOutcome extends RunnerResult {
  /** The report folder, when one was written. */
  reportDir: string | null;
}

/** The status and summary of every job, read from its folder. */
export function collectResults(recipe: Recipe, o: RecipeOptions, outDir: string): JobResult[] {
  return recipe.jobs(o).map((job) => {
    const status = jobStatus(job, outDir);
    return { job, status, summary: status === 'finished' ? jobSummary(job, outDir) : null, dir: resolve(runFolder(job, outDir)), seconds: readJobTime(job, outDir)?.seconds ?? null };
  });
}

/** Writes OUT/report/: report.md, the SVGs and report.json. */
export async function writeReport(recipe: Recipe, o: RecipeOptions, outDir: string): Promise<string> {
  const results = collectResults(recipe, o, outDir);
  const files = await recipe.report(results, o);
  const dir = join(outDir, REPORT_DIR);
  fs.mkdirSync(dir, { recursive: true });
  writeTextAtomic(fs, join(dir, 'report.md'), files.markdown);
  for (const [name, svg] of Object.entries(files.svgs)) writeTextAtomic(fs, join(dir, name), svg);
  // Every report's JSON also says how long each job took.
  const jobSeconds = Object.fromEntries(results.map((r) => [r.job.id, r.seconds]));
  const json = files.json && typeof files.json === 'object' && !Array.isArray(files.json) ? { ...files.json, jobSeconds } : files.json;
  writeTextAtomic(fs, join(dir, 'report.json'), JSON.stringify(json, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1) + '\n');
  return dir;
}

export async function runExperiment(recipe: Recipe, o: RecipeOptions, outDir: string, runner: Omit<RunnerOptions, 'outDir'> = {}): Promise<ExperimentOutcome> {
  const jobs = recipe.jobs(o);
  checkJobs(jobs, recipe.name);
  fs.mkdirSync(outDir, { recursive: true });
  // The job list and options, as data: what was run, and what another machine would need.
  writeTextAtomic(fs, join(outDir, 'jobs.json'), JSON.stringify({ recipe: recipe.name, options: o, jobs }, null, 1) + '\n');
  for (const [name, text] of Object.entries(recipe.files?.(o) ?? {})) {
    const path = join(outDir, name);
    fs.mkdirSync(dirname(path), { recursive: true });
    if (!fs.existsSync(path)) fs.writeFileSync(path, text);
  }
  const result = await runJobs(jobs, { ...runner, outDir });
  const reportDir = result.stopped ? null : await writeReport(recipe, o, outDir);
  return { ...result, reportDir };
}
