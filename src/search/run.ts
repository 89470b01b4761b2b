// Runs a search: any registered strategy (./strategies/) as a job of the run loop
// (src/run/loop.ts). What every strategy gets here: the supernet's tensors and generator in
// its checkpoints, and at each epoch's end the genotype derived from the alphas, the epoch's
// record (metrics.jsonl) and softmax(alpha) (alphas.jsonl), genotype.json and the drawings.
// Resuming continues to the same genotype as an uninterrupted run with the same seed.

import type { Tensor } from '../tensor.js';
import type { Generator } from '../ops/random.js';
import { loadInto, type SavedState } from '../run/state.js';
import { runJob, type RunOptions } from '../run/loop.js';
import type { StopSignal } from '../run/stop.js';
import type { Job, JobState, Phase, Position, RunContext } from '../run/job.js';
import type { SearchConfig, SearchData, SearchMethod, SearchStrategy } from './strategies/strategy.js';
import type { Supernet } from './supernet.js';
import { readAlphas, snapshot, derive, describeDerived, writeSearchOutputs, type AlphaSnapshot, type DerivedResult } from './outputs.js';

export interface SearchOptions extends Omit<RunOptions, 'describe'> {
  /** The supernet's generator: its state is checkpointed. */
  gen: Generator;
  /** Saved into genotype.json and checkpoints (how to rebuild the supernet). */
  describe?: Record<string, unknown>;
}

/** An epoch's record: the strategy's fields, with the epoch and the genotype derived at its end. */
export interface SearchRecord {
  epoch: number;
  genotype: string;
  phase?: string;
  [field: string]: unknown;
}

export interface SearchResult<R extends SearchRecord = SearchRecord> {
  derived: DerivedResult;
  history: R[];
  alphas: AlphaSnapshot[];
  stopped: boolean;
  signal: StopSignal | null;
  seconds: number;
  /** The strategy's summary fields (also spread into the result). */
  summary: Record<string, unknown>;
  /** The strategy's clause for a closing line (e.g. peak memory). */
  summaryLine: string;
}

/** The run-loop job of a search: the strategy's method plus what every search writes. */
export class SearchJob<C extends SearchConfig> implements Job {
  readonly kind: string;
  readonly streams: readonly string[];
  readonly resumable: readonly string[];
  readonly method: SearchMethod;
  derived: DerivedResult | null = null;

  constructor(readonly strategy: SearchStrategy<C>, readonly model: Supernet, data: SearchData, readonly c: C,
    readonly gen: Generator, log: (line: string) => void, private readonly describe: Record<string, unknown> | null) {
    this.kind = `search-${strategy.name}`;
    this.streams = ['metrics', 'alphas', ...(strategy.streams ?? [])];
    this.resumable = ['epochs', 'logEvery', ...(strategy.resumable ?? [])];
    this.method = strategy.create({ model, data, config: c, gen, log });
  }

  get config(): Record<string, unknown> {
    return { ...this.c } as unknown as Record<string, unknown>;
  }
  get epochs(): number {
    return this.c.epochs;
  }
  get logEvery(): number {
    return this.c.logEvery;
  }

  phases(epoch: number): Phase[] {
    return this.method.phases(epoch);
  }
  beginPhase(at: Position, ctx: RunContext) {
    return this.method.beginPhase(at, ctx);
  }
  step(at: Position, ctx: RunContext) {
    return this.method.step(at, ctx);
  }
  metrics(at: Position) {
    return this.method.metrics(at);
  }
  endPhase(at: Position, ctx: RunContext) {
    return this.method.endPhase?.(at, ctx);
  }

  async endEpoch(epoch: number, ctx: RunContext): Promise<void> {
    const fields = await this.method.endEpoch(epoch, ctx);
    const alphas = await readAlphas(this.model);
    const derived = (this.derived = derive(this.model.space, alphas, this.model.steps));
    const record: SearchRecord = { epoch: epoch + 1, ...fields, genotype: describeDerived(derived) };
    if (record.phase !== 'warmup') ctx.log(`  genotype: ${record.genotype}`);
    ctx.record('metrics', record);
    ctx.record('alphas', snapshot(this.model, alphas, epoch + 1) as unknown as Record<string, unknown>);
    if (ctx.runDir) {
      const extra = { epoch: epoch + 1, method: this.strategy.name, describe: this.describe };
      writeSearchOutputs(ctx.writeText, this.model.space, derived, ctx.history<AlphaSnapshot>('alphas'), extra);
    }
  }

  async state(at: Position): Promise<JobState> {
    const m = await this.method.state(at);
    return {
      tensors: [...this.model.namedTensors().map(([n, t]) => [`model.${n}`, t] as [string, Tensor]), ...m.tensors],
      meta: { generator: this.gen.state(), method: m.meta },
    };
  }

  restore(saved: SavedState, meta: Record<string, unknown>, at: Position): void {
    loadInto(this.model.namedTensors().map(([n, t]) => [`model.${n}`, t]), saved, 'checkpoint');
    this.gen.setState(meta.generator as never);
    this.method.restore(saved, meta.method as Record<string, unknown>, at);
  }

  close(): void {
    this.method.close();
  }
}

/** Searches `model` with `strategy` under the run loop; see the header. */
export async function runSearch<C extends SearchConfig, R extends SearchRecord = SearchRecord>(
  strategy: SearchStrategy<C>, model: Supernet, data: SearchData, c: C, o: SearchOptions,
): Promise<SearchResult<R>> {
  const log = o.log ?? ((s: string) => console.log(s));
  const job = new SearchJob(strategy, model, data, c, o.gen, log, o.describe ?? null);
  const r = await runJob(job, { ...o, log });
  const derived = job.derived ?? derive(model.space, await readAlphas(model), model.steps);
  const s = job.method.summary?.(r.history) ?? { fields: {}, line: '' };
  return {
    ...s.fields, derived, history: r.history<R>('metrics'), alphas: r.history<AlphaSnapshot>('alphas'),
    stopped: r.stopped, signal: r.signal, seconds: r.seconds, summary: s.fields, summaryLine: s.line,
  };
}

/**
 * How the genotype changed over the search epochs (warm-up epochs left out): "unchanged over
 * the last N of M epochs", and the epochs where it changed.
 */
export function genotypeStability(history: SearchRecord[]): string {
  const search = history.filter((r) => r.phase !== 'warmup');
  if (search.length === 0) return 'no search epoch ran';
  const changes = search.filter((r, i) => i > 0 && r.genotype !== search[i - 1].genotype).map((r) => r.epoch);
  const last = search[search.length - 1];
  const since = changes.length ? changes[changes.length - 1] : search[0].epoch;
  const stable = search.filter((r) => r.epoch >= since).length;
  const distinct = new Set(search.map((r) => r.genotype)).size;
  return `genotype unchanged over the last ${stable} of ${search.length} search epochs (epoch ${since} to ${last.epoch}); ` +
    `${distinct} distinct genotype${distinct === 1 ? '' : 's'}${changes.length ? `, changed at epoch ${changes.join(', ')}` : ''}`;
}
