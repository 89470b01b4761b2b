// SVG drawing of a cell: inputs c_{k-2}, c_{k-1} on the left, intermediate nodes in the
// middle, the concatenated output on the right; every edge labelled with its op and rule.

import { escapeXml } from './chart.js';
import type { GenotypeEdge } from '../models/genotype.js';

const RULE_COLORS: Record<string, string> = { bp: '#555', fa: '#d62728', dfa: '#9467bd', usf: '#1f77b4', brsf: '#2ca02c', frsf: '#ff7f0e' };

export function cellSvg(title: string, edges: GenotypeEdge[], concat: number[]): string {
  const steps = edges.length / 2;
  const W = 260 + steps * 170, H = 120 + steps * 70;
  const pos: [number, number][] = [[60, H / 2 - 70], [60, H / 2 + 70]];
  for (let i = 0; i < steps; i++) pos.push([220 + i * 170, 90 + ((i % 2) * 2 - 1) * 35 + (H - 180) * (i / Math.max(1, steps - 1))]);
  const out: [number, number] = [W - 60, H / 2];
  const names = ['c_{k-2}', 'c_{k-1}', ...Array.from({ length: steps }, (_, i) => String(i))];
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
  ];
  edges.forEach((e, k) => {
    const [x1, y1] = pos[e.input];
    const [x2, y2] = pos[2 + Math.floor(k / 2)];
    const bend = (k % 2 ? 1 : -1) * 18;
    const mx = (x1 + x2) / 2, my = (y1 + y2) / 2 + bend;
    const color = RULE_COLORS[e.rule] ?? '#555';
    parts.push(`<path d="M${x1 + 28},${y1} Q${mx},${my} ${x2 - 28},${y2}" fill="none" stroke="${color}" stroke-width="1.6" marker-end="url(#arrow)"/>`);
    const label = e.rule === 'bp' ? e.op : `${e.op} (${e.rule})`;
    // The label sits on the curve's midpoint, with a white halo so crossing edges stay readable.
    const lx = (x1 + 28 + 2 * mx + x2 - 28) / 4, ly = (y1 + 2 * my + y2) / 4;
    parts.push(`<text x="${lx}" y="${ly + 4}" text-anchor="middle" fill="${color}" stroke="white" stroke-width="3" paint-order="stroke">${escapeXml(label)}</text>`);
  });
  for (const s of concat) {
    const [x, y] = pos[s];
    parts.push(`<path d="M${x + 28},${y} L${out[0] - 34},${out[1]}" fill="none" stroke="#bbb" stroke-dasharray="4 3" marker-end="url(#arrow)"/>`);
  }
  pos.forEach(([x, y], i) => {
    const fill = i < 2 ? '#cde' : '#eee';
    parts.push(`<rect x="${x - 28}" y="${y - 14}" width="56" height="28" rx="6" fill="${fill}" stroke="#333"/>`);
    parts.push(`<text x="${x}" y="${y + 4}" text-anchor="middle">${names[i]}</text>`);
  });
  parts.push(`<rect x="${out[0] - 34}" y="${out[1] - 14}" width="68" height="28" rx="6" fill="#ded" stroke="#333"/>`);
  parts.push(`<text x="${out[0]}" y="${out[1] + 4}" text-anchor="middle">c_{k}</text>`);
  const legend = Object.entries(RULE_COLORS).map(([r, c], i) => `<text x="${10 + i * 52}" y="${H - 8}" fill="${c}">${r}</text>`);
  parts.push(...legend, '</svg>');
  return parts.join('\n');
}
