// A NAS-Bench-201 search run's view of the table: the query budget, the signal a strategy sees,
// and the incumbent (the best cell by that signal) with its 200-epoch test accuracy.
//
// Counting: a query is charged once per isomorphism class. Querying a cell again, or a cell that
// computes the same function (equal UniqueString), costs nothing: the search learns nothing new
// by training it again. Such a repeat still returns the cell's own table value and may become
// the incumbent. A budget larger than the number of classes (6,466) could never be spent.

import { BudgetSpent, type TableOracle } from '../oracle.js';
import { NB201_EDGE_COUNT, NB201_TABLE_OPS, checkDataset, type Nb201Dataset, type Nb201Signal, type Nb201Table } from './table.js';

// Free (repeated) queries allowed per charged one before a search is called stuck: far above
// what the strategies here use (local search repeats at most 24 per step), so only a loop
// that revisits the same classes for ever hits it.
const MAX_FREE_PER_QUERY = 1000;

export interface QueryRecord {
  index: number;
  /** The signal's value. */
  value: number;
  test200: number;
}

export class QueryBudget {
  readonly limit: number;
  private readonly classes = new Set<number>();
  constructor(limit: number, classCount: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`query budget ${limit}: expected a positive integer`);
    if (limit > classCount) {
      throw new Error(`query budget ${limit} exceeds the ${classCount} distinct cells (isomorphism classes) of the space (15,625 cells); repeated and isomorphic cells are counted once`);
    }
    this.limit = limit;
  }
  get used(): number {
    return this.classes.size;
  }
  /** Charges the class if it is new; false (and no charge) if the budget is spent. */
  charge(cls: number): boolean {
    if (this.classes.has(cls)) return true;
    if (this.classes.size >= this.limit) return false;
    this.classes.add(cls);
    return true;
  }
  has(cls: number): boolean {
    return this.classes.has(cls);
  }
}

export class Nb201Oracle implements TableOracle {
  readonly edges = NB201_EDGE_COUNT;
  readonly opsPerEdge = NB201_TABLE_OPS.length;
  readonly budget: QueryBudget;
  readonly dataset: Nb201Dataset;
  /** Every charged query in order. */
  readonly charges: QueryRecord[] = [];
  /** Every query in order, repeats included. */
  readonly queries: number[] = [];
  /** The incumbent's 200-epoch test accuracy after each charged query. */
  readonly curve: number[] = [];
  incumbent: QueryRecord | null = null;
  private free = 0;

  constructor(readonly table: Nb201Table, dataset: string, readonly signal: Nb201Signal, queries: number) {
    this.dataset = checkDataset(dataset);
    if (signal !== 'valid12' && signal !== 'test200') throw new Error(`NAS-Bench-201 signal '${signal}': expected valid12 or test200`);
    this.budget = new QueryBudget(queries, table.classCount);
  }

  get charged(): number {
    return this.budget.used;
  }

  query(ops: readonly number[]): number {
    const index = this.table.index(ops);
    const cls = this.table.classOf(index);
    const fresh = !this.budget.has(cls);
    if (!this.budget.charge(cls)) throw new BudgetSpent(`the budget of ${this.budget.limit} queries is spent`);
    if (!fresh && ++this.free > MAX_FREE_PER_QUERY * (this.budget.used + 1)) {
      throw new Error(`search stuck: ${this.free} repeated queries for ${this.budget.used} distinct cells`);
    }
    this.queries.push(index);
    const rec = { index, value: this.table.signal(index, this.dataset, this.signal), test200: this.table.signal(index, this.dataset, 'test200') };
    if (!this.incumbent || rec.value > this.incumbent.value) this.incumbent = rec;
    if (fresh) {
      this.charges.push(rec);
      this.curve.push(this.incumbent.test200);
    } else {
      // A repeat that becomes the incumbent moves the curve's last point.
      this.curve[this.curve.length - 1] = this.incumbent.test200;
    }
    return rec.value;
  }
}
