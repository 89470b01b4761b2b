// bionas benchmark nb201: table search strategies on NAS-Bench-201 (docs/BENCHMARK.md). Each
// run searches with a signal (the 12-epoch validation accuracy, or the 200-epoch test accuracy
// as an oracle) under a query budget, and scores the best cell it queried by its 200-epoch test
// accuracy. Writes report.md, curves.svg and runs.jsonl to the run folder.

import { parseFlags, helpText, UsageError, type FlagTable } from './flags.js';
import { defaultRunDir } from './common.js';
import { lineChart } from '../viz/chart.js';
import { getTableStrategy, tableStrategyNames, type TableStrategy } from '../search/strategies/index.js';
import { loadNb201Table, NB201_DATASETS, type Nb201Dataset, type Nb201Signal, type Nb201Table } from '../benchmarks/nb201/table.js';
import { runNb201Search, type Nb201RunResult } from '../search/strategies/run_table.js';

// Published means of the NAS-Bench-201 paper (Dong & Yang 2020, table 5, CIFAR-10 test, a
// 12,000 s simulated-time budget rather than a query count), recalled from memory in
// design/SPEC.md section 7: approximate, for orientation only.
const PUBLISHED_C10: Record<string, number> = { rea: 93.92, random: 93.7 };

const SUMMARY = 'Runs table search strategies on NAS-Bench-201 (15,625 cells, trained by the benchmark): each run\n' +
  'queries cells under a budget, guided by --signal, and is scored by the 200-epoch test accuracy of\n' +
  'the best cell it queried. A cell and the cells isomorphic to it cost one query together.';

function flagTable(): FlagTable {
  const own: FlagTable = {};
  for (const name of tableStrategyNames()) Object.assign(own, getTableStrategy(name).flags ?? {});
  return {
    strategy: { type: 'string', default: 'all', choices: ['all', ...tableStrategyNames()], help: 'the search strategy, or all of them' },
    dataset: { type: 'string', default: 'cifar10', choices: NB201_DATASETS, help: 'whose accuracies (ImageNet16-120 as imagenet16)' },
    queries: { type: 'int', default: 100, min: 1, help: 'query budget of a run: distinct cells up to isomorphism (100 as in predictor papers)' },
    runs: { type: 'int', default: 100, min: 1, max: 100_000, help: 'independent runs per strategy, run r seeded by seed + r' },
    signal: { type: 'string', default: 'valid12', choices: ['valid12', 'test200'], help: "what guides the search: the 12-epoch validation accuracy (the benchmark's protocol) or the 200-epoch test accuracy (an oracle)" },
    seed: { type: 'int', default: 0, min: 0, help: 'seed of the first run' },
    run: { type: 'string', help: 'output folder (default runs/benchmark-nb201-<time>)' },
    ...own,
  };
}

const signalLabel = (s: Nb201Signal) => (s === 'test200' ? '200-epoch test accuracy (oracle)' : '12-epoch validation accuracy');

export async function benchmarkCommand(argv: string[]): Promise<void> {
  // The strategies register on import.
  await import('../search/strategies/index.js');
  const table = flagTable();
  const [bench, ...rest] = argv;
  if (!bench || bench === '--help' || bench === '-h') {
    console.log(helpText('benchmark nb201', SUMMARY, table));
    return;
  }
  if (bench !== 'nb201') throw new UsageError(`bionas benchmark: unknown benchmark '${bench}' (known: nb201)`);
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(helpText('benchmark nb201', SUMMARY, table));
    return;
  }
  const f = parseFlags(rest, table, 'benchmark nb201');
  const strategies: TableStrategy[] = f.strategy === 'all' ? tableStrategyNames().map(getTableStrategy) : [getTableStrategy(f.strategy as string)];
  const nb = await loadNb201Table();
  const dataset = f.dataset as Nb201Dataset, signal = f.signal as Nb201Signal;
  const queries = f.queries as number, runs = f.runs as number, seed = f.seed as number;
  if (queries > nb.classCount) throw new UsageError(`bionas benchmark nb201: --queries ${queries} exceeds the ${nb.classCount} distinct cells (isomorphism classes) of the space`);
  const dir = (f.run as string | undefined) ?? defaultRunDir('benchmark-nb201');
  const fs = await import('node:fs');
  fs.mkdirSync(dir, { recursive: true });
  if (strategies.some((s) => s.usesGpu)) {
    const { initGpu } = await import('../gpu/runtime.js');
    const { deviceLine } = await import('../gpu/device.js');
    console.log(`device: ${deviceLine((await initGpu()).info)}`);
  }

  console.log(`NAS-Bench-201 ${dataset}: ${runs} runs x ${queries} queries per strategy, searching on the ${signalLabel(signal)}, scored by the 200-epoch test accuracy`);
  const rows: StrategyRow[] = [];
  const lines: string[] = [];
  for (const s of strategies) {
    const t0 = performance.now();
    const results: Nb201RunResult[] = [];
    for (let r = 0; r < runs; r++) {
      results.push(await runNb201Search(nb, s, { dataset, signal, queries, seed: seed + r, flags: f }));
      if (process.stdout.isTTY) process.stdout.write(`\r${s.name}: run ${r + 1}/${runs}`);
    }
    const seconds = (performance.now() - t0) / 1000;
    const row = summarise(s, results, seconds);
    rows.push(row);
    for (const res of results) lines.push(JSON.stringify(res));
    if (process.stdout.isTTY) process.stdout.write('\r');
    console.log(`${s.name}: ${runs} runs in ${seconds.toFixed(2)} s, final test accuracy ${row.mean.toFixed(2)} ± ${row.std.toFixed(2)}`);
  }
  const report = reportMarkdown(nb, rows, { dataset, signal, queries, runs, seed });
  fs.writeFileSync(`${dir}/runs.jsonl`, lines.join('\n') + '\n');
  fs.writeFileSync(`${dir}/report.md`, report);
  fs.writeFileSync(`${dir}/curves.svg`, curvesSvg(rows, dataset, signal));
  console.log('\n' + tableMarkdown(nb, rows, dataset, signal, true));
  console.log(`\nwrote ${dir}/report.md, curves.svg, runs.jsonl`);
}

interface StrategyRow {
  strategy: TableStrategy;
  runs: number;
  mean: number;
  std: number;
  seconds: number;
  /** Mean and std of the incumbent's test accuracy after each query. */
  curveMean: number[];
  curveStd: number[];
}

function meanStd(xs: number[]): [number, number] {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return [mean, std];
}

function summarise(strategy: TableStrategy, results: Nb201RunResult[], seconds: number): StrategyRow {
  const [mean, std] = meanStd(results.map((r) => r.best.test200));
  const length = results[0].curve.length;
  const at = Array.from({ length }, (_, q) => meanStd(results.map((r) => r.curve[q])));
  return { strategy, runs: results.length, mean, std, seconds, curveMean: at.map((a) => a[0]), curveStd: at.map((a) => a[1]) };
}

function tableMarkdown(nb: Nb201Table, rows: StrategyRow[], dataset: Nb201Dataset, signal: Nb201Signal, timings: boolean): string {
  const best = nb.optimum(dataset, 'test200');
  const oracle = signal === 'test200' ? ' (oracle signal)' : '';
  const head = `| strategy | runs | queries | final test accuracy${oracle}, mean ± std | ground-truth optimum | published (NB201 paper, C10, approx.) |${timings ? ' time |' : ''}`;
  const lines = [head, `|${'---|'.repeat(timings ? 7 : 6)}`];
  for (const r of rows) {
    const pub = dataset === 'cifar10' && PUBLISHED_C10[r.strategy.name] !== undefined ? `~${PUBLISHED_C10[r.strategy.name].toFixed(2)}` : '—';
    lines.push(`| ${r.strategy.name} (${r.strategy.title}) | ${r.runs} | ${r.curveMean.length} | ${r.mean.toFixed(2)} ± ${r.std.toFixed(2)} | ${best.test200.toFixed(2)} | ${pub} |${timings ? ` ${r.seconds.toFixed(2)} s |` : ''}`);
  }
  return lines.join('\n');
}

function reportMarkdown(nb: Nb201Table, rows: StrategyRow[], o: { dataset: Nb201Dataset; signal: Nb201Signal; queries: number; runs: number; seed: number }): string {
  const best = nb.optimum(o.dataset, 'test200');
  const bySignal = nb.optimum(o.dataset, o.signal);
  return [
    `# NAS-Bench-201 benchmark: ${o.dataset}`,
    '',
    `Each run queries up to ${o.queries} distinct cells (a cell and those isomorphic to it count once), guided by the ` +
      `**${signalLabel(o.signal)}**, and is scored by the 200-epoch test accuracy of the best cell it queried by that signal. ` +
      `${o.runs} runs per strategy, run r seeded by ${o.seed} + r.` +
      (o.signal === 'test200' ? ' **Oracle**: the search sees the very accuracy it is scored by, which the benchmark\'s protocol does not allow.' : ''),
    '',
    tableMarkdown(nb, rows, o.dataset, o.signal, false),
    '',
    `Ground-truth optimum: ${best.test200.toFixed(2)} (${best.arch}, index ${best.index}). The cell best by the ${o.signal} signal, ` +
      `${bySignal.arch}, has a 200-epoch test accuracy of ${bySignal.test200.toFixed(2)}.`,
    '',
    'Published: the NAS-Bench-201 paper\'s means on CIFAR-10 test (REA 93.92, RS 93.70), recalled from memory of its table ' +
      '(approximate), under its own budget of 12,000 s of simulated training time, not a query count: for orientation, not a comparison.',
    '',
    'Curves: curves.svg (the incumbent\'s 200-epoch test accuracy over queries, mean and ± std). One line per run: runs.jsonl.',
    '',
  ].join('\n');
}

function curvesSvg(rows: StrategyRow[], dataset: Nb201Dataset, signal: Nb201Signal): string {
  return lineChart(rows.map((r) => ({
    name: r.strategy.name,
    points: r.curveMean.map((m, q): [number, number] => [q + 1, m]),
    band: r.curveMean.map((m, q): [number, number, number] => [q + 1, m - r.curveStd[q], m + r.curveStd[q]]),
  })), {
    title: `NAS-Bench-201 ${dataset}: best-so-far (by ${signal}${signal === 'test200' ? ', oracle' : ''}), mean ± std`,
    xLabel: 'queries',
    yLabel: '200-epoch test accuracy (%)',
  });
}

