// The bionas executable (dist/bionas.mjs): runs the command line (main.ts) in a child process
// whose file descriptor 2 it reads, because that is the only place Dawn's native start-up
// notices can be caught (see src/gpu/device.ts): the known ones are hidden, every other line
// (Dawn's errors, Mesa's, a crash) is passed on. The child's JavaScript stderr (messages,
// the progress bar) goes to the real stderr directly through fd 3, so it still sees a TTY.
//
// Not wrapped: --verbose / BIONAS_VERBOSE=1 (Dawn's lines as printed), --help, Windows, and a
// child (BIONAS_STDERR_FD set). Signals: Ctrl-C reaches both processes (one process group), so
// the parent ignores SIGINT and lets the child stop and checkpoint; SIGTERM and SIGHUP sent to
// the parent are passed on once; if the parent is killed, the child dies at its next timer turn
// (PARENT_POLL_MS, or the end of a long GPU call).

import { isVerbose, DawnNoticeFilter } from '../gpu/device.js';

/** The child's fd for its own stderr: the parent's fd 2, shared. */
const CHILD_STDERR_FD = 3;
const PARENT_POLL_MS = 100;
/** A partial line of Dawn output is printed as it is after this long without its newline. */
const PARTIAL_LINE_MS = 200;

async function start(): Promise<void> {
  const fd = process.env.BIONAS_STDERR_FD;
  if (fd) {
    delete process.env.BIONAS_STDERR_FD;
    process.env.BIONAS_DAWN_FILTERED = '1';
    await useStderrFd(Number(fd));
    dieWithParent();
  } else if (wraps(process.argv.slice(2))) {
    return runFiltered();
  }
  await import('./main.js');
}

function wraps(args: string[]): boolean {
  const help = !args.length || ['help', '--help', '-h'].includes(args[0]) || args.includes('--help') || args.includes('-h');
  return process.platform !== 'win32' && !help && !isVerbose(args);
}

/** Points process.stderr (hence console.error) at `fd`; done before anything writes to it. */
async function useStderrFd(fd: number): Promise<void> {
  const tty = await import('node:tty');
  const fs = await import('node:fs');
  const { Writable } = await import('node:stream');
  // Synchronous writes, as Node's own stderr: nothing is lost at process.exit().
  const writeAll = (bytes: Uint8Array) => {
    for (let off = 0; off < bytes.length;) {
      try {
        off += fs.writeSync(fd, bytes, off);
      } catch (e) {
        // The shared file description may be non-blocking (the parent's stderr pipe): wait a little.
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      }
    }
  };
  const stream = tty.isatty(fd) ? new tty.WriteStream(fd) : new Writable({
    write(chunk: Buffer, _encoding, done) {
      try {
        writeAll(chunk);
        done();
      } catch (e) {
        done(e as Error);
      }
    },
  });
  Object.defineProperty(process, 'stderr', { configurable: true, enumerable: true, get: () => stream });
}

function dieWithParent(): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL');
  }, PARENT_POLL_MS).unref();
}

async function runFiltered(): Promise<void> {
  const { spawn } = await import('node:child_process');
  // A debugger port cannot be opened twice.
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--inspect'));
  const child = spawn(process.execPath, [...execArgv, process.argv[1], ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'pipe', 2],
    env: { ...process.env, BIONAS_STDERR_FD: String(CHILD_STDERR_FD) },
  });
  const ignore = () => {};
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const handlers: [NodeJS.Signals, () => void][] = [['SIGINT', ignore], ['SIGTERM', forward('SIGTERM')], ['SIGHUP', forward('SIGHUP')]];
  for (const [signal, handler] of handlers) process.on(signal, handler);

  const filter = new DawnNoticeFilter();
  let pending = '';
  let timer: NodeJS.Timeout | undefined;
  const flushPartial = () => {
    if (pending && filter.shows(pending)) process.stderr.write(pending);
    pending = '';
  };
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    clearTimeout(timer);
    const lines = (pending + chunk).split('\n');
    pending = lines.pop()!;
    const shown = lines.filter((line) => filter.shows(line));
    if (shown.length) process.stderr.write(shown.map((line) => `${line}\n`).join(''));
    if (pending) timer = setTimeout(flushPartial, PARTIAL_LINE_MS);
  });
  child.on('error', (e) => {
    console.error(`bionas: could not start ${process.execPath}: ${e.message}`);
    process.exitCode = 1;
  });
  child.on('close', (code, signal) => {
    clearTimeout(timer);
    flushPartial();
    for (const [name, handler] of handlers) process.off(name, handler);
    // Die as the child died, so the shell sees the same status.
    if (signal) process.kill(process.pid, signal);
    else process.exitCode = code ?? 1;
  });
}

await start();
