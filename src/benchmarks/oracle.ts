// What a search sees of a tabular benchmark (a table of trained cells, such as NAS-Bench-201):
// cells as op indices per edge, queries that charge a budget, and the error that ends a search
// when the budget is spent. Benchmarks implement it; table strategies (src/search/) use it.

/**
 * A tabular benchmark as a search sees it: a cell is one op index per edge, and each query
 * returns the cell's accuracy under the run's signal and charges the run's query budget
 * (src/benchmarks/nb201/oracle.ts). When the budget is spent, query() throws BudgetSpent and
 * the search ends there; a strategy may simply loop for ever.
 */
export interface TableOracle {
  readonly edges: number;
  readonly opsPerEdge: number;
  /** Queries charged so far (distinct classes of cells). */
  readonly charged: number;
  query(ops: readonly number[]): number;
}

/** Thrown by TableOracle.query when the budget is spent: the end of a table search. */
export class BudgetSpent extends Error {
  override name = 'BudgetSpent';
}
