// weights: the weight distributions of a trained mixed-rule network, per layer (cell) and per
// learning rule (the paper's Figures 4-6), beside the same network trained with BP only. Read
// from each run's checkpoint: every conv and linear weight (tensors of rank >= 2); an edge's
// weights take the edge's rule, the stem, preprocessing and classifier are BP.

import { registerRecipe, type JobResult, type RecipeOptions } from '../recipe.js';
import { networkArgs } from '../scale.js';
import { betterVerdict, similarVerdict, fmtStat, mdTable, stat, type Stat, type Verdict } from '../report.js';
import { lineChart } from '../../viz/chart.js';
import { loadCheckpoint } from '../../run/checkpoint.js';
import { CHECKPOINT_FILE } from '../../run/checkpoint.js';
import type { Genotype } from '../../models/genotype.js';
import type { ExperimentJob } from '../job.js';
import { seedList, variantResults, reportHead, verdictLines } from './common.js';
import { join } from 'node:path';

/** Histogram bins over [-range, range] (bionas choice). */
const BINS = 41;
/** Two rules' weight spreads are "alike" within this fraction of their mean std (bionas choice). */
const ALIKE_FRACTION = 0.1;

const variants = [{ name: 'mixed', rules: 'as-found' }, { name: 'bp', rules: 'single:bp' }];

interface Described {
  layers: number;
  genotype: Genotype;
  bodyRule?: string;
}

/** The rule and layer of a checkpoint tensor 'model.cells.3.ops.2.first.depthwise.weight'. */
export function weightOwner(name: string, d: Described): { layer: string; rule: string } {
  const m = /^model\.cells\.(\d+)\.(ops\.(\d+)\.)?/.exec(name);
  const body = d.bodyRule ?? 'bp';
  if (!m) return { layer: name.startsWith('model.stem') ? 'stem' : name.startsWith('model.auxHead') ? 'aux head' : 'classifier', rule: body };
  const cell = Number(m[1]);
  if (m[3] === undefined) return { layer: `cell ${cell}`, rule: body };
  const reduction = [Math.floor(d.layers / 3), Math.floor((2 * d.layers) / 3)].includes(cell);
  const edge = (reduction ? d.genotype.reduce : d.genotype.normal)[Number(m[3])];
  return { layer: `cell ${cell}`, rule: edge.rule };
}

interface RunWeights {
  /** Weights by rule (all layers), and by layer then rule. */
  byRule: Map<string, number[]>;
  byLayer: Map<string, Map<string, number[]>>;
}

async function readWeights(r: JobResult): Promise<RunWeights> {
  const { saved } = await loadCheckpoint(join(r.dir, CHECKPOINT_FILE));
  const d = r.summary!.model as Described;
  const byRule = new Map<string, number[]>(), byLayer = new Map<string, Map<string, number[]>>();
  for (const [name, t] of saved.tensors) {
    if (!name.startsWith('model.') || !name.endsWith('.weight') || t.shape.length < 2 || !(t.data instanceof Float32Array)) continue;
    const { layer, rule } = weightOwner(name, d);
    const values = Array.from(t.data);
    byRule.set(rule, (byRule.get(rule) ?? []).concat(values));
    if (!byLayer.has(layer)) byLayer.set(layer, new Map());
    const l = byLayer.get(layer)!;
    l.set(rule, (l.get(rule) ?? []).concat(values));
  }
  return { byRule, byLayer };
}

const spread = (v: number[]) => stat(v).std;

function histogram(v: number[], range: number): [number, number][] {
  const counts = new Array(BINS).fill(0);
  for (const x of v) counts[Math.min(BINS - 1, Math.max(0, Math.floor(((x + range) / (2 * range)) * BINS)))]++;
  const width = (2 * range) / BINS;
  return counts.map((c, i) => [-range + (i + 0.5) * width, c / (v.length * width)]);
}

function differVerdict(a: Stat, b: Stat): Verdict {
  if (betterVerdict(a, b) === 'holds' || betterVerdict(b, a) === 'holds') return 'holds';
  if (similarVerdict(a, b, ALIKE_FRACTION * (a.mean + b.mean) / 2) === 'holds') return 'does not hold';
  return 'inconclusive at this scale';
}

export const WEIGHTS = registerRecipe({
  name: 'weights',
  help: 'weight distributions per layer and rule of a mixed-rule network, beside BP (Figures 4-6)',
  claim: 'the learning rules leave visibly different weight distributions in the layers they train (Figures 4-6).',
  jobs(o: RecipeOptions): ExperimentJob[] {
    return seedList(o.seeds).flatMap((seed) => variants.map((v) => ({
      id: `${v.name}-s${seed}`, command: 'train' as const, run: `runs/${v.name}-s${seed}`, args: { ...networkArgs(o, seed), rules: v.rules },
    })));
  },
  async report(results: JobResult[], o: RecipeOptions) {
    const mixed = await Promise.all(variantResults(results, 'mixed').map(readWeights));
    const bp = await Promise.all(variantResults(results, 'bp').map(readWeights));
    const rules = [...new Set(mixed.flatMap((w) => [...w.byRule.keys()]))];
    // Per rule: the std of its weights in each seed's network, over seeds.
    const ruleRows = rules.map((rule) => ({ rule, std: stat(mixed.map((w) => spread(w.byRule.get(rule) ?? []))), count: mixed[0]?.byRule.get(rule)?.length ?? 0 }));
    const bpAll = stat(bp.map((w) => spread([...w.byRule.values()].flat())));
    const table = mdTable(['rule (mixed network)', 'weights', 'std of weights (mean ± std over seeds, n)'], [...ruleRows.map((r) => [r.rule, String(r.count), fmtStat(r.std, 4)]), ['(BP-only network, all layers)', '', fmtStat(bpAll, 4)]]);
    const layers = mixed[0] ? [...mixed[0].byLayer.keys()] : [];
    const layerTable = mdTable(['layer', ...rules], layers.map((l) => [l, ...rules.map((rule) => {
      const s = stat(mixed.map((w) => w.byLayer.get(l)?.get(rule)).filter((v): v is number[] => !!v).map(spread));
      return s.n ? s.mean.toFixed(4) : '—';
    })]));
    const pooled = new Map(rules.map((rule) => [rule, mixed.flatMap((w) => w.byRule.get(rule) ?? [])]));
    const all = [...pooled.values()].flat().map(Math.abs).sort((a, b) => a - b);
    const range = all.length ? all[Math.floor(0.995 * (all.length - 1))] || 1 : 1;
    const verdicts = rules.flatMap((a, i) => rules.slice(i + 1).map((b) => {
      const [sa, sb] = [ruleRows[i].std, ruleRows.find((r) => r.rule === b)!.std];
      return { claim: `${a} and ${b} weights differ in spread`, verdict: differVerdict(sa, sb), why: `std ${fmtStat(sa, 4)} vs ${fmtStat(sb, 4)}` };
    }));
    const svgs = {
      'weights_by_rule.svg': lineChart(rules.map((rule) => ({ name: rule, points: histogram(pooled.get(rule)!, range) })), { title: 'weight density by rule (mixed network, all seeds)', xLabel: 'weight', yLabel: 'density' }),
      'std_by_layer.svg': lineChart(rules.map((rule) => ({ name: rule, points: layers.map((l, i) => [i, stat(mixed.map((w) => spread(w.byLayer.get(l)?.get(rule) ?? []))).mean] as [number, number]) })), { title: 'std of weights per layer and rule (0 = stem)', xLabel: 'layer', yLabel: 'std' }),
    };
    return {
      markdown: [reportHead(WEIGHTS, results, o), '## Spread of the weights by rule', '', table, '', '![by rule](weights_by_rule.svg)', '', '## Per layer (std, mean over seeds)', '', layerTable, '', '![per layer](std_by_layer.svg)', '',
        verdictLines(verdicts.length ? verdicts : [{ claim: 'the rules differ', verdict: 'inconclusive at this scale', why: 'fewer than two rules trained' }])].join('\n'),
      svgs,
      json: { recipe: 'weights', options: o, rules: ruleRows, bpNetwork: bpAll, perLayer: layers.map((l) => ({ layer: l, std: Object.fromEntries(rules.map((rule) => [rule, stat(mixed.map((w) => spread(w.byLayer.get(l)?.get(rule) ?? [])))])) })),
        histograms: Object.fromEntries(rules.map((rule) => [rule, histogram(pooled.get(rule)!, range)])), verdicts },
    };
  },
});
