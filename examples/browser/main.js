// A tiny BioNAS-DARTS search in the browser, on the bundle built by `node build.mjs`.
// Served by `npm run browser-demo` (scripts/serve.mjs); ?auto starts it at once and ?report
// POSTs the result to /report (test/browser.test.ts).
import * as bionas from '../../dist/bionas.browser.mjs';

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
const log = (line) => { $('log').textContent += line + '\n'; };

// Five pairs keep a search to seconds; 'bionas' is the paper's 22 (operation, rule) pairs.
const SMALL = [
  { op: 'none' }, { op: 'max_pool_3x3' }, { op: 'skip_connect', rule: 'usf' },
  { op: 'sep_conv_3x3', rule: 'frsf' }, { op: 'dil_conv_3x3', rule: 'fa' },
];

let controller = null;

async function search() {
  $('start').disabled = true;
  $('stop').disabled = false;
  $('svgs').innerHTML = '';
  controller = new AbortController();
  const rt = await bionas.initGpu({ featureLevel: query.get('level') ?? undefined });
  const info = rt.info;
  log(`adapter: ${info.vendor || '?'} ${info.architecture || ''} ${info.description || ''} (${info.featureLevel} feature level)`);

  const seed = Number(query.get('seed') ?? 1);
  const space = $('space').value === 'bionas' ? bionas.SPACE_PRESETS.bionas : bionas.parseSpace(SMALL, 'small space');
  const gen = new bionas.Generator(seed);
  const model = new bionas.DartsSupernet(space, { C: 4, layers: 3, steps: 2, numClasses: 3, gen });
  // One task, split in half: DARTS fits the weights on one half and the alphas on the other.
  const halves = bionas.splitDataset(bionas.syntheticDataset({ count: 192, classes: 3, size: 16, seed }), 96, seed);
  const loader = (half) => new bionas.BatchLoader(halves[half], { batchSize: 16, shuffle: true, seed: seed + half, dropLast: true });
  const config = { ...bionas.DARTS_SEARCH, epochs: Number($('epochs').value), batchSize: 16, logEvery: 2, seed, secondOrder: false };
  log(`searching: ${space.pairs.length} pairs per edge, ${config.epochs} epochs`);

  const result = await bionas.runDartsSearch(model, { train: loader(0), valid: loader(1) }, config, { gen, log, signal: controller.signal });
  const g = result.derived.genotype;
  const names = space.pairs.map((p) => `${p.op} / ${p.rule}`);
  const figures = [
    bionas.cellSvg('normal cell', g.normal, g.normal_concat),
    bionas.cellSvg('reduction cell', g.reduce, g.reduce_concat),
  ];
  for (const cell of ['normal', 'reduce']) {
    const history = result.alphas.map((s) => s.weights[cell]);
    figures.push(bionas.alphaHeatmapSvg(`softmax(alpha), ${cell} cell`, history.map((w) => w.flat()), history[0].length, names));
  }
  for (const svg of figures) $('svgs').insertAdjacentHTML('beforeend', svg);
  log(result.stopped ? 'stopped' : `done in ${result.seconds.toFixed(1)} s`);
  model.dispose();
  $('start').disabled = false;
  $('stop').disabled = true;
  return { genotype: g, stopped: result.stopped, epochs: result.history.length, figures, log: $('log').textContent };
}

$('stop').onclick = () => controller?.abort();
$('start').onclick = () => search().catch((e) => log(`error: ${e.stack ?? e}`));

if (query.has('auto')) {
  search()
    .catch((e) => ({ error: String(e.stack ?? e) }))
    .then((r) => query.has('report') && fetch('/report', { method: 'POST', body: JSON.stringify(r) }));
}
