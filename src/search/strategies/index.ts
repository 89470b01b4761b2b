// The built-in search strategies, registered on import; see ./strategy.ts for the interface.
export { registerStrategy, getStrategy, strategyNames, allStrategies } from './registry.js';
export type { SearchStrategy, SearchMethod, SearchConfig, SearchData, StrategyContext, StrategyPreset, SupernetShape } from './strategy.js';
export { DARTS_STRATEGY, runDartsSearch, type SearchEpoch } from './darts.js';
export { EG_STRATEGY, EG_SEARCH, runEgSearch, type EgConfig, type EgEpoch, type EgResult, type GenerationRecord } from './eg.js';
