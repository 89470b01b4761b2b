// `--resume DIR` for every command that runs a job: the run is described by the flags that
// started it (saved in its checkpoint); flags given now are laid over them, and one that would
// make it another run (dataset, model, seed, method, space ...) is an error naming the flag.
// Only a command's `mutable` flags (e.g. --epochs, to extend a run) may change.

import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { CHECKPOINT_FILE, readCheckpointMeta } from '../run/checkpoint.js';
import { UsageError, helpText, parseFlags, type FlagTable, type FlagValues } from './flags.js';

/** The flags named on the command line (as opposed to defaults). */
export function givenFlags(argv: string[], table: FlagTable): Set<string> {
  const given = new Set<string>();
  for (const arg of argv) {
    if (!arg.startsWith('--')) continue;
    const name = arg.slice(2).split('=')[0];
    if (table[name]) given.add(name);
    else if (name.startsWith('no-') && table[name.slice(3)]?.type === 'bool') given.add(name.slice(3));
  }
  return given;
}

const show = (v: unknown) => (v === undefined ? '(not set)' : Array.isArray(v) ? v.join(',') : String(v));

/** The flags of the run in `dir` with the given ones on top; see the header. */
export async function resumeFlags(command: string, f: FlagValues, given: Set<string>, mutable: readonly string[]): Promise<FlagValues> {
  const dir = f.resume as string;
  if (given.has('run') && f.run !== dir) throw new UsageError(`bionas ${command}: --run ${f.run} and --resume ${dir} name different folders; --resume alone continues the run in its folder`);
  const path = join(dir, CHECKPOINT_FILE);
  if (!existsSync(dir)) throw new UsageError(`bionas ${command}: --resume ${dir}: no such folder`);
  if (!existsSync(path)) throw new UsageError(`bionas ${command}: --resume ${dir}: no ${CHECKPOINT_FILE} there, so nothing to resume (start a new run with --run ${dir})`);
  const meta = await readCheckpointMeta(path);
  const inv = meta.invocation;
  if (!inv) throw new UsageError(`bionas ${command}: --resume ${dir}: the checkpoint does not say which command made it (written by an older bionas); start a new run`);
  if (inv.command !== command) throw new UsageError(`bionas ${command}: --resume ${dir}: that folder holds a 'bionas ${inv.command}' run; continue it with bionas ${inv.command} --resume ${dir}`);
  const stored = inv.flags as FlagValues;
  for (const name of given) {
    if (name === 'resume' || name === 'run' || mutable.includes(name)) continue;
    if (JSON.stringify(f[name]) !== JSON.stringify(stored[name])) {
      throw new UsageError(`bionas ${command}: --${name} ${show(f[name])} conflicts with the run in ${dir}, which has --${name} ${show(stored[name])}; ` +
        `leave --${name} out to continue that run${mutable.length ? ` (a resume may change only ${mutable.map((m) => '--' + m).join(', ')})` : ''}`);
    }
  }
  const now = Object.fromEntries([...given].map((name) => [name, f[name]]));
  return { ...f, ...stored, ...now, resume: dir, run: dir };
}

/**
 * The flags of a command that runs a job: null once --help is printed; otherwise the parsed
 * flags, the names given on the command line, and on --resume the flags left out taken from the
 * checkpoint. `usage` names the command in its help (e.g. 'search --method mse-nas').
 */
export async function jobCommandFlags(
  argv: string[], command: string, usage: string, summary: string, table: FlagTable, mutable: readonly string[],
): Promise<{ f: FlagValues; given: Set<string> } | null> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(helpText(usage, summary, table));
    return null;
  }
  const f = parseFlags(argv, table, command);
  const given = givenFlags(argv, table);
  return { f: f.resume !== undefined ? await resumeFlags(command, f, given, mutable) : f, given };
}
