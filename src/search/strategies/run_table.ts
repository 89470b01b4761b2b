// One run of a table strategy on NAS-Bench-201: the strategy queries the oracle until its
// budget is spent; the run's result is the incumbent (best by the signal) and its curve.

import { BudgetSpent } from '../../benchmarks/oracle.js';
import { Nb201Oracle } from '../../benchmarks/nb201/oracle.js';
import type { Nb201Dataset, Nb201Signal, Nb201Table } from '../../benchmarks/nb201/table.js';
import type { FlagValues } from '../../options.js';
import { splitmix32 } from '../../data/dataset.js';
import type { TableStrategy } from './strategy.js';

export interface Nb201RunResult {
  strategy: string;
  dataset: Nb201Dataset;
  signal: Nb201Signal;
  seed: number;
  queries: number;
  /** The best cell queried, by the signal. */
  best: { index: number; arch: string; value: number; test200: number };
  /** The incumbent's 200-epoch test accuracy after each charged query. */
  curve: number[];
  /** Indices of the charged queries, in order. */
  queried: number[];
}

/** One search run: the strategy until its budget is spent, from an rng seeded by `seed`. */
export async function runNb201Search(table: Nb201Table, strategy: TableStrategy, o: { dataset: string; signal: Nb201Signal; queries: number; seed: number; flags?: FlagValues }): Promise<Nb201RunResult> {
  const bench = new Nb201Oracle(table, o.dataset, o.signal, o.queries);
  try {
    await strategy.searchTable(bench, o.flags ?? {}, splitmix32(o.seed));
    throw new Error(`table strategy '${strategy.name}' returned with ${bench.charged} of ${o.queries} queries spent`);
  } catch (e) {
    if (!(e instanceof BudgetSpent)) throw e;
  }
  const inc = bench.incumbent!;
  return {
    strategy: strategy.name, dataset: bench.dataset, signal: o.signal, seed: o.seed, queries: o.queries,
    best: { index: inc.index, arch: table.arch(inc.index), value: inc.value, test200: inc.test200 },
    curve: bench.curve, queried: bench.charges.map((c) => c.index),
  };
}
