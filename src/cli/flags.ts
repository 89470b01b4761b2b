// Typed command-line flags: one table per command gives each flag's type, default and help;
// from it come parsing, validation with clear messages, and --help.

export type FlagType = 'string' | 'int' | 'number' | 'bool' | 'list';

export interface FlagSpec {
  type: FlagType;
  default?: string | number | boolean | number[];
  help: string;
  /** Allowed values of a string flag. */
  choices?: readonly string[];
  min?: number;
}

export type FlagTable = Record<string, FlagSpec>;
export type FlagValues = Record<string, string | number | boolean | number[] | undefined>;

export class UsageError extends Error {
  override name = 'UsageError';
}

export function helpText(command: string, summary: string, table: FlagTable): string {
  const lines = Object.entries(table).map(([name, s]) => {
    const arg = s.type === 'bool' ? (s.default === true ? `, --no-${name}` : '') : ` <${s.choices ? s.choices.join('|') : s.type}>`;
    const def = s.default === undefined ? '' : ` (default: ${Array.isArray(s.default) ? s.default.join(',') : s.default})`;
    return `  --${name}${arg}\n      ${s.help}${def}`;
  });
  return `usage: bionas ${command} [flags]\n\n${summary}\n\nflags:\n${lines.join('\n')}\n  --help\n      show this text`;
}

/** Parses argv against the table; unknown flags and bad values throw UsageError. */
export function parseFlags(argv: string[], table: FlagTable, command: string): FlagValues {
  const out: FlagValues = {};
  for (const [name, spec] of Object.entries(table)) out[name] = spec.default;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new UsageError(`bionas ${command}: unexpected argument '${arg}' (flags start with --; see --help)`);
    let [name, value] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    // --no-<flag> turns a boolean flag off.
    if (!table[name] && name.startsWith('no-') && table[name.slice(3)]?.type === 'bool' && value === undefined) {
      out[name.slice(3)] = false;
      continue;
    }
    const spec = table[name];
    if (!spec) {
      const close = Object.keys(table).filter((k) => k.startsWith(name.slice(0, 3)));
      throw new UsageError(`bionas ${command}: unknown flag --${name}${close.length ? ` (did you mean ${close.map((c) => '--' + c).join(', ')}?)` : ''}; see --help`);
    }
    if (spec.type === 'bool') {
      out[name] = value === undefined ? true : !['false', '0', 'no'].includes(value);
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`bionas ${command}: --${name} needs a value`);
    }
    out[name] = convert(command, name, spec, value);
  }
  return out;
}

function convert(command: string, name: string, spec: FlagSpec, value: string): string | number | number[] {
  const bad = (why: string) => new UsageError(`bionas ${command}: --${name} ${value}: ${why}`);
  switch (spec.type) {
    case 'string':
      if (spec.choices && !spec.choices.includes(value)) throw bad(`must be one of ${spec.choices.join(', ')}`);
      return value;
    case 'int': {
      const n = Number(value);
      if (!Number.isInteger(n)) throw bad('must be an integer');
      if (spec.min !== undefined && n < spec.min) throw bad(`must be >= ${spec.min}`);
      return n;
    }
    case 'number': {
      const n = Number(value);
      if (!Number.isFinite(n)) throw bad('must be a number');
      if (spec.min !== undefined && n < spec.min) throw bad(`must be >= ${spec.min}`);
      return n;
    }
    case 'list': {
      const items = value.split(',').filter(Boolean).map(Number);
      if (items.some((n) => !Number.isFinite(n))) throw bad('must be a comma-separated list of numbers');
      return items;
    }
    case 'bool':
      return value;
  }
}
