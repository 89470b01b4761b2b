// Command-line flag parsing (src/cli/flags.ts): pure, no GPU.
import { describe, it, expect } from 'vitest';
import { parseFlags, helpText, SIZE_LIMITS, UsageError, type FlagTable } from '../src/cli/flags.js';
import { DATA_FLAGS, loadData } from '../src/cli/common.js';

const TABLE: FlagTable = {
  epochs: { type: 'int', min: 1, help: 'epochs' },
  seed: { type: 'int', min: 0, default: 0, help: 'seed' },
  lr: { type: 'number', min: 0, help: 'learning rate' },
  run: { type: 'string', help: 'run folder' },
  rule: { type: 'string', default: 'bp', choices: ['bp', 'fa'], help: 'learning rule' },
  resume: { type: 'bool', default: false, help: 'resume' },
  alignment: { type: 'bool', default: true, help: 'alignment angles' },
  milestones: { type: 'list', help: 'epochs' },
  batch: { type: 'int', min: 1, help: 'batch size' },
  width: { type: 'int', min: 1, max: 64, help: 'a flag with its own ceiling' },
  ...DATA_FLAGS,
};

const parse = (...argv: string[]) => parseFlags(argv, TABLE, 'train');
/** The UsageError message parsing argv throws. */
function error(...argv: string[]): string {
  try {
    parse(...argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error(`parsing ${JSON.stringify(argv)} did not throw`);
}

describe('flag values', () => {
  it('take defaults, --flag value and --flag=value', () => {
    expect(parse()).toMatchObject({ seed: 0, rule: 'bp', resume: false, alignment: true, epochs: undefined });
    expect(parse('--epochs', '3', '--lr=0.025', '--run', 'runs/x', '--rule=fa')).toMatchObject({ epochs: 3, lr: 0.025, run: 'runs/x', rule: 'fa' });
    expect(parse('--seed', '+0', '--epochs', '+7', '--milestones', '100,150.5')).toMatchObject({ seed: 0, epochs: 7, milestones: [100, 150.5] });
  });

  it('an empty value is an error naming the flag', () => {
    expect(error('--lr=')).toBe('bionas train: --lr needs a value, got an empty one');
    expect(error('--lr', '')).toBe('bionas train: --lr needs a value, got an empty one');
    expect(error('--epochs', '')).toBe('bionas train: --epochs needs a value, got an empty one');
    expect(error('--run=')).toBe('bionas train: --run needs a value, got an empty one');
    expect(error('--milestones=')).toBe('bionas train: --milestones needs a value, got an empty one');
  });

  it('a flag that needs a value does not take the next flag as it', () => {
    expect(error('--run', '--seed', '3')).toBe('bionas train: --run needs a value (to pass one starting with --, write --run=--seed)');
    expect(error('--epochs')).toBe('bionas train: --epochs needs a value');
    expect(parse('--run=--odd-name').run).toBe('--odd-name');
    expect(error('--lr', '-1e-3')).toBe("bionas train: --lr must be >= 0 (got '-1e-3')");
  });

  it('integers are an optional sign and digits, nothing else', () => {
    for (const v of ['1.5', '1e3', '0x10', ' 3', '3 ', '3.', '.5', 'Infinity', 'NaN', '1_000', 'three', '0b11']) {
      expect(error('--epochs', v), v).toBe(`bionas train: --epochs must be an integer written in digits (got '${v}')`);
    }
    expect(error('--epochs', '0')).toBe("bionas train: --epochs must be >= 1 (got '0')");
    expect(error('--seed', '99999999999999999999')).toBe(`bionas train: --seed must be <= ${Number.MAX_SAFE_INTEGER} (got '99999999999999999999')`);
    expect(parse('--seed', '0042').seed).toBe(42);
  });

  it('numbers are finite decimals with an optional exponent', () => {
    expect(parse('--lr', '3e-4').lr).toBe(3e-4);
    expect(parse('--lr', '.5').lr).toBe(0.5);
    expect(parse('--lr', '2.').lr).toBe(2);
    expect(parse('--lr', '1E2').lr).toBe(100);
    for (const v of ['0x10', 'Infinity', '-Infinity', 'NaN', ' 1', '1,5', 'e3', '1e', '+-1', 'fast']) {
      expect(error('--lr', v), v).toBe(`bionas train: --lr must be a decimal number (e.g. 0.025 or 3e-4) (got '${v}')`);
    }
    expect(error('--lr', '1e400')).toBe("bionas train: --lr must be a finite number (got '1e400')");
  });

  it('lists are comma-separated numbers without gaps', () => {
    expect(error('--milestones', '100,,150')).toBe("bionas train: --milestones must be a comma-separated list of numbers, e.g. 100,150 (got '100,,150')");
    expect(error('--milestones', '100,0x10')).toMatch(/--milestones must be a comma-separated list of numbers/);
  });

  it('booleans are true, false, 1, 0, yes or no', () => {
    expect(parse('--resume').resume).toBe(true);
    for (const [v, b] of [['true', true], ['1', true], ['yes', true], ['false', false], ['0', false], ['no', false]] as const) {
      expect(parse(`--resume=${v}`).resume, v).toBe(b);
    }
    for (const v of ['', 'flase', 'TRUE', 'on', 'off', '2', 'toString']) {
      expect(error(`--resume=${v}`), v).toBe(`bionas train: --resume must be true, false, 1, 0, yes or no (got '${v}')`);
    }
    expect(parse('--no-alignment').alignment).toBe(false);
    expect(error('--no-alignment=yes')).toBe('bionas train: --no-alignment takes no value (write --alignment=yes instead)');
  });

  it('choices, unknown flags and stray words are named', () => {
    expect(error('--rule', 'hebb')).toBe("bionas train: --rule must be one of bp, fa (got 'hebb')");
    expect(error('--epoch', '3')).toBe('bionas train: unknown flag --epoch (did you mean --epochs?); see --help');
    expect(error('3')).toBe("bionas train: unexpected argument '3' (flags start with --; see --help)");
  });

  it('--verbose is accepted by every command (Dawn\'s messages are read from argv where the device opens)', () => {
    expect(parse('--verbose', '--epochs', '2')).toMatchObject({ epochs: 2 });
    expect(parse('--verbose=no')).not.toHaveProperty('verbose');
    expect(error('--verbose=loud')).toMatch(/--verbose must be true, false/);
    expect(helpText('train', 'x', TABLE)).toContain('--verbose\n');
  });
});

describe('flag limits', () => {
  it('sizes that blow up memory are refused by name, with the ceiling', () => {
    const max = SIZE_LIMITS['synthetic-size'];
    expect(error('--synthetic-size', '100000000000000000000')).toBe(`bionas train: --synthetic-size must be <= ${max} (got '100000000000000000000')`);
    expect(error('--synthetic-size', String(max + 1))).toBe(`bionas train: --synthetic-size must be <= ${max} (got '${max + 1}')`);
    expect(error('--synthetic-size', '1e20')).toBe("bionas train: --synthetic-size must be an integer written in digits (got '1e20')");
    expect(parse('--synthetic-size', String(max))['synthetic-size']).toBe(max);
    for (const flag of ['batch', 'image-size', 'train-size', 'test-size']) {
      expect(error(`--${flag}`, String(SIZE_LIMITS[flag] + 1))).toBe(`bionas train: --${flag} must be <= ${SIZE_LIMITS[flag]} (got '${SIZE_LIMITS[flag] + 1}')`);
    }
    for (const flag of ['C', 'layers', 'nodes', 'valid-size', 'population', 'cutout']) expect(SIZE_LIMITS[flag], flag).toBeGreaterThan(0);
  });

  it("a table's own max wins, and --help shows the ceilings", () => {
    expect(error('--width', '65')).toBe("bionas train: --width must be <= 64 (got '65')");
    const help = helpText('train', 'x', TABLE);
    expect(help).toContain(`images in the synthetic training set (a quarter as many test images) (default: 2000; at most ${SIZE_LIMITS['synthetic-size']})`);
    expect(help).toContain('a flag with its own ceiling (at most 64)');
  });

  it('a synthetic set too large in bytes names both flags before allocating', async () => {
    const f = parse('--synthetic-size', String(SIZE_LIMITS['synthetic-size']), '--image-size', '256');
    await expect(loadData(f, 0)).rejects.toThrow(/--synthetic-size 500000 with --image-size 256 needs 114\.4 GiB of images .*at most 2 GiB/);
  });
});
