// What every recipe's report is made of: mean ± std over seeds with n, a verdict per claim
// decided from the numbers, tables with the paper's number beside ours, and a bar chart.
//
// The verdict rule (bionas choice, the same for every claim): two means differ when their
// difference is more than VERDICT_STANDARD_ERRORS standard errors of the difference,
// se = sqrt(sa²/na + sb²/nb) (about a 95 % two-sided test for normal errors). A claim that one
// is better "holds" when it is better by that margin, "does not hold" when the other is better
// by it, else it is "inconclusive at this scale"; with fewer than 2 seeds on either side there
// is no standard error, so the verdict is always inconclusive. A claim that two are alike holds
// when the whole ±2 se interval of the difference lies inside the tolerance, does not hold when
// the whole interval lies outside it, else inconclusive.

import { escapeXml } from '../viz/chart.js';

export const VERDICT_STANDARD_ERRORS = 2;

export type Verdict = 'holds' | 'does not hold' | 'inconclusive at this scale';

export interface Stat {
  mean: number;
  /** Sample standard deviation (n - 1); 0 when n = 1. */
  std: number;
  n: number;
}

export function stat(values: number[]): Stat {
  const v = values.filter(Number.isFinite);
  const n = v.length;
  if (!n) return { mean: NaN, std: NaN, n: 0 };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

/** Standard error of the difference of two means; NaN when either has fewer than 2 values. */
export function diffStandardError(a: Stat, b: Stat): number {
  if (a.n < 2 || b.n < 2) return NaN;
  return Math.sqrt(a.std ** 2 / a.n + b.std ** 2 / b.n);
}

/** Whether `a` is better than `b` ('higher' or 'lower' is better), by the rule in the header. */
export function betterVerdict(a: Stat, b: Stat, better: 'higher' | 'lower' = 'higher'): Verdict {
  const se = diffStandardError(a, b);
  if (!Number.isFinite(se)) return 'inconclusive at this scale';
  const d = better === 'higher' ? a.mean - b.mean : b.mean - a.mean;
  const margin = VERDICT_STANDARD_ERRORS * se;
  // Equal constant values (se 0) are not a difference.
  if (d > margin && d > 0) return 'holds';
  if (d < -margin && d < 0) return 'does not hold';
  return 'inconclusive at this scale';
}

/** Whether `a` and `b` differ by at most `tolerance`, by the rule in the header. */
export function similarVerdict(a: Stat, b: Stat, tolerance: number): Verdict {
  const se = diffStandardError(a, b);
  if (!Number.isFinite(se)) return 'inconclusive at this scale';
  const d = Math.abs(a.mean - b.mean), margin = VERDICT_STANDARD_ERRORS * se;
  if (d + margin <= tolerance) return 'holds';
  if (d - margin > tolerance) return 'does not hold';
  return 'inconclusive at this scale';
}

/** All hold: holds; any does not hold: does not hold; else inconclusive. */
export function allVerdicts(vs: Verdict[]): Verdict {
  if (vs.length && vs.every((v) => v === 'holds')) return 'holds';
  if (vs.includes('does not hold')) return 'does not hold';
  return 'inconclusive at this scale';
}

/** '94.12 ± 0.30 (n=3)'; digits after the point as given. */
export function fmtStat(s: Stat, digits = 2): string {
  if (!s.n) return 'n/a (n=0)';
  return `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)} (n=${s.n})`;
}

/** A markdown table; cells are written as given. */
export function mdTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export interface Bar {
  name: string;
  stat: Stat;
  /** The paper's value, drawn as a marker beside ours. */
  paper?: number;
}

/** Bars of means with ±std whiskers, and the paper's value as a dash where given. */
export function barChart(bars: Bar[], o: { title: string; yLabel: string; width?: number; height?: number }): string {
  const W = o.width ?? Math.max(360, 70 * bars.length + 120), H = o.height ?? 360;
  const m = { left: 64, right: 20, top: 36, bottom: 90 };
  const tops = bars.flatMap((b) => [b.stat.mean + (b.stat.std || 0), b.paper ?? -Infinity]).filter(Number.isFinite);
  const lows = bars.flatMap((b) => [b.stat.mean - (b.stat.std || 0), b.paper ?? Infinity]).filter(Number.isFinite);
  const y1 = Math.max(...tops, 0), y0 = Math.min(...lows, 0);
  const span = y1 - y0 || 1;
  const py = (y: number) => H - m.bottom - ((y - y0) / span) * (H - m.top - m.bottom);
  const slot = (W - m.left - m.right) / Math.max(1, bars.length);
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(o.title)}</text>`,
    `<text transform="translate(16 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(o.yLabel)}</text>`,
    `<line x1="${m.left}" x2="${W - m.right}" y1="${py(0)}" y2="${py(0)}" stroke="#333"/>`];
  for (const t of [y0, (y0 + y1) / 2, y1]) out.push(`<text x="${m.left - 6}" y="${py(t) + 4}" text-anchor="end">${Number(t.toPrecision(3))}</text>`);
  bars.forEach((b, i) => {
    const cx = m.left + slot * (i + 0.5), w = slot * 0.5;
    if (Number.isFinite(b.stat.mean)) {
      const top = py(Math.max(b.stat.mean, 0)), bottom = py(Math.min(b.stat.mean, 0));
      out.push(`<rect x="${(cx - w / 2).toFixed(1)}" y="${top.toFixed(1)}" width="${w.toFixed(1)}" height="${(bottom - top).toFixed(1)}" fill="#1f77b4" fill-opacity="0.7"/>`);
      if (b.stat.n > 1) {
        const [lo, hi] = [py(b.stat.mean - b.stat.std), py(b.stat.mean + b.stat.std)];
        out.push(`<line x1="${cx}" x2="${cx}" y1="${lo.toFixed(1)}" y2="${hi.toFixed(1)}" stroke="#333"/>`);
      }
    }
    if (b.paper !== undefined) out.push(`<line x1="${(cx - w / 2 - 4).toFixed(1)}" x2="${(cx + w / 2 + 4).toFixed(1)}" y1="${py(b.paper).toFixed(1)}" y2="${py(b.paper).toFixed(1)}" stroke="#d62728" stroke-width="2" stroke-dasharray="4 2"/>`);
    out.push(`<text transform="translate(${cx} ${H - m.bottom + 12}) rotate(30)" text-anchor="start">${escapeXml(b.name)}</text>`);
  });
  if (bars.some((b) => b.paper !== undefined)) out.push(`<text x="${W - m.right}" y="${m.top - 4}" text-anchor="end" fill="#d62728">dashed: the paper</text>`);
  out.push('</svg>');
  return out.join('\n');
}
