// grad-variance: per-layer gradient variance over training, mixed rules vs each single rule
// (the paper's Figure 3). Each point of a curve is a run trained for that many epochs and then
// probed (`train --grad-variance K`: the variance of each parameter's gradient over K batches).
// The runs use a constant learning rate, so a run of e epochs is exactly the first e epochs of
// a longer one with the same seed: the points of a curve are one training, observed at e.

import { registerRecipe, type JobResult, type RecipeOptions } from '../recipe.js';
import { networkArgs } from '../scale.js';
import { betterVerdict, allVerdicts, fmtStat, mdTable, stat, type Stat } from '../report.js';
import { lineChart } from '../../viz/chart.js';
import type { ExperimentJob } from '../job.js';
import { singleRules, seedList, reportHead, verdictLines } from './common.js';

/** Batches the variance is measured over (bionas choice: enough for a stable estimate, cheap at proxy scale). */
export const VARIANCE_BATCHES = { proxy: 10, paper: 50 };
/** Epochs at which the variance is probed (proxy: a 3-epoch run; paper: along DARTS' 600). */
export const VARIANCE_POINTS = { proxy: [1, 3], paper: [1, 50, 150, 300, 600] };

interface VarianceReport {
  batches: number;
  perTensor: { name: string; size: number; variance: number }[];
  overall: number;
}

const variants = () => [{ name: 'mixed', rules: 'as-found' }, ...singleRules().map((r) => ({ name: r, rules: `single:${r}` }))];
const points = (o: RecipeOptions) => (o.epochs !== undefined ? [...new Set([1, o.epochs])] : VARIANCE_POINTS[o.scale]);

/** The layer of a parameter tensor: stem, cell i, classifier or auxiliary head. */
export function layerOf(name: string): string {
  const cell = /^cells\.(\d+)\./.exec(name);
  if (cell) return `cell ${cell[1]}`;
  if (name.startsWith('stem')) return 'stem';
  if (name.startsWith('auxHead')) return 'aux head';
  return 'classifier';
}

/** Size-weighted mean variance per layer, in network order. */
export function perLayer(r: VarianceReport): [string, number][] {
  const acc = new Map<string, [number, number]>();
  for (const t of r.perTensor) {
    const k = layerOf(t.name);
    const [v, n] = acc.get(k) ?? [0, 0];
    acc.set(k, [v + t.variance * t.size, n + t.size]);
  }
  return [...acc.entries()].map(([k, [v, n]]) => [k, v / n]);
}

export const GRAD_VARIANCE = registerRecipe({
  name: 'grad-variance',
  help: 'per-layer gradient variance over training, mixed vs single rules (Figure 3), as curves',
  claim: 'networks that mix learning rules have lower gradient variance than single-rule ones.',
  jobs(o: RecipeOptions): ExperimentJob[] {
    return seedList(o.seeds).flatMap((seed) => variants().flatMap((v) => points(o).map((e) => ({
      id: `${v.name}-e${e}-s${seed}`, command: 'train' as const, run: `runs/${v.name}-e${e}-s${seed}`,
      args: { ...networkArgs(o, seed), rules: v.rules, epochs: e, schedule: 'constant', 'grad-variance': VARIANCE_BATCHES[o.scale] },
    }))));
  },
  report(results: JobResult[], o: RecipeOptions) {
    const reports = (v: string, e: number) => results.filter((r) => r.summary?.gradientVariance && new RegExp(`^${v}-e${e}-s\\d+$`).test(r.job.id)).map((r) => r.summary!.gradientVariance as VarianceReport);
    const last = points(o)[points(o).length - 1];
    const rows = variants().map((v) => ({ ...v, byEpoch: points(o).map((e) => ({ epoch: e, stat: stat(reports(v.name, e).map((r) => r.overall)) })) }));
    const final = (name: string): Stat => rows.find((r) => r.name === name)!.byEpoch.find((b) => b.epoch === last)!.stat;
    const checks = rows.slice(1).map((r) => ({ claim: `mixed has lower gradient variance than ${r.name} (epoch ${last})`, verdict: betterVerdict(final('mixed'), final(r.name), 'lower'), why: `${fmtStat(final('mixed'), 6)} vs ${fmtStat(final(r.name), 6)}` }));
    const overall = { claim: 'mixed has lower gradient variance than every single rule', verdict: allVerdicts(checks.map((c) => c.verdict)), why: 'the lines below' };
    const fmt = (s: Stat) => (s.n ? `${s.mean.toExponential(3)} ± ${s.std.toExponential(2)} (n=${s.n})` : 'n/a (n=0)');
    const table = mdTable(['rules', ...points(o).map((e) => `epoch ${e}`)], rows.map((r) => [r.rules, ...r.byEpoch.map((b) => fmt(b.stat))]));
    // Per layer at the last point, mean over seeds.
    const layers = rows.map((r) => {
      const per = reports(r.name, last).map(perLayer);
      const names = per[0]?.map(([k]) => k) ?? [];
      return { name: r.name, layers: names.map((k) => ({ layer: k, stat: stat(per.map((p) => p.find(([n]) => n === k)?.[1] ?? NaN)) })) };
    });
    const log10 = (x: number) => (x > 0 ? Math.log10(x) : NaN);
    const svgs = {
      'variance_over_training.svg': lineChart(rows.map((r) => ({ name: r.name, points: r.byEpoch.map((b) => [b.epoch, log10(b.stat.mean)] as [number, number]) })), { title: 'gradient variance over training (mean over seeds)', xLabel: 'epoch', yLabel: 'log10 mean variance' }),
      'variance_per_layer.svg': lineChart(layers.map((l) => ({ name: l.name, points: l.layers.map((x, i) => [i, log10(x.stat.mean)] as [number, number]) })), { title: `gradient variance per layer at epoch ${last} (0 = stem, last = classifier)`, xLabel: 'layer', yLabel: 'log10 mean variance' }),
    };
    const layerTable = mdTable(['layer', ...layers.map((l) => l.name)], (layers[0]?.layers ?? []).map((x, i) => [x.layer, ...layers.map((l) => (l.layers[i] ? l.layers[i].stat.mean.toExponential(3) : 'n/a'))]));
    return {
      markdown: [reportHead(GRAD_VARIANCE, results, o), `Variance of each parameter's gradient over ${VARIANCE_BATCHES[o.scale]} batches, averaged over the parameters (constant learning rate; see the recipe's source).`, '',
        '## Whole network', '', table, '', '![over training](variance_over_training.svg)', '', `## Per layer (epoch ${last})`, '', layerTable, '', '![per layer](variance_per_layer.svg)', '', verdictLines([overall, ...checks])].join('\n'),
      svgs,
      json: { recipe: 'grad-variance', options: o, points: points(o), overall: rows, perLayer: layers, verdicts: [overall, ...checks] },
    };
  },
});
