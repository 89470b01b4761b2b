// single-vs-mixed: one genotype trained with its own mixed rules, with each single rule of the
// paper's space and with BP (all edges; stem, preprocessing and classifier stay BP), over seeds.
// The paper's claim: mixing rules beats any single rule.

import { registerRecipe, type JobResult, type RecipeOptions } from '../recipe.js';
import { betterVerdict, allVerdicts, fmtStat, mdTable, barChart } from '../report.js';
import { lineChart } from '../../viz/chart.js';
import type { ExperimentJob } from '../job.js';
import { ruleVariants, ruleVariantJob, seedList, variantStat, variantResults, meanCurve, reportHead, verdictLines } from './common.js';

/** BioNAS-DARTS on CIFAR-10 after 600 epochs (SPEC 1: test error 4.84 %). */
const PAPER_MIXED_ACCURACY = 95.16;

const variants = ruleVariants;

export const SINGLE_VS_MIXED = registerRecipe({
  name: 'single-vs-mixed',
  help: 'a genotype with its mixed rules vs the same network under each single rule and BP',
  claim: 'a network that mixes learning rules beats the same network under any single rule.',
  jobs(o: RecipeOptions): ExperimentJob[] {
    return seedList(o.seeds).flatMap((seed) => variants().map((v) => ruleVariantJob(o, v, seed)));
  },
  report(results: JobResult[], o: RecipeOptions) {
    const rows = variants().map((v) => ({ ...v, stat: variantStat(results, v.name) }));
    const mixed = rows[0];
    const checks = rows.slice(1).map((r) => ({ claim: `mixed beats ${r.name}`, verdict: betterVerdict(mixed.stat, r.stat), why: `${fmtStat(mixed.stat)} vs ${fmtStat(r.stat)} %` }));
    const overall = { claim: 'mixed beats every single rule', verdict: allVerdicts(checks.map((c) => c.verdict)), why: 'all of the lines below' };
    const table = mdTable(['rules', 'test accuracy % (mean ± std, n)', 'paper (CIFAR-10, 600 epochs)'],
      rows.map((r) => [r.rules, fmtStat(r.stat), r.name === 'mixed' ? `${PAPER_MIXED_ACCURACY}` : '—']));
    const curves = rows.map((r) => ({ name: r.name, points: meanCurve(variantResults(results, r.name), 'trainLoss') }));
    const markdown = [reportHead(SINGLE_VS_MIXED, results, o), '## Test accuracy', '', table, '', '![accuracy](accuracy.svg)', '', '![training loss](train_loss.svg)', '',
      verdictLines([overall, ...checks])].join('\n');
    return {
      markdown,
      svgs: {
        'accuracy.svg': barChart(rows.map((r) => ({ name: r.name, stat: r.stat, paper: r.name === 'mixed' ? PAPER_MIXED_ACCURACY : undefined })), { title: 'test accuracy by rules (mean ± std over seeds)', yLabel: 'test accuracy %' }),
        'train_loss.svg': lineChart(curves, { title: 'training loss (mean over seeds)', xLabel: 'epoch', yLabel: 'train loss' }),
      },
      json: { recipe: 'single-vs-mixed', options: o, variants: rows.map((r) => ({ name: r.name, rules: r.rules, ...r.stat, values: variantResults(results, r.name).map((x) => ({ id: x.job.id, acc: 100 * ((x.summary!.test as { acc: number }).acc) })) })),
        paper: { mixed: PAPER_MIXED_ACCURACY }, verdicts: [overall, ...checks], curves },
    };
  },
});
