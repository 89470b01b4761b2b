// reassign: the found genotype with its own rules, and with K random per-edge re-assignments
// (each edge draws one of the rules its op has in the paper's space; `train --rules random
// --rules-seed k`), over seeds. The paper's Table 5: re-assigned networks reach 94.83-94.88 %
// against the found 95.16 %, i.e. the rules matter less than the architecture.

import { registerRecipe, type JobResult, type RecipeOptions } from '../recipe.js';
import { networkArgs } from '../scale.js';
import { similarVerdict, allVerdicts, fmtStat, mdTable, barChart, stat } from '../report.js';
import { describeRules } from '../../models/rule_override.js';
import type { Genotype } from '../../models/genotype.js';
import type { ExperimentJob } from '../job.js';
import { seedList, variantStat, variantResults, reportHead, verdictLines } from './common.js';

/** The paper's Table 5: random re-assignments 94.83-94.88 %; the found network 95.16 % (SPEC 1). */
const PAPER_REASSIGNED = [94.83, 94.88];
const PAPER_FOUND = 95.16;
/** Re-assignments by default (bionas choice: at proxy scale each costs a run per seed). */
export const DEFAULT_K = { proxy: 4, paper: 5 };
/**
 * "Changes accuracy little": within this many points of the found rules (bionas choice; the
 * paper's re-assignments lie 0.28-0.33 points below the found network, and a proxy run's
 * seed-to-seed spread is about a point).
 */
export const REASSIGN_TOLERANCE = 1;

const variants = (o: RecipeOptions) => ['found', ...Array.from({ length: o.k ?? DEFAULT_K[o.scale] }, (_, k) => `random${k + 1}`)];

export const REASSIGN = registerRecipe({
  name: 'reassign',
  help: 'the found genotype with its rules vs K random per-edge re-assignments of them (Table 5)',
  claim: 'randomly re-assigning the learning rules of the found architecture changes its accuracy little (94.83-94.88 % vs 95.16 %).',
  jobs(o: RecipeOptions): ExperimentJob[] {
    return seedList(o.seeds).flatMap((seed) => variants(o).map((v, k) => ({
      id: `${v}-s${seed}`, command: 'train' as const, run: `runs/${v}-s${seed}`,
      // Re-assignment k draws from --rules-seed k for every training seed: the same network over seeds.
      args: { ...networkArgs(o, seed), ...(k === 0 ? { rules: 'as-found' } : { rules: 'random', 'rules-seed': k, space: 'bionas' }) },
    })));
  },
  report(results: JobResult[], o: RecipeOptions) {
    const rows = variants(o).map((v) => {
      const rs = variantResults(results, v);
      const g = rs[0]?.summary?.model as { genotype?: Genotype } | undefined;
      return { name: v, stat: variantStat(results, v), rules: g?.genotype ? describeRules(g.genotype) : '(not trained yet)' };
    });
    const found = rows[0];
    const checks = rows.slice(1).map((r) => ({ claim: `${r.name} is within ${REASSIGN_TOLERANCE} point of the found rules`, verdict: similarVerdict(found.stat, r.stat, REASSIGN_TOLERANCE), why: `${fmtStat(r.stat)} vs ${fmtStat(found.stat)} %` }));
    const means = rows.slice(1).map((r) => r.stat.mean).filter(Number.isFinite);
    const spread = means.length ? `${Math.min(...means).toFixed(2)}-${Math.max(...means).toFixed(2)} %` : 'n/a';
    const overall = { claim: 're-assigning the rules changes accuracy little', verdict: allVerdicts(checks.map((c) => c.verdict)), why: `re-assignments ${spread} (paper ${PAPER_REASSIGNED.join('-')} %), found ${fmtStat(found.stat)} (paper ${PAPER_FOUND} %)` };
    const table = mdTable(['rules', 'test accuracy % (mean ± std, n)', 'paper', 'edges (op/rule)'],
      rows.map((r, i) => [r.name, fmtStat(r.stat), i === 0 ? `${PAPER_FOUND}` : `${PAPER_REASSIGNED.join('-')} (range)`, r.rules]));
    const all = stat(rows.slice(1).flatMap((r) => variantResults(results, r.name).map((x) => 100 * (x.summary!.test as { acc: number }).acc)));
    return {
      markdown: [reportHead(REASSIGN, results, o), '## Test accuracy', '', table, '', `All re-assignments pooled: ${fmtStat(all)} %.`, '', '![accuracy](accuracy.svg)', '', verdictLines([overall, ...checks])].join('\n'),
      svgs: { 'accuracy.svg': barChart(rows.map((r, i) => ({ name: r.name, stat: r.stat, paper: i === 0 ? PAPER_FOUND : (PAPER_REASSIGNED[0] + PAPER_REASSIGNED[1]) / 2 })), { title: 'found rules vs random re-assignments', yLabel: 'test accuracy %' }) },
      json: { recipe: 'reassign', options: o, variants: rows, pooled: all, paper: { found: PAPER_FOUND, reassigned: PAPER_REASSIGNED }, tolerance: REASSIGN_TOLERANCE, verdicts: [overall, ...checks] },
    };
  },
});
