// Typed command-line flags: one table per command gives each flag's type, default and help;
// from it come parsing, validation with clear messages, and --help.
//
// Parsing is strict: a value is what its type says and nothing else (no empty strings, no
// hex or exponent integers, no 'Infinity', no boolean other than true/false/1/0/yes/no), and
// every message names the flag. Number('') is 0 and Number('0x10') is 16, so Number alone
// would turn typos into silent settings.

// The flag types live below every layer that declares flags (search strategies do).
import type { FlagSpec, FlagTable, FlagValues } from '../options.js';
export type { FlagType, FlagSpec, FlagTable, FlagValues } from '../options.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Ceilings of the flags that size memory, the same in every command (a table's own `max`
 * wins). Past them a run cannot fit anyway, and without them the failure is an allocation
 * deep inside ("Invalid typed array length") instead of a message naming the flag.
 */
export const SIZE_LIMITS: Readonly<Record<string, number>> = {
  // Images of the synthetic set, which is generated in memory as bytes: 500,000 at 32x32x3 is
  // 1.5 GB plus a quarter more test images, under the 2 GiB a Uint8Array holds comfortably.
  // (Ten CIFAR-10 training sets; see also MAX_SYNTHETIC_BYTES in common.ts.)
  'synthetic-size': 500_000,
  // Subset sizes only cut a loaded set (larger means all of it); ImageNet16 has 1.28M images.
  'train-size': 10_000_000,
  'test-size': 10_000_000,
  'valid-size': 10_000_000,
  // Image side of the synthetic set; ImageNet crops are 224.
  'image-size': 256,
  cutout: 256,
  // Batch: the papers here use 64 to 256; 4096 images of a 36-channel 32x32 feature map are
  // already 600 MB per activation, past most adapters' storage-buffer binding size.
  batch: 4096,
  // Initial channels (DARTS: 16 in search, 36 in evaluation; NAS-Bench-201: 16).
  C: 1024,
  // Cells of a network (DARTS: 8 in search, 20 in evaluation).
  layers: 100,
  // Intermediate nodes of a DARTS cell (DARTS: 4); a cell has n(n+3)/2 edges of 22 ops each.
  nodes: 16,
  // EG: CMA-ES population, restarts and generations (EG-NAS: 50, 3, a few).
  population: 10_000,
  samples: 1_000,
  generations: 10_000,
  'candidates-per-pass': 10_000,
  // MiB a scoring pass may take: 1 TiB.
  'score-memory': 1_048_576,
};

/** Flags every command accepts; read where they act (verbose: src/gpu/device.ts). */
const GLOBAL_FLAGS: FlagTable = {
  verbose: { type: 'bool', default: false, help: "show Dawn's start-up messages as they are printed (also BIONAS_VERBOSE=1)" },
};

const BOOLEAN_VALUES: Record<string, boolean> = { true: true, false: false, 1: true, 0: false, yes: true, no: false };
const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function maxOf(name: string, spec: FlagSpec): number | undefined {
  return spec.max ?? (spec.type === 'int' || spec.type === 'number' ? SIZE_LIMITS[name] : undefined);
}

export function helpText(command: string, summary: string, table: FlagTable): string {
  const lines = Object.entries({ ...table, ...GLOBAL_FLAGS }).map(([name, s]) => {
    const arg = s.type === 'bool' ? (s.default === true ? `, --no-${name}` : '') : ` <${s.choices ? s.choices.join('|') : s.type}>`;
    const max = maxOf(name, s);
    const notes = [
      s.default === undefined ? '' : `default: ${Array.isArray(s.default) ? s.default.join(',') : s.default}`,
      max === undefined ? '' : `at most ${max}`,
    ].filter(Boolean);
    return `  --${name}${arg}\n      ${s.help}${notes.length ? ` (${notes.join('; ')})` : ''}`;
  });
  return `usage: bionas ${command} [flags]\n\n${summary}\n\nflags:\n${lines.join('\n')}\n  --help\n      show this text`;
}

/** Parses argv against the table; unknown flags and bad values throw UsageError. */
export function parseFlags(argv: string[], table: FlagTable, command: string): FlagValues {
  const out: FlagValues = {};
  const fail = (message: string) => new UsageError(`bionas ${command}: ${message}`);
  for (const [name, spec] of Object.entries(table)) out[name] = spec.default;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw fail(`unexpected argument '${arg}' (flags start with --; see --help)`);
    let [name, value] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    // --no-<flag> turns a boolean flag off.
    if (!table[name] && name.startsWith('no-') && table[name.slice(3)]?.type === 'bool') {
      if (value !== undefined) throw fail(`--${name} takes no value (write --${name.slice(3)}=${value} instead)`);
      out[name.slice(3)] = false;
      continue;
    }
    const spec = table[name] ?? GLOBAL_FLAGS[name];
    if (!spec) {
      const close = Object.keys(table).filter((k) => k.startsWith(name.slice(0, 3)));
      throw fail(`unknown flag --${name}${close.length ? ` (did you mean ${close.map((c) => '--' + c).join(', ')}?)` : ''}; see --help`);
    }
    if (spec.type === 'bool') {
      if (value !== undefined && !Object.hasOwn(BOOLEAN_VALUES, value)) {
        throw fail(`--${name} must be true, false, 1, 0, yes or no (got '${value}')`);
      }
      const on = value === undefined ? true : BOOLEAN_VALUES[value];
      if (table[name]) out[name] = on;
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      // `--run --seed 3`: the flag's value was forgotten; taking '--seed' would hide it.
      if (value === undefined || value.startsWith('--')) {
        throw fail(`--${name} needs a value${value === undefined ? '' : ` (to pass one starting with --, write --${name}=${value})`}`);
      }
    }
    if (value === '') throw fail(`--${name} needs a value, got an empty one`);
    out[name] = convert(name, spec, value, fail);
  }
  return out;
}

function convert(name: string, spec: FlagSpec, value: string, fail: (message: string) => UsageError): string | number | number[] {
  const bad = (why: string) => fail(`--${name} ${why} (got '${value}')`);
  const inRange = (n: number) => {
    const max = maxOf(name, spec);
    if (spec.min !== undefined && n < spec.min) throw bad(`must be >= ${spec.min}`);
    if (max !== undefined && n > max) throw bad(`must be <= ${max}`);
    return n;
  };
  switch (spec.type) {
    case 'string':
      if (spec.choices && !spec.choices.includes(value)) throw bad(`must be one of ${spec.choices.join(', ')}`);
      return value;
    case 'int': {
      if (!INTEGER.test(value)) throw bad('must be an integer written in digits');
      const n = Number(value);
      if (!Number.isSafeInteger(n)) throw bad(`must be <= ${maxOf(name, spec) ?? Number.MAX_SAFE_INTEGER}`);
      return inRange(n);
    }
    case 'number': {
      if (!DECIMAL.test(value)) throw bad('must be a decimal number (e.g. 0.025 or 3e-4)');
      const n = Number(value);
      if (!Number.isFinite(n)) throw bad('must be a finite number');
      return inRange(n);
    }
    case 'list': {
      const items = value.split(',');
      if (items.some((s) => !DECIMAL.test(s) || !Number.isFinite(Number(s)))) throw bad('must be a comma-separated list of numbers, e.g. 100,150');
      return items.map((s) => inRange(Number(s)));
    }
    case 'bool':
      return value;
  }
}
