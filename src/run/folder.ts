// A run folder: created with a clear error when it cannot be (the parent chain is checked here,
// because Node's recursive mkdir spins forever on some paths, e.g. under /proc), locked while a
// run writes it (a `lock` file with pid and host; a lock whose process is gone is taken over),
// cleared of temporary files a killed write left, and the JSON-lines history files in it kept
// equal to what the checkpoint says was done (records past the checkpoint are dropped on resume).
// Node only: node:fs is imported when a folder is opened, so browser bundles never load it.

import { writeTextAtomic, TEMP_SUFFIX } from './state.js';
import type { StreamEntry } from './checkpoint.js';

export const LOCK_FILE = 'lock';

interface LockInfo {
  pid: number;
  hostname: string;
  started: string;
}

export interface RunFolder {
  readonly dir: string;
  /** Path of a file in the folder. */
  file(name: string): string;
  exists(name: string): boolean;
  /** Replaces a text file atomically. */
  writeText(name: string, text: string): void;
  /** Appends one record to `<stream>.jsonl`. */
  append(stream: string, entry: StreamEntry): void;
  /** Makes `<stream>.jsonl` hold exactly `entries`; says what it changed (null: nothing). */
  reconcile(stream: string, entries: StreamEntry[]): string | null;
  /** Removes the lock (idempotent). */
  release(): void;
}

export class RunFolderError extends Error {
  override name = 'RunFolderError';
}

/** One JSON line of a history file: the record, then where the run stood after it. */
export function streamLine(e: StreamEntry): string {
  return JSON.stringify({ ...e.record, at: e.at }) + '\n';
}

/**
 * Creates `dir` (and missing parents, one by one) or fails at once naming the part that cannot
 * be made; takes its lock; removes stray temporary files. `log` reports what was cleaned up.
 */
export async function openRunFolder(dir: string, log: (line: string) => void = () => {}): Promise<RunFolder> {
  const fs = await import('node:fs');
  const path = await import('node:path');
  const os = await import('node:os');
  const abs = path.resolve(dir);
  makeFolder(fs, path, abs, dir);
  const lockPath = path.join(abs, LOCK_FILE);
  takeLock(fs, lockPath, dir, os.hostname(), log);
  let locked = true;
  for (const name of fs.readdirSync(abs)) {
    const at = name.lastIndexOf(TEMP_SUFFIX);
    if (at > 0 && /^\d+$/.test(name.slice(at + TEMP_SUFFIX.length))) {
      fs.rmSync(path.join(abs, name), { force: true });
      log(`${path.join(dir, name)}: removed (a temporary file left by a killed write)`);
    }
  }
  const file = (name: string) => path.join(abs, name);
  return {
    dir,
    file,
    exists: (name) => fs.existsSync(file(name)),
    writeText: (name, text) => writeTextAtomic(fs, file(name), text),
    append: (stream, entry) => fs.appendFileSync(file(`${stream}.jsonl`), streamLine(entry)),
    reconcile(stream, entries) {
      const target = file(`${stream}.jsonl`);
      const want = entries.map(streamLine).join('');
      const have = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : null;
      if (have === want || (have === null && want === '')) return null;
      writeTextAtomic(fs, target, want);
      const name = `${stream}.jsonl`;
      if (have === null) return `${name}: missing, rewritten from the checkpoint (${entries.length} records)`;
      if (!have.startsWith(want)) return `${name}: differed from the checkpoint's copy, rewritten (${entries.length} records)`;
      const extra = have.slice(want.length).split('\n').filter((l) => l.trim()).length;
      return `${name}: ${extra} record${extra === 1 ? '' : 's'} past the checkpoint dropped (written after it by the run that stopped)`;
    },
    release() {
      if (!locked) return;
      locked = false;
      try {
        const info = JSON.parse(fs.readFileSync(lockPath, 'utf8')) as LockInfo;
        if (info.pid === process.pid) fs.rmSync(lockPath, { force: true });
      } catch {
        // Gone already, or not ours any more.
      }
    },
  };
}

function makeFolder(fs: typeof import('node:fs'), path: typeof import('node:path'), abs: string, shown: string): void {
  const missing: string[] = [];
  let at = abs;
  for (;;) {
    let stat: import('node:fs').Stats | null = null;
    try {
      stat = fs.statSync(at);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // ENOTDIR: a part above is a file; the walk up finds it and says so.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new RunFolderError(`cannot create the run folder ${shown}: ${at}: ${code}`);
    }
    if (stat) {
      if (!stat.isDirectory()) throw new RunFolderError(`cannot create the run folder ${shown}: ${at} is a file, not a folder`);
      break;
    }
    missing.unshift(at);
    const parent = path.dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const part of missing) {
    try {
      fs.mkdirSync(part);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && fs.statSync(part).isDirectory()) continue;
      const why = code === 'ENOENT' ? 'the filesystem there does not allow new folders' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code ?? (e as Error).message;
      throw new RunFolderError(`cannot create the run folder ${shown}: mkdir ${part} failed (${why})`);
    }
  }
  try {
    fs.accessSync(abs, fs.constants.W_OK);
  } catch {
    throw new RunFolderError(`the run folder ${shown} is not writable`);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function takeLock(fs: typeof import('node:fs'), lockPath: string, shown: string, hostname: string, log: (line: string) => void): void {
  const mine: LockInfo = { pid: process.pid, hostname, started: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockPath, JSON.stringify(mine) + '\n', { flag: 'wx' });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new RunFolderError(`cannot lock the run folder ${shown}: ${(e as Error).message}`);
    }
    let held: LockInfo | null = null;
    try {
      held = JSON.parse(fs.readFileSync(lockPath, 'utf8')) as LockInfo;
    } catch {
      // Unreadable: being written this instant, or cut short by a kill; old means the latter.
      const age = Date.now() - fs.statSync(lockPath).mtimeMs;
      if (age < 10_000) throw new RunFolderError(`the run folder ${shown} is being locked by another run (${lockPath} is being written)`);
    }
    if (held && held.hostname !== hostname) {
      throw new RunFolderError(`the run folder ${shown} is locked by pid ${held.pid} on host ${held.hostname} (since ${held.started}); ` +
        `if no run is using it any more, delete ${lockPath}`);
    }
    if (held && isAlive(held.pid)) {
      throw new RunFolderError(`the run folder ${shown} is in use by another run (pid ${held.pid} on ${held.hostname}, since ${held.started}); ` +
        'wait for it to end, stop it, or choose another --run folder');
    }
    log(`${shown}: taking over the lock of ${held ? `pid ${held.pid} (started ${held.started}), which is no longer running` : 'a run that was killed while locking'}`);
    fs.rmSync(lockPath, { force: true });
  }
  throw new RunFolderError(`cannot lock the run folder ${shown}: another run took it at the same time`);
}
