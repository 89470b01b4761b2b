// What several recipes share: the rule variants of a genotype, reading test accuracy and
// curves from train summaries, and the parts every report.md has (what was run, the settings,
// which jobs are missing).

import { SPACE_PRESETS } from '../../search/space.js';
import { OP_RULE_USE } from '../../models/operations.js';
import { stat, type Stat } from '../report.js';
import { networkArgs } from '../scale.js';
import { jobArgv, type ExperimentJob } from '../job.js';
import type { JobResult, Recipe, RecipeOptions } from '../recipe.js';

/** The single rules a genotype is compared with: every rule paired with an op with weights in the paper's space, and BP. */
export function singleRules(): string[] {
  const space = SPACE_PRESETS.bionas;
  const rules = space.pairs.filter((p) => OP_RULE_USE[p.op] !== 'none').map((p) => p.rule);
  return ['bp', ...new Set(rules.filter((r) => r !== 'bp'))];
}

/** A genotype network's rule variant: its own mixed rules, or one rule on every edge. */
export interface RuleVariant {
  /** Job id prefix ('mixed', 'bp', 'fa', ...). */
  name: string;
  /** `bionas train --rules` value. */
  rules: string;
}

/** The genotype with its own rules, then under each single rule (single-vs-mixed, robustness). */
export const ruleVariants = (): RuleVariant[] => [{ name: 'mixed', rules: 'as-found' }, ...singleRules().map((r) => ({ name: r, rules: `single:${r}` }))];

/**
 * The training of one rule variant for one seed. Recipes that train the same variants share
 * these jobs exactly (ids, args and run folders), so their runs are interchangeable.
 */
export function ruleVariantJob(o: RecipeOptions, v: RuleVariant, seed: number): ExperimentJob {
  return { id: `${v.name}-s${seed}`, command: 'train', args: { ...networkArgs(o, seed), rules: v.rules }, run: `runs/${v.name}-s${seed}` };
}

/** Seeds 0..n-1. */
export const seedList = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Test accuracy in percent of a finished train job; NaN otherwise. */
export function testAccuracy(r: JobResult): number {
  const t = r.summary?.test as { acc?: number } | undefined;
  return typeof t?.acc === 'number' ? 100 * t.acc : NaN;
}

/** The finished results whose id starts with `prefix-s` (a variant over seeds). */
export function variantResults(results: JobResult[], variant: string): JobResult[] {
  return results.filter((r) => r.summary && r.job.id.startsWith(`${variant}-s`) && /^\d+$/.test(r.job.id.slice(variant.length + 2)));
}

export function variantStat(results: JobResult[], variant: string, value: (r: JobResult) => number = testAccuracy): Stat {
  return stat(variantResults(results, variant).map(value));
}

/** Mean over seeds of a per-epoch history field of train summaries: [epoch, mean][]. */
export function meanCurve(rs: JobResult[], field: string): [number, number][] {
  const byEpoch = new Map<number, number[]>();
  for (const r of rs) {
    for (const h of (r.summary?.history as Record<string, number>[] | undefined) ?? []) {
      const v = h[field];
      if (typeof v === 'number' && Number.isFinite(v)) byEpoch.set(h.epoch, [...(byEpoch.get(h.epoch) ?? []), v]);
    }
  }
  return [...byEpoch.entries()].sort((a, b) => a[0] - b[0]).map(([e, vs]) => [e, stat(vs).mean]);
}

/** Seconds as minutes with one decimal ('2.3 min'). */
const minutes = (s: number) => `${(s / 60).toFixed(1)} min`;

/** The heading, the settings and the list of jobs of a report.md. */
export function reportHead(recipe: Recipe, results: JobResult[], o: RecipeOptions): string {
  const done = results.filter((r) => r.status === 'finished').length;
  const missing = results.filter((r) => r.status !== 'finished');
  const timed = results.filter((r) => r.seconds !== null);
  const total = timed.reduce((a, r) => a + r.seconds!, 0);
  const lines = [
    `# ${recipe.name}: ${recipe.help}`,
    '',
    `Claim (the paper): ${recipe.claim}`,
    '',
    `Scale: **${o.scale}**; seeds: ${o.seeds}; dataset: ${o.dataset}${o.data ? ` (${o.data})` : ''}${o.epochs !== undefined ? `; epochs overridden to ${o.epochs}` : ''}; genotype: ${o.genotype}.`,
    `Jobs finished: ${done} of ${results.length}${missing.length ? ` (missing: ${missing.map((r) => `${r.job.id} ${r.status}`).join(', ')}; rerun the experiment to complete them)` : ''}.`,
    timed.length ? `Time: ${minutes(total)} of job wall time${timed.length < results.length ? ` for the ${timed.length} of ${results.length} jobs the runner timed` : ''} (the runner's clock, all attempts of each job; jobs run one after another).` : '',
    o.scale === 'proxy' ? 'Proxy scale: a CIFAR subset, few epochs, small networks; the paper\'s numbers come from full training and are shown for orientation, not for a like-for-like comparison.' : '',
    '',
    '## Jobs',
    '',
    ...results.map((r) => `- \`${r.job.id}\` (${r.status}${r.seconds !== null ? `, ${minutes(r.seconds)}` : ''}): \`bionas ${r.job.command} ${jobArgv(r.job.args).join(' ')}\``),
    '',
  ];
  // The settings as the command resolved them (preset and flags), from the first finished job.
  const config = results.find((r) => r.summary?.config)?.summary?.config;
  if (config) lines.push(`Resolved settings of \`${results.find((r) => r.summary?.config)!.job.id}\` (the others differ only in what the job list varies):`, '', '```json', JSON.stringify(config), '```', '');
  return lines.join('\n');
}

/** '**holds**: text' lines of the verdicts section. */
export function verdictLines(vs: { claim: string; verdict: string; why: string }[]): string {
  return ['## Verdicts', '', ...vs.map((v) => `- ${v.claim}: **${v.verdict}** (${v.why})`), '',
    'Rule: two means differ when their difference exceeds 2 standard errors of the difference; fewer than 2 seeds: inconclusive (docs/EXPERIMENTS.md).', ''].join('\n');
}
