// baselines: CIFAR ResNet-20 and ResNet-56 with every conv and the classifier under one rule,
// for all six rules, over seeds: the Biotorch table the paper quotes (SPEC 1; test error %).

import { registerRecipe, type JobResult, type RecipeOptions } from '../recipe.js';
import { resnetArgs } from '../scale.js';
import { betterVerdict, allVerdicts, fmtStat, mdTable, barChart, stat, type Stat } from '../report.js';
import { ruleNames } from '../../rules/registry.js';
import type { ExperimentJob } from '../job.js';
import { seedList, variantResults, testAccuracy, reportHead, verdictLines } from './common.js';

/** Biotorch's CIFAR-10 test error % (SGD), as SPEC 1 quotes it; ResNet-56 has no DFA entry. */
export const BIOTORCH_ERROR: Record<'resnet20' | 'resnet56', Record<string, number>> = {
  resnet20: { bp: 8.63, fa: 32.16, dfa: 45.94, usf: 10.05, brsf: 11.02, frsf: 11.2 },
  resnet56: { bp: 8.3, fa: 34.88, usf: 8.2, brsf: 8.69, frsf: 9.49 },
};
const DEPTHS = [20, 56] as const;
/** The built-in rules (a user's registered rule has no Biotorch number). */
const RULES = ['bp', 'fa', 'dfa', 'usf', 'brsf', 'frsf'];

const errorOf = (r: JobResult) => 100 - testAccuracy(r);

export const BASELINES = registerRecipe({
  name: 'baselines',
  help: 'single-rule ResNet-20/56 for all six rules (the Biotorch table)',
  claim: 'Biotorch: sign-symmetric rules (uSF, brSF, frSF) come within a few points of BP, feedback alignment (FA, DFA) falls far behind.',
  jobs(o: RecipeOptions): ExperimentJob[] {
    const rules = RULES.filter((r) => ruleNames().includes(r));
    return seedList(o.seeds).flatMap((seed) => DEPTHS.flatMap((d) => rules.map((rule) => ({
      id: `resnet${d}-${rule}-s${seed}`, command: 'train' as const, run: `runs/resnet${d}-${rule}-s${seed}`, args: resnetArgs(o, d, rule, seed),
    }))));
  },
  report(results: JobResult[], o: RecipeOptions) {
    const cell = (d: number, rule: string): Stat => stat(variantResults(results, `resnet${d}-${rule}`).map(errorOf));
    const rows = RULES.map((rule) => ({ rule, r20: cell(20, rule), r56: cell(56, rule) }));
    const paper = (d: 'resnet20' | 'resnet56', rule: string) => (BIOTORCH_ERROR[d][rule] !== undefined ? `${BIOTORCH_ERROR[d][rule]}` : '—');
    const table = mdTable(['rule', 'ResNet-20 error % (ours)', 'ResNet-20 (Biotorch)', 'ResNet-56 error % (ours)', 'ResNet-56 (Biotorch)'],
      rows.map((r) => [r.rule, fmtStat(r.r20), paper('resnet20', r.rule), fmtStat(r.r56), paper('resnet56', r.rule)]));
    const verdicts = DEPTHS.flatMap((d) => {
      const key = d === 20 ? 'r20' : 'r56';
      const get = (rule: string) => rows.find((r) => r.rule === rule)![key];
      const lines = ['usf', 'brsf', 'frsf'].flatMap((sf) => ['fa', 'dfa'].map((fa) => ({ claim: `ResNet-${d}: ${sf} has lower error than ${fa}`, verdict: betterVerdict(get(sf), get(fa), 'lower'), why: `${fmtStat(get(sf))} vs ${fmtStat(get(fa))} %` })));
      return [{ claim: `ResNet-${d}: every sign-symmetric rule beats FA and DFA`, verdict: allVerdicts(lines.map((l) => l.verdict)), why: 'the lines below' }, ...lines];
    });
    const svgs = Object.fromEntries(DEPTHS.map((d) => [`resnet${d}.svg`, barChart(rows.map((r) => ({ name: r.rule, stat: d === 20 ? r.r20 : r.r56, paper: BIOTORCH_ERROR[`resnet${d}`][r.rule] })), { title: `ResNet-${d} test error by rule`, yLabel: 'test error %' })]));
    return {
      markdown: [reportHead(BASELINES, results, o), '## Test error', '', table, '', '![ResNet-20](resnet20.svg)', '', '![ResNet-56](resnet56.svg)', '', verdictLines(verdicts)].join('\n'),
      svgs,
      json: { recipe: 'baselines', options: o, rows, paper: BIOTORCH_ERROR, verdicts },
    };
  },
});
