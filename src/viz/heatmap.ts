// SVG heat maps of softmax(alpha) over epochs: one panel per edge, pairs down, epochs across.

import { escapeXml } from './chart.js';

/** history[epoch] = softmax rows [edges x pairs] of one cell type. */
export function alphaHeatmapSvg(title: string, history: ArrayLike<number>[], edges: number, pairNames: string[]): string {
  const P = pairNames.length;
  const epochs = Math.max(1, history.length);
  const cell = Math.max(4, Math.min(24, Math.floor(300 / epochs)));
  const rowH = 10;
  const panelW = epochs * cell, panelH = P * rowH;
  const cols = Math.min(edges, 5);
  const rows = Math.ceil(edges / cols);
  const labelW = 130;
  const gap = Math.max(16, 44 - panelW);
  const W = Math.max(560, labelW + cols * (panelW + gap) + 10), H = 56 + rows * (panelH + 30) + 20;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="9">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${escapeXml(title)}</text>`,
    `<text x="${W / 2}" y="34" text-anchor="middle" fill="#555">one panel per edge: pairs down, epochs across (${history.length}); darker = larger weight, scaled per edge</text>`,
  ];
  for (let r = 0; r < rows; r++) {
    const y0 = 56 + r * (panelH + 30);
    pairNames.forEach((name, k) => parts.push(`<text x="${labelW - 4}" y="${y0 + k * rowH + rowH - 2}" text-anchor="end">${escapeXml(name)}</text>`));
  }
  for (let e = 0; e < edges; e++) {
    const x0 = labelW + (e % cols) * (panelW + gap);
    const y0 = 56 + Math.floor(e / cols) * (panelH + 30);
    parts.push(`<text x="${x0 + panelW / 2}" y="${y0 - 4}" text-anchor="middle">${e}</text>`);
    // Normalise colour per edge so that near-uniform early weights still show their order.
    let lo = Infinity, hi = -Infinity;
    for (const h of history) for (let k = 0; k < P; k++) { lo = Math.min(lo, h[e * P + k]); hi = Math.max(hi, h[e * P + k]); }
    history.forEach((h, t) => {
      for (let k = 0; k < P; k++) {
        const v = hi > lo ? (h[e * P + k] - lo) / (hi - lo) : 0.5;
        const shade = Math.round(255 - 215 * v);
        parts.push(`<rect x="${x0 + t * cell}" y="${y0 + k * rowH}" width="${cell}" height="${rowH}" fill="rgb(${shade},${shade},255)"><title>${escapeXml(pairNames[k])} epoch ${t + 1}: ${h[e * P + k].toFixed(4)}</title></rect>`);
      }
    });
    parts.push(`<rect x="${x0}" y="${y0}" width="${panelW}" height="${panelH}" fill="none" stroke="#999"/>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}
