// The search strategies bionas knows, by name. A strategy registers itself when its module is
// imported (./index.ts imports the built-in ones); a test or a plug-in registers its own the
// same way, and the run loop, the CLI and its help pick it up. Two registries of one kind:
// supernet strategies (`bionas search --method`) and table strategies (`bionas benchmark nb201
// --strategy`), since a table strategy has no supernet to search and --method should not offer it.

import { Registry } from '../../registry.js';
import type { SearchCommand, SearchConfig, SearchStrategy, TableStrategy } from './strategy.js';

const strategies = new Registry<SearchStrategy>('search strategy');
const tableStrategies = new Registry<TableStrategy>('table strategy');

export function registerStrategy<C extends SearchConfig>(s: SearchStrategy<C>): SearchStrategy<C> {
  strategies.add(s as unknown as SearchStrategy);
  return s;
}

export const getStrategy = (name: string): SearchStrategy => strategies.get(name);
export const strategyNames = (): string[] => strategies.names();
export const allStrategies = (): SearchStrategy[] => strategies.all();

export function registerTableStrategy(s: TableStrategy): TableStrategy {
  tableStrategies.add(s);
  return s;
}

export const getTableStrategy = (name: string): TableStrategy => tableStrategies.get(name);
export const tableStrategyNames = (): string[] => tableStrategies.names();

const searchCommands = new Registry<SearchCommand>('search command');

/** Registers a search that runs as a command of its own (see SearchCommand). */
export function registerSearchCommand(c: SearchCommand): SearchCommand {
  if (strategyNames().includes(c.name)) throw new Error(`search command '${c.name}': a search strategy has that name`);
  searchCommands.add(c);
  return c;
}

export const allSearchCommands = (): SearchCommand[] => searchCommands.all();
