// A search strategy: how the architecture of a supernet is searched, epoch by epoch. The
// strategy says what an epoch is (its phases and steps: DARTS one phase of bi-level steps,
// EG "evolve the alphas, then train the weights"), keeps its own state (optimizers, CMA-ES,
// partial sums) and writes its part of each epoch's record; src/search/run.ts wraps it in a
// run-loop job that adds, for every strategy alike, the supernet's tensors and generator in
// checkpoints, the genotype and alphas of every epoch (alphas.jsonl, metrics.jsonl),
// genotype.json and the drawings, progress, stop, atomic checkpoints and resume.
// Strategies register themselves (./registry.ts); `bionas search --method` lists the registry.

import type { Generator } from '../../ops/random.js';
import type { BatchLoader } from '../../data/loader.js';
import type { SavedState } from '../../run/state.js';
import type { Job, JobState, Position, RunContext } from '../../run/job.js';
import type { FlagTable, FlagValues } from '../../options.js';
import type { TableOracle } from '../../benchmarks/oracle.js';

export type { TableOracle };
import type { Supernet } from '../supernet.js';

/** The two halves a search reads: weights are trained on `train`, the architecture judged on `valid`. */
export interface SearchData {
  train: BatchLoader;
  valid: BatchLoader;
}

/** What every strategy's config has (the CLI's common flags set these). */
export interface SearchConfig {
  epochs: number;
  batchSize: number;
  seed: number;
  /** Steps between metric read-backs. */
  logEvery: number;
}

/** The supernet a preset builds: initial channels, cells, intermediate nodes per cell. */
export interface SupernetShape {
  C: number;
  layers: number;
  steps: number;
}

/** A preset: a strategy's config (seed aside) and the supernet it searches. */
export type StrategyPreset<C extends SearchConfig> = Omit<C, 'seed'> & SupernetShape;

export interface StrategyContext<C extends SearchConfig> {
  model: Supernet;
  data: SearchData;
  config: C;
  /** The supernet's generator (brSF redraws, data noise): checkpointed by the search. */
  gen: Generator;
  log: (line: string) => void;
}

/**
 * A running search: the strategy-specific part of a run-loop job (see Job in src/run/job.ts for
 * what each method is called for). The strategy must keep the supernet's alphas current: the
 * genotype of each epoch is derived from them.
 */
export interface SearchMethod extends Pick<Job, 'phases' | 'beginPhase' | 'step' | 'metrics' | 'endPhase'> {
  /** The strategy's fields of epoch `epoch`'s record (losses, lr ...); logs its epoch line. A record with phase 'warmup' is a warm-up epoch. */
  endEpoch(epoch: number, ctx: RunContext): Promise<Record<string, unknown>>;
  /** Its state besides the supernet's tensors and generator (which the search saves itself). */
  state(at: Position): Promise<JobState>;
  restore(saved: SavedState, meta: Record<string, unknown>, at: Position): void;
  /** Fields for the result and summary.json (e.g. peak memory), and a clause for the closing line. */
  summary?(history: <T>(stream: string) => T[]): { fields: Record<string, unknown>; line: string };
  close(): void;
}

export interface SearchStrategy<C extends SearchConfig = SearchConfig> {
  /** The --method value. */
  readonly name: string;
  /** The method's name in messages, e.g. 'BioNAS-DARTS'. */
  readonly title: string;
  /** One line for --method's help. */
  readonly help: string;
  /** Flags only this strategy reads (the CLI refuses them with another --method). */
  readonly flags?: FlagTable;
  /** Hyper-parameters and supernet per --preset name (at least 'tiny', 'darts' and 'bionas'). */
  readonly presets: Record<string, StrategyPreset<C>>;
  /** History streams it records to besides metrics and alphas (e.g. 'evolution'). */
  readonly streams?: readonly string[];
  /** Config keys a resume may change (besides epochs and logEvery). */
  readonly resumable?: readonly string[];
  /** The config from a preset (common flags already applied to it) and this strategy's flags. */
  configure(preset: StrategyPreset<C>, f: FlagValues, seed: number): C;
  /** The config in a few words, for the run's header line. */
  describe(c: C): string;
  create(ctx: StrategyContext<C>): SearchMethod;
}

/** A strategy that searches a table of trained cells (NAS-Bench-201) instead of a supernet. */
export interface TableStrategy {
  /** The --strategy value of `bionas benchmark`. */
  readonly name: string;
  readonly title: string;
  readonly help: string;
  /** Its own flags (with defaults); `bionas benchmark` accepts them. */
  readonly flags?: FlagTable;
  /** Whether it computes on the engine (a predictor it trains): the benchmark opens the device first. */
  readonly usesGpu?: boolean;
  /** Searches until the oracle's budget is spent; `rng` is uniform on [0, 1), seeded per run. */
  searchTable(bench: TableOracle, flags: FlagValues, rng: () => number): void | Promise<void>;
}

/**
 * A search with a command line and run-loop job of its own, for a method that has no supernet to
 * hand the search job (MSE-NAS scores untrained spiking networks genome by genome). `bionas search
 * --method <name>`, and `--resume` of a run whose checkpoint kind is `checkpointKind`, hand the
 * whole command line to `run`.
 */
export interface SearchCommand {
  /** The --method value. */
  readonly name: string;
  /** One line for --method's help. */
  readonly help: string;
  /** The kind its job writes into checkpoints (Job.kind). */
  readonly checkpointKind: string;
  run(argv: string[]): Promise<void>;
}
