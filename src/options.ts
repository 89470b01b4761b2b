// Typed options of a command or a plug-in (a search strategy declares its own): each option's
// type, default, limits and help. src/cli/flags.ts parses argv against such a table.

export type FlagType = 'string' | 'int' | 'number' | 'bool' | 'list';

export interface FlagSpec {
  type: FlagType;
  default?: string | number | boolean | number[];
  help: string;
  /** Allowed values of a string flag. */
  choices?: readonly string[];
  min?: number;
  /** Largest value of an int or number flag; sizes default to SIZE_LIMITS by name. */
  max?: number;
}

export type FlagTable = Record<string, FlagSpec>;
export type FlagValues = Record<string, string | number | boolean | number[] | undefined>;
