// Small SVG scatter charts: a Pareto front per generation, a fitness against accuracy. Groups
// of points, each its own colour and opacity; optional small multiples side by side (grid).

import { escapeXml } from './chart.js';

export interface PointGroup {
  name: string;
  points: [number, number][];
  color: string;
  /** Fill opacity of the dots (default 0.8). */
  opacity?: number;
  /** Dot radius (default 3.5). */
  radius?: number;
  /** List it in the legend (default true). */
  legend?: boolean;
  /** Join the points in x order with a line (a front). */
  line?: boolean;
}

export interface ScatterOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
}

function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? step0;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) out.push(Number(t.toPrecision(6)));
  return out;
}

/** A scatter chart; non-finite points are left out. */
export function scatterChart(groups: PointGroup[], o: ScatterOptions): string {
  const W = o.width ?? 640, H = o.height ?? 400;
  const legendW = groups.some((g) => g.legend !== false) ? 140 : 10;
  const m = { left: 70, right: legendW, top: 36, bottom: 48 };
  const all = groups.flatMap((g) => g.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  let [x0, x1] = all.length ? [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))] : [0, 1];
  let [y0, y1] = all.length ? [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))] : [0, 1];
  const pad = (a: number, b: number): [number, number] => (a === b ? [a - 1, b + 1] : [a - 0.05 * (b - a), b + 0.05 * (b - a)]);
  [x0, x1] = pad(x0, x1);
  [y0, y1] = pad(y0, y1);
  const px = (x: number) => m.left + ((x - x0) / (x1 - x0)) * (W - m.left - m.right);
  const py = (y: number) => H - m.bottom - ((y - y0) / (y1 - y0)) * (H - m.top - m.bottom);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(o.title)}</text>`);
  for (const t of ticks(y0, y1)) {
    parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${m.left - 6}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end">${t}</text>`);
  }
  for (const t of ticks(x0, x1)) parts.push(`<text x="${px(t).toFixed(1)}" y="${H - m.bottom + 16}" text-anchor="middle">${t}</text>`);
  parts.push(`<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${H - m.bottom}" stroke="#333"/>`);
  parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${H - m.bottom}" y2="${H - m.bottom}" stroke="#333"/>`);
  parts.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 10}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(o.yLabel)}</text>`);
  let legendRow = 0;
  for (const g of groups) {
    const pts = g.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (g.line && pts.length > 1) {
      const sorted = [...pts].sort((a, b) => a[0] - b[0]);
      parts.push(`<polyline fill="none" stroke="${g.color}" stroke-opacity="${g.opacity ?? 0.8}" points="${sorted.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`);
    }
    for (const [x, y] of pts) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="${g.radius ?? 3.5}" fill="${g.color}" fill-opacity="${g.opacity ?? 0.8}"/>`);
    if (g.legend !== false) {
      const ly = m.top + 16 * legendRow++;
      parts.push(`<circle cx="${W - m.right + 16}" cy="${ly}" r="4" fill="${g.color}" fill-opacity="${g.opacity ?? 0.8}"/>`);
      parts.push(`<text x="${W - m.right + 26}" y="${ly + 4}">${escapeXml(g.name)}</text>`);
    }
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/** Charts (each an <svg> of the same size) in a grid of `columns`, as one SVG. */
export function chartGrid(charts: string[], columns: number, width: number, height: number): string {
  const rows = Math.ceil(charts.length / columns);
  const W = width * Math.min(columns, charts.length), H = height * rows;
  const inner = charts.map((c, i) => c.replace('<svg ', `<svg x="${(i % columns) * width}" y="${Math.floor(i / columns) * height}" `));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">\n${inner.join('\n')}\n</svg>`;
}

/** A colour from light grey-blue (t = 0) to dark blue (t = 1): generations in order. */
export function rampColor(t: number): string {
  const c = (a: number, b: number) => Math.round(a + (b - a) * Math.min(1, Math.max(0, t)));
  return `rgb(${c(200, 8)},${c(215, 48)},${c(235, 107)})`;
}
