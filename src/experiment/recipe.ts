// An experiment recipe: a list of jobs (plain data, ./job.ts) from a scale, a number of seeds
// and a few options, and a report made from the finished jobs' summaries. Recipes register
// themselves in RECIPES when their module is imported (./recipes/index.ts imports them all).
// A recipe whose claim needs attacks lists `attack` jobs beside its `train` jobs, with the
// trained run's checkpoint among the attack's args (`trainedCheckpoint` below); the runner
// treats every command alike.

import { Registry } from '../registry.js';
import type { ExperimentJob, JobStatus } from './job.js';

export type Scale = 'proxy' | 'paper';
export const SCALES: readonly Scale[] = ['proxy', 'paper'];

export interface RecipeOptions {
  scale: Scale;
  seeds: number;
  /** Genotype preset or file (recipes on one found network). */
  genotype: string;
  /** Dataset and its folder (proxy scale: a subset of it). */
  dataset: string;
  data?: string;
  /** Overrides the epochs of every train and search job (quick looks; the report says so). */
  epochs?: number;
  /** Repetitions of a recipe that draws variants (reassign: re-assignments). */
  k?: number;
  /** Trained checkpoints to use instead of training (recipes with `takesCheckpoints`; absolute paths). */
  checkpoints?: string[];
  /** Test images each attack job attacks (recipes with attack jobs; default per scale). */
  n?: number;
}

export interface JobResult {
  job: ExperimentJob;
  status: JobStatus;
  /** summary.json of a finished job; null otherwise. */
  summary: Record<string, unknown> | null;
  /** The job's run folder (absolute): for reports that read more than the summary (weights). */
  dir: string;
  /** Wall seconds the runner spent on the run in the folder, over all attempts (null: unknown). */
  seconds: number | null;
}

export interface ReportFiles {
  /** report.md */
  markdown: string;
  /** SVG drawings by file name. */
  svgs: Record<string, string>;
  /** report.json: every number of the report. */
  json: unknown;
}

export interface Recipe {
  readonly name: string;
  /** One line for --list and the report's heading. */
  readonly help: string;
  /** The claim it tests, as the paper states it. */
  readonly claim: string;
  /** It can work on given checkpoints (`--checkpoint`) instead of training its own networks. */
  readonly takesCheckpoints?: boolean;
  jobs(o: RecipeOptions): ExperimentJob[];
  /** Files the jobs read (e.g. a search space), by path relative to the experiment folder. */
  files?(o: RecipeOptions): Record<string, string>;
  report(results: JobResult[], o: RecipeOptions): ReportFiles | Promise<ReportFiles>;
}

export const RECIPES = new Registry<Recipe>('experiment recipe');

export function registerRecipe(r: Recipe): Recipe {
  RECIPES.add(r);
  return r;
}

/** Path of a train job's checkpoint, for the args of a job that reads the trained net (an attack). */
export function trainedCheckpoint(job: ExperimentJob): string {
  return `${job.run}/checkpoint.bin`;
}
