// `bionas search`: finds a cell in which every edge has an operation and a learning rule, with
// any registered search strategy (--method; src/search/strategies/).

import { deviceLine } from '../gpu/device.js';
import { initGpu } from '../gpu/runtime.js';
import { Generator } from '../ops/random.js';
import { BatchLoader } from '../data/loader.js';
import { split } from '../data/dataset.js';
import { loadSpace, SPACE_PRESETS } from '../search/space.js';
import { buildSupernet } from '../search/supernet.js';
import { runSearch, genotypeStability } from '../search/run.js';
import { describeDerived, derivedNotes, type DerivedResult } from '../search/outputs.js';
import { allStrategies, getStrategy, strategyNames, DARTS_STRATEGY, type SearchConfig, type StrategyPreset } from '../search/strategies/index.js';
import { allSearchCommands } from '../search/strategies/registry.js';
import type { SearchCommand } from '../search/strategies/strategy.js';
// Searches with a command of their own register themselves when imported.
import './mse_nas.js';
import { measureSearchMemory, extrapolateMemory, memoryPerImage } from '../search/memory.js';
import { UsageError, type FlagTable, type FlagValues } from './flags.js';
import { writeTextAtomic } from '../run/state.js';
import { openRunFolder } from '../run/folder.js';
import { DEFAULT_CHECKPOINT_MINUTES, startFresh } from '../run/loop.js';
import { SIGNAL_EXIT_CODES } from '../run/stop.js';
import { fmtTime } from '../run/progress.js';
import { DATA_FLAGS, loadData, defaultRunDir } from './common.js';
import { jobCommandFlags } from './resume.js';

/** Flags a resumed search may change; any other given flag must match the checkpoint's. */
const RESUMABLE = ['epochs', 'log-every', 'checkpoint-minutes', 'train-epochs', 'candidates-per-pass', 'score-memory'];

/** The flags of every method, then each registered strategy's own. */
export function searchFlags(): FlagTable {
  const strategies = allStrategies();
  const commands = allSearchCommands();
  const presets = [...new Set(strategies.flatMap((s) => Object.keys(s.presets)))];
  const table: FlagTable = {
    method: { type: 'string', default: 'darts', choices: [...strategyNames(), ...commands.map((c) => c.name)], help: `search method:\n        ${[...strategies, ...commands].map((s) => s.help).join('\n        ')}` },
    space: { type: 'string', default: 'bionas', help: `search space preset (${Object.keys(SPACE_PRESETS).join(', ')}) or a JSON file of {op, rule} pairs` },
    preset: { type: 'string', default: 'tiny', choices: presets, help: 'supernet/hyper-parameter preset: darts (DARTS paper), bionas (BioNAS paper table), tiny (CPU demo)' },
    ...DATA_FLAGS,
    epochs: { type: 'int', min: 1, help: 'search epochs, warm-up included (default: from --preset)' },
    batch: { type: 'int', min: 1, help: 'batch size of both halves (default: from --preset)' },
    C: { type: 'int', min: 2, help: 'initial channels of the supernet (default: from --preset)' },
    layers: { type: 'int', min: 1, help: 'cells of the supernet (NAS-Bench-201: cells per stage) (default: from --preset)' },
    nodes: { type: 'int', min: 1, help: 'intermediate nodes per DARTS cell (DARTS: 4) (default: from --preset)' },
    lr: { type: 'number', min: 0, help: 'weight learning rate (cosine to --min-lr)' },
    'min-lr': { type: 'number', min: 0, help: 'final weight learning rate' },
    seed: { type: 'int', min: 0, default: 0, help: 'seed of the split, weights, alphas, data order and feedback matrices' },
    run: { type: 'string', help: 'run folder (default: runs/search-<method>-<time>)' },
    resume: { type: 'string', help: 'continue the search in this run folder from its checkpoint (flags left out are taken from it)' },
    'checkpoint-minutes': { type: 'number', min: 0, default: DEFAULT_CHECKPOINT_MINUTES, help: 'also checkpoint inside an epoch every this many minutes (0: at epoch ends and stops only)' },
    memory: { type: 'bool', default: false, help: 'measure the peak GPU memory of one DARTS search step at batch 1, 2, 4, 8 (and --batch up to 32), extrapolate to --batch, and exit' },
    'train-epochs': { type: 'int', min: 0, default: 0, help: 'after the search, train the found network for this many epochs and print its test accuracy' },
    'log-every': { type: 'int', min: 1, help: 'steps between metric read-backs' },
  };
  for (const s of strategies) Object.assign(table, s.flags ?? {});
  return table;
}

/** The common flags over a strategy's preset. */
function applyCommon<C extends SearchConfig>(p: StrategyPreset<C>, f: FlagValues): StrategyPreset<C> {
  const out = { ...p } as Record<string, unknown>;
  const set = (flag: string, key: string, always = true) => {
    if (f[flag] !== undefined && (always || key in out)) out[key] = f[flag];
  };
  set('epochs', 'epochs');
  set('batch', 'batchSize');
  set('log-every', 'logEvery');
  set('C', 'C');
  set('layers', 'layers');
  set('nodes', 'steps');
  set('lr', 'lr', false);
  set('min-lr', 'minLr', false);
  return out as StrategyPreset<C>;
}

/** The --method value of a command line, if given. */
function methodOf(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--method') return argv[i + 1];
    if (argv[i].startsWith('--method=')) return argv[i].slice('--method='.length);
  }
  return undefined;
}

/** The search command a command line belongs to (--method NAME, or --resume of a run of its kind), if any. */
async function ownCommand(argv: string[]): Promise<SearchCommand | undefined> {
  const commands = allSearchCommands();
  const method = methodOf(argv);
  if (method !== undefined) return commands.find((c) => c.name === method);
  const i = argv.findIndex((a) => a === '--resume' || a.startsWith('--resume='));
  if (i < 0) return undefined;
  const dir = argv[i].includes('=') ? argv[i].slice('--resume='.length) : argv[i + 1];
  const { readCheckpointMeta, CHECKPOINT_FILE } = await import('../run/checkpoint.js');
  const meta = dir ? await readCheckpointMeta(`${dir}/${CHECKPOINT_FILE}`).catch(() => null) : null;
  return commands.find((c) => c.checkpointKind === meta?.kind);
}

export async function searchCommand(argv: string[]): Promise<void> {
  const own = await ownCommand(argv);
  if (own) return own.run(argv);
  const summary = 'Searches a DARTS cell (or a NAS-Bench-201 cell) whose every edge is an (operation, learning rule) pair.\n' +
    'Writes genotype.json, metrics.jsonl, alphas.jsonl, SVG drawings of the cells and of softmax(alpha) over epochs, and\n' +
    'checkpoints to the run folder. The data\'s training set is split 50/50 into weight and architecture halves.';
  const table = searchFlags();
  const flags = await jobCommandFlags(argv, 'search', 'search', summary, table, RESUMABLE);
  if (!flags) return;
  const { f, given } = flags;
  const strategy = getStrategy(f.method as string);
  for (const other of allStrategies()) {
    for (const name of Object.keys(other.flags ?? {})) {
      if (given.has(name) && !(name in (strategy.flags ?? {}))) throw new UsageError(`bionas search: --${name} is a flag of --method ${other.name}, not of --method ${strategy.name}`);
    }
  }
  const preset = strategy.presets[f.preset as string];
  if (!preset) throw new UsageError(`bionas search: --method ${strategy.name} has no preset '${f.preset}' (it has ${Object.keys(strategy.presets).join(', ')})`);
  const p = applyCommon(preset, f);
  const seed = f.seed as number;
  const config = strategy.configure(p, f, seed);
  if (f.memory) {
    const d = DARTS_STRATEGY.configure(applyCommon(DARTS_STRATEGY.presets[f.preset as string], f), f, seed);
    return memoryTable(f, d, p.C, p.layers, p.steps);
  }
  const runDir = (f.resume as string | undefined) ?? (f.run as string | undefined) ?? defaultRunDir(`search-${strategy.name}`);
  const resume = f.resume !== undefined;
  // The folder first: a path that cannot be made, a folder in use or one holding another run fail before the GPU starts.
  const folder = await openRunFolder(runDir);
  let derived: DerivedResult;
  try {
    if (!resume) await startFresh(folder, console.log);
    applyImageSize(f);
    const { model, loaders, gen, describe, header } = await prepare(f, p.C, p.layers, config.batchSize, p.steps);
    console.log(`${strategy.title}: ${header}; ${strategy.describe(config)}; run folder ${runDir}`);
    const result = await runSearch(strategy, model, loaders, config, {
      folder, resume, gen, describe: { ...describe, method: strategy.name }, checkpointMinutes: f['checkpoint-minutes'] as number,
      invocation: { command: 'search', flags: f }, resumeHint: `bionas search --resume ${runDir}`,
    });
    model.dispose();
    if (result.stopped) {
      if (result.signal) process.exitCode = SIGNAL_EXIT_CODES[result.signal];
      return;
    }
    derived = result.derived;
    console.log(`\nsearch done in ${fmtTime(result.seconds)}${result.summaryLine ? `; ${result.summaryLine}` : ''}`);
    console.log(`genotype: ${describeDerived(derived)}`);
    const notes = derivedNotes(model.space, derived);
    for (const note of notes) console.log(`note: ${note}`);
    const stability = genotypeStability(result.history);
    console.log(stability);
    console.log(`written: ${runDir}/genotype.json, metrics.jsonl, alphas.jsonl, ${(strategy.streams ?? []).map((s) => `${s}.jsonl, `).join('')}SVG drawings, checkpoint.bin`);
    // A NAS-Bench-201 cell: what the benchmark measured for it (the table ships with bionas).
    const nb201 = derived.nb201 ? await import('../benchmarks/nb201/table.js').then((m) => m.lookupNb201(derived.nb201!.arch)).catch((e: Error) => ({ error: e.message })) : undefined;
    if (nb201) {
      console.log('error' in nb201 ? `NAS-Bench-201 lookup failed: ${nb201.error}` :
        `NAS-Bench-201 (200-epoch test accuracy of this cell, index ${nb201.index}): ${Object.entries(nb201.test200).map(([d, a]) => `${d} ${a.toFixed(2)}`).join(', ')}`);
    }
    const fs = await import('node:fs');
    writeTextAtomic(fs, `${runDir}/summary.json`, JSON.stringify({
      method: strategy.name, config, describe, seconds: result.seconds, ...result.summary, stability, notes, history: result.history, result: derived,
      ...(nb201 ? { nb201 } : {}),
    }, null, 1));
  } finally {
    folder.release();
  }
  await trainFound(f, runDir, derived, p.C, p.layers, config.batchSize);
}

/** `--memory`: the peak of a search step per batch size, then exit without running the steps. */
async function memoryTable(f: FlagValues, config: Parameters<typeof measureSearchMemory>[1], C: number, layers: number, steps: number): Promise<void> {
  applyImageSize(f);
  const { model, header, image } = await prepare(f, C, layers, config.batchSize, steps);
  console.log(`memory of one search step: ${header}`);
  const batches = [...new Set([1, 2, 4, 8, ...(config.batchSize <= 32 ? [config.batchSize] : [])])].sort((a, b) => a - b);
  const points = measureSearchMemory(model, config, batches, image);
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  for (const p of points) console.log(`  batch ${String(p.batch).padStart(4)}: ${mib(p.bytes)}`);
  const at = extrapolateMemory(points, config.batchSize);
  const budget = 16 * 2 ** 30;
  const { perImage, largest: q } = memoryPerImage(points);
  const largest = Math.floor(q.batch + (budget - q.bytes) / perImage);
  console.log(`at the preset's batch ${at.batch}: ${mib(at.bytes)}${at.measured ? '' : ' (extrapolated linearly from the two largest)'}; ` +
    `${at.bytes <= budget ? 'fits' : `does not fit; batch ${largest} would`} in 16 GiB (${mib(perImage)} per image)`);
  // The encoded steps are still running on the adapter; nothing of them is needed.
  process.exit(0);
}

/** The data halves, loaders and supernet that every method searches. */
async function prepare(f: FlagValues, C: number, layers: number, batchSize: number, steps: number) {
  const seed = f.seed as number;
  const rt = await initGpu();
  console.log(`device: ${deviceLine(rt.info)}`);
  const space = await loadSpace(f.space as string);
  const { train: all } = await loadData(f, seed);
  const [weightsHalf, archHalf] = split(all, Math.floor(all.count / 2), seed);
  const gen = new Generator(seed);
  const model = buildSupernet(space, { C, layers, steps, numClasses: all.numClasses, inChannels: all.channels, gen });
  const augment = { cropPadding: Math.round(all.height / 8), flip: true };
  const loaders = {
    train: new BatchLoader(weightsHalf, { batchSize, shuffle: true, seed, dropLast: true, augment }),
    valid: new BatchLoader(archHalf, { batchSize, shuffle: true, seed: seed + 1, dropLast: true, augment }),
  };
  const describe = { space: space.name, pairs: space.pairs, C, layers, steps, dataset: all.name, numClasses: all.numClasses };
  const header = `${space.name} space (${space.pairs.length} pairs${space.cell === 'nb201' ? ', NAS-Bench-201 cell' : ''}), supernet C=${C} ${layers} ` +
    `${space.cell === 'nb201' ? 'cells per stage' : `cells of ${steps} nodes`}, ${(model.parameterCount() / 1e6).toFixed(3)}M parameters; ${weightsHalf.count} + ${archHalf.count} images (${all.name})`;
  const image = { channels: all.channels, size: all.height, classes: all.numClasses };
  return { space, model, loaders, gen, describe, header, image };
}

/** The tiny preset searches 16x16 synthetic images unless --image-size says otherwise. */
function applyImageSize(f: FlagValues): void {
  if (f['image-size'] === undefined && f.preset === 'tiny') f['image-size'] = 16;
}

async function trainFound(f: FlagValues, runDir: string, derived: DerivedResult, C: number, layers: number, batchSize: number): Promise<void> {
  const seed = f.seed as number;
  const trainEpochs = f['train-epochs'] as number;
  if (trainEpochs > 0) {
    const { trainCommand } = await import('./train.js');
    const args = ['--epochs', String(trainEpochs), '--dataset', f.dataset as string, '--seed', String(seed), '--run', `${runDir}/train`, '--preset', 'quick',
      '--C', String(Math.max(8, C * 2)), '--layers', String(Math.max(3, layers)), '--batch', String(batchSize)];
    if (f.data) args.push('--data', f.data as string);
    if (f['train-size']) args.push('--train-size', String(f['train-size']));
    if (f['test-size']) args.push('--test-size', String(f['test-size']));
    if (f.dataset === 'synthetic') args.push('--synthetic-size', String(f['synthetic-size']), '--image-size', String(f['image-size'] ?? 32));
    if (derived.nb201) args.push('--arch', derived.nb201.arch);
    else args.push('--genotype', `${runDir}/genotype.json`);
    console.log(`\ntraining the found network: bionas train ${args.join(' ')}`);
    await trainCommand(args);
  }
}
