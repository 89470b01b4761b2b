// The results folder of `bionas attack`: results.jsonl (one JSON line per record), table.md
// (robust accuracy with a column per model, then every figure per record), and, for each
// attack run at several eps, an SVG of robust accuracy against eps. Every file is replaced
// atomically, so a killed run leaves complete files (of the records done so far) or none.

import { lineChart, type Series } from '../viz/chart.js';
import type { AttackRecord } from './run.js';

/** What the table's heading states about the protocol. */
export interface ReportContext {
  dataset: string;
  images: number;
  seed: number;
  /** The command line, shown in the heading. */
  command?: string;
}

export interface ReportFiles {
  /** File name -> contents. */
  [name: string]: string;
}

export const jsonLines = (records: AttackRecord[]): string => records.map((r) => JSON.stringify(r) + '\n').join('');

const pct = (v: number | null) => (v === null ? '-' : `${(100 * v).toFixed(1)} %`);
const num = (v: number | null, digits = 2) => (v === null ? '-' : v.toFixed(digits));
const epsText = (r: AttackRecord) => (r.eps255 === null ? 'L0' : `${Number(r.eps255.toFixed(3))}/255`);
/** Markdown cells must not hold a bare '|'. */
const cell = (s: string) => s.replace(/\|/g, '\\|');

/** Rows of the robust-accuracy table: one per (label, eps) in first-seen order. */
function rowKeys(records: AttackRecord[]): { key: string; first: AttackRecord }[] {
  const rows = new Map<string, AttackRecord>();
  for (const r of records) {
    const key = `${r.label}\u0000${r.eps}`;
    if (!rows.has(key)) rows.set(key, r);
  }
  return [...rows.entries()].map(([key, first]) => ({ key, first }));
}

const modelsOf = (records: AttackRecord[]) => [...new Set(records.map((r) => r.model))];

/** A robust-accuracy cell: '12.4 %', or '12.4 % (rule) / 3.1 % (exact)' when both sources ran. */
function robustCell(found: AttackRecord[]): string {
  if (!found.length) return '-';
  if (found.length === 1) return pct(found[0].robustAccuracy) + (found[0].gradient && found[0].kind !== 'black-box' ? ` (${found[0].gradient})` : '');
  return found.map((r) => `${pct(r.robustAccuracy)} (${r.gradient ?? '-'})`).join(' / ');
}

export function markdownTable(records: AttackRecord[], ctx: ReportContext): string {
  const models = modelsOf(records);
  const lines: string[] = [];
  lines.push('# Adversarial evaluation', '');
  lines.push(`${ctx.images} test images of ${ctx.dataset}, chosen by seed ${ctx.seed} (the same for every model); images in [0, 1] with the ` +
    'normalisation inside each model; Linf eps in /255. Robust accuracy counts an image when the model classifies it correctly both ' +
    'clean and attacked; success rate is the share of the initially correct images the attack broke. White-box attacks take input ' +
    'gradients from the model\'s learning rule (rule) or exact backpropagation (exact).', '');
  if (ctx.command) lines.push('```', ctx.command, '```', '');
  lines.push('## Robust accuracy', '');
  const head = ['attack', 'eps', 'settings', ...models];
  lines.push(`| ${head.map(cell).join(' | ')} |`, `|${head.map((_, i) => (i < 3 ? ' --- ' : ' ---: ')).join('|')}|`);
  const cleanOf = (m: string) => records.find((r) => r.model === m)?.cleanAccuracy ?? null;
  lines.push(`| clean | - | - | ${models.map((m) => pct(cleanOf(m))).join(' | ')} |`);
  for (const { first } of rowKeys(records)) {
    const same = records.filter((r) => r.label === first.label && r.eps === first.eps);
    const cells = models.map((m) => robustCell(same.filter((r) => r.model === m)));
    lines.push(`| ${[first.label, epsText(first), first.settings || '-', ...cells].map(cell).join(' | ')} |`);
  }
  lines.push('', '## Every record', '');
  const dhead = ['attack', 'eps', 'gradient', 'model', 'clean', 'robust', 'adv. acc.', 'success', 'mean Linf (/255)', 'mean L2', 'pixels changed', 'queries', 'seconds'];
  lines.push(`| ${dhead.join(' | ')} |`, `|${dhead.map((_, i) => (i < 4 ? ' --- ' : ' ---: ')).join('|')}|`);
  for (const r of records) {
    const cells = [r.label, epsText(r), r.gradient ?? '-', r.model, pct(r.cleanAccuracy), pct(r.robustAccuracy), pct(r.advAccuracy), pct(r.successRate),
      num(r.meanLinf * 255), num(r.meanL2, 3), num(r.meanPixels, 1), num(r.queries, 1), num(r.seconds, 1)];
    lines.push(`| ${cells.map(cell).join(' | ')} |`);
  }
  const sources = [...new Set(records.filter((r) => r.source).map((r) => `${r.label}: adversarials crafted on ${r.source}`))];
  if (sources.length) lines.push('', ...sources.map((s) => `- ${s}`));
  return lines.join('\n') + '\n';
}

/** A file-name-safe form of a row label. */
export const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

/** robust-vs-eps-<label>.svg for every attack setting run at two or more eps values. */
export function epsCharts(records: AttackRecord[]): ReportFiles {
  const files: ReportFiles = {};
  for (const label of [...new Set(records.map((r) => r.label))]) {
    const mine = records.filter((r) => r.label === label && r.eps255 !== null);
    if (new Set(mine.map((r) => r.eps)).size < 2) continue;
    const series: Series[] = [];
    for (const model of modelsOf(mine)) {
      for (const gradient of [...new Set(mine.map((r) => r.gradient))]) {
        const pts = mine.filter((r) => r.model === model && r.gradient === gradient).map((r): [number, number] => [r.eps255!, 100 * r.robustAccuracy]);
        if (pts.length) series.push({ name: gradient ? `${model} (${gradient})` : model, points: pts.sort((a, b) => a[0] - b[0]) });
      }
    }
    files[`robust-vs-eps-${slug(label)}.svg`] = lineChart(series, { title: `${label}: robust accuracy against eps`, xLabel: 'eps (/255)', yLabel: 'robust accuracy (%)', width: 760 });
  }
  return files;
}

/** The file a complete run writes last (an experiment's finished marker). */
export const SUMMARY_FILE = 'summary.json';

/** A model of the run: its table name, checkpoint, description and training progress (from the checkpoint). */
export interface AttackedModel {
  name: string;
  checkpoint: string;
  describe: unknown;
  /** Epochs its training had completed, of the run's `epochs` (fewer: an unfinished training). */
  epoch: number;
  epochs: number;
}

/** summary.json: the protocol, the models and the robust-accuracy figures (results.jsonl has every record). */
export function attackSummary(records: AttackRecord[], ctx: ReportContext, models: AttackedModel[], seconds: number) {
  return {
    dataset: ctx.dataset, images: ctx.images, seed: ctx.seed, command: ctx.command ?? null, seconds, models,
    records: records.length,
    robust: records.map((r) => ({ label: r.label, eps255: r.eps255, gradient: r.gradient, model: r.model, cleanAccuracy: r.cleanAccuracy, robustAccuracy: r.robustAccuracy })),
  };
}

/** Every file of the results folder for these records. */
export function reportFiles(records: AttackRecord[], ctx: ReportContext): ReportFiles {
  return { 'results.jsonl': jsonLines(records), 'table.md': markdownTable(records, ctx), ...epsCharts(records) };
}
