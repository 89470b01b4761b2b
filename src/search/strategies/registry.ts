// The search strategies bionas knows, by --method name. A strategy registers itself when its
// module is imported (./index.ts imports the built-in ones); a test or a plug-in registers its
// own the same way, and the run loop, the CLI's --method and its help pick it up.

import type { SearchConfig, SearchStrategy, TableStrategy } from './strategy.js';

const strategies = new Map<string, SearchStrategy>();

export function registerStrategy<C extends SearchConfig>(s: SearchStrategy<C>): SearchStrategy<C> {
  if (!/^[a-z][a-z0-9-]*$/.test(s.name)) throw new Error(`search strategy name '${s.name}': lower-case letters, digits and '-' only`);
  const known = strategies.get(s.name);
  if (known && known !== (s as unknown as SearchStrategy)) throw new Error(`search strategy '${s.name}' is registered already`);
  strategies.set(s.name, s as unknown as SearchStrategy);
  return s;
}

export function getStrategy(name: string): SearchStrategy {
  const s = strategies.get(name);
  if (!s) throw new Error(`unknown search strategy '${name}'; known: ${strategyNames().join(', ')}`);
  return s;
}

export function strategyNames(): string[] {
  return [...strategies.keys()];
}

export function allStrategies(): SearchStrategy[] {
  return [...strategies.values()];
}

// Strategies that search a table (`bionas benchmark nb201 --strategy`), by name: a second map,
// since they have no supernet to search and `--method` should not offer them.
const tableStrategies = new Map<string, TableStrategy>();

export function registerTableStrategy(s: TableStrategy): TableStrategy {
  if (!/^[a-z][a-z0-9-]*$/.test(s.name)) throw new Error(`table strategy name '${s.name}': lower-case letters, digits and '-' only`);
  const known = tableStrategies.get(s.name);
  if (known && known !== s) throw new Error(`table strategy '${s.name}' is registered already`);
  tableStrategies.set(s.name, s);
  return s;
}

export function getTableStrategy(name: string): TableStrategy {
  const s = tableStrategies.get(name);
  if (!s) throw new Error(`unknown table strategy '${name}'; known: ${tableStrategyNames().join(', ')}`);
  return s;
}

export function tableStrategyNames(): string[] {
  return [...tableStrategies.keys()];
}
