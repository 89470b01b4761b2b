// The built-in search strategies, registered on import; see ./strategy.ts for the interface.
export { registerStrategy, getStrategy, strategyNames, allStrategies, registerTableStrategy, getTableStrategy, tableStrategyNames } from './registry.js';
export type { SearchStrategy, SearchMethod, SearchConfig, SearchData, StrategyContext, StrategyPreset, SupernetShape, TableOracle, TableStrategy } from './strategy.js';
export { runNb201Search, type Nb201RunResult } from './run_table.js';
export { DARTS_STRATEGY, runDartsSearch, type SearchEpoch } from './darts.js';
export { EG_STRATEGY, EG_SEARCH, runEgSearch, type EgConfig, type EgEpoch, type EgResult, type GenerationRecord } from './eg.js';
export { RANDOM_SEARCH, REGULARIZED_EVOLUTION, LOCAL_SEARCH, CMAES_TABLE_SEARCH, CSO_TABLE_SEARCH, ICSO_TABLE_SEARCH, BudgetSpent } from './table.js';
export { DCL_ENAS, dclEnas, DCL_ENAS_DEFAULTS } from './dcl_enas.js';
export { GICSO_STRATEGY, GICSO_SEARCH, runGicsoSearch, type GicsoConfig, type GicsoEpoch, type GicsoResult, type SwarmRecord } from './gicso.js';
