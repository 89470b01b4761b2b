// The search strategies bionas knows, by name. A strategy registers itself when its module is
// imported (./index.ts imports the built-in ones); a test or a plug-in registers its own the
// same way, and the run loop, the CLI and its help pick it up. Two registries of one kind:
// supernet strategies (`bionas search --method`) and table strategies (`bionas benchmark nb201
// --strategy`), since a table strategy has no supernet to search and --method should not offer it.

import type { SearchConfig, SearchStrategy, TableStrategy } from './strategy.js';

class Registry<T extends { readonly name: string }> {
  private readonly entries = new Map<string, T>();

  constructor(private readonly kind: string) {}

  add(s: T): void {
    if (!/^[a-z][a-z0-9-]*$/.test(s.name)) throw new Error(`${this.kind} name '${s.name}': lower-case letters, digits and '-' only`);
    const known = this.entries.get(s.name);
    if (known && known !== s) throw new Error(`${this.kind} '${s.name}' is registered already`);
    this.entries.set(s.name, s);
  }

  get(name: string): T {
    const s = this.entries.get(name);
    if (!s) throw new Error(`unknown ${this.kind} '${name}'; known: ${this.names().join(', ')}`);
    return s;
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  all(): T[] {
    return [...this.entries.values()];
  }
}

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
