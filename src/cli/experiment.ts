// `bionas experiment RECIPE`: runs a recipe's jobs (train, search, attack) as child processes,
// resumable by running the same command again, and writes a report (docs/EXPERIMENTS.md).

import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { parseFlags, helpText, UsageError, type FlagTable } from './flags.js';
import { DATASETS } from './common.js';
import { RECIPES, SCALES, type RecipeOptions, type Scale } from '../experiment/recipe.js';
import { GENOTYPE_PRESETS } from '../models/genotype.js';
import { runExperiment, writeReport } from '../experiment/experiment.js';
import { SIGNAL_EXIT_CODES } from '../run/stop.js';
import { splitCheckpoints } from './attack.js';
import '../experiment/recipes/index.js';

/** Seeds per variant unless --seeds: 2 is the fewest that gives a standard deviation. */
const DEFAULT_SEEDS = 2;

export const EXPERIMENT_FLAGS: FlagTable = {
  list: { type: 'bool', default: false, help: 'list the recipes and exit' },
  scale: { type: 'string', default: 'proxy', choices: SCALES, help: 'proxy: a 2-core CPU in about an hour (CIFAR subset, few epochs, small nets); paper: the papers\' settings, for GPUs' },
  seeds: { type: 'int', min: 1, max: 100, default: DEFAULT_SEEDS, help: 'seeds per variant (mean ± std over them)' },
  out: { type: 'string', help: 'experiment folder: jobs.json, runs/<job>/, report/ (default: runs/experiment-<recipe>-<scale>)' },
  genotype: { type: 'string', default: 'biodarts', help: `genotype of the recipes on one found network: a preset (${Object.keys(GENOTYPE_PRESETS).join(', ')}) or a JSON file` },
  dataset: { type: 'string', default: 'cifar10', choices: DATASETS, help: 'dataset (synthetic: smoke tests only)' },
  data: { type: 'string', help: 'folder of the dataset files (CIFAR binary version); required unless --dataset synthetic' },
  epochs: { type: 'int', min: 1, help: 'override the epochs of every train and search job (a quick look; the report says so)' },
  k: { type: 'int', min: 1, max: 100, help: 'reassign: random re-assignments (default: 4 at proxy scale, 5 at paper scale)' },
  checkpoint: { type: 'string', help: 'robustness: a trained checkpoint to attack instead of training the recipe\'s networks; repeat it (or a comma-separated list) for several' },
  n: { type: 'int', min: 1, help: 'robustness: test images attacked per attack job (default: 100 at proxy scale, 1000 at paper scale)' },
  'report-only': { type: 'bool', default: false, help: 'write the report from the finished jobs without running any' },
};

export async function experimentCommand(argv: string[]): Promise<void> {
  const names = RECIPES.names();
  const summary = `Runs an experiment recipe: a list of train/search/attack jobs, each a config in and a run folder out, then a report\n` +
    `(OUT/report/report.md, SVG drawings, report.json). Running the same command again skips finished jobs and resumes\n` +
    `unfinished ones, so a stopped experiment continues where it stopped.\n\nusage: bionas experiment RECIPE [flags]    recipes: ${names.join(', ')}`;
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(helpText('experiment RECIPE', summary, EXPERIMENT_FLAGS));
    return;
  }
  const recipeName = argv[0] && !argv[0].startsWith('--') ? argv[0] : undefined;
  const { checkpoints, rest } = splitCheckpoints(recipeName ? argv.slice(1) : argv, 'experiment');
  const f = parseFlags(rest, EXPERIMENT_FLAGS, 'experiment');
  if (f.list) {
    const width = Math.max(...names.map((n) => n.length));
    for (const r of RECIPES.all()) console.log(`  ${r.name.padEnd(width)}  ${r.help}`);
    return;
  }
  if (!recipeName) throw new UsageError(`bionas experiment: name a recipe (${names.join(', ')}), or --list`);
  let recipe;
  try {
    recipe = RECIPES.get(recipeName);
  } catch (e) {
    throw new UsageError(`bionas experiment: ${(e as Error).message}`);
  }
  if (checkpoints.length && !recipe.takesCheckpoints) {
    throw new UsageError(`bionas experiment: --checkpoint is for recipes that attack given networks (${RECIPES.all().filter((r) => r.takesCheckpoints).map((r) => r.name).join(', ')}); ${recipe.name} trains its own`);
  }
  for (const c of checkpoints) if (!existsSync(c)) throw new UsageError(`bionas experiment: --checkpoint ${c}: no such file`);
  if (new Set(checkpoints.map((c) => resolve(c))).size !== checkpoints.length) throw new UsageError('bionas experiment: a --checkpoint is given twice');
  const dataset = f.dataset as string;
  if (dataset !== 'synthetic' && !f.data) throw new UsageError(`bionas experiment: --dataset ${dataset} needs --data DIR (e.g. the folder holding cifar-10-batches-bin; see docs/DATA.md)`);
  // Jobs run inside the experiment folder: paths the user gave are made absolute first.
  const genotype = f.genotype as string;
  const o: RecipeOptions = {
    scale: f.scale as Scale, seeds: f.seeds as number, dataset,
    genotype: GENOTYPE_PRESETS[genotype.toLowerCase()] || !existsSync(genotype) ? genotype : resolve(genotype),
    ...(f.data ? { data: resolve(f.data as string) } : {}),
    ...(f.epochs !== undefined ? { epochs: f.epochs as number } : {}),
    ...(f.k !== undefined ? { k: f.k as number } : {}),
    ...(checkpoints.length ? { checkpoints: checkpoints.map((c) => resolve(c)) } : {}),
    ...(f.n !== undefined ? { n: f.n as number } : {}),
  };
  const outDir = resolve((f.out as string | undefined) ?? `runs/experiment-${recipe.name}-${o.scale}`);
  if (f['report-only']) {
    console.log(`report: ${await writeReport(recipe, o, outDir)}/report.md`);
    return;
  }
  const t0 = Date.now();
  const r = await runExperiment(recipe, o, outDir);
  const failed = r.outcomes.filter((x) => x.after !== 'finished');
  console.log(`\n${recipe.name}: ${r.outcomes.length - failed.length} of ${recipe.jobs(o).length} jobs finished in ${((Date.now() - t0) / 1000).toFixed(0)} s (${outDir})`);
  if (r.stopped) {
    console.log(`stopped: run the same command again to continue`);
    process.exitCode = SIGNAL_EXIT_CODES[r.stopped];
    return;
  }
  if (r.reportDir) console.log(`report: ${r.reportDir}/report.md`);
  if (failed.length) {
    console.error(`not finished: ${failed.map((x) => `${x.job.id} (exit code ${x.code})`).join(', ')}; the report covers the finished jobs`);
    process.exitCode = 1;
  }
}
