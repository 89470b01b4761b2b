// How a long run is asked to stop at the next step boundary, checkpoint and return: Ctrl-C or
// SIGTERM in Node (a second one quits at once), an AbortSignal anywhere (a browser page's stop
// button), or a step budget (tests of resume). Node runs a signal handler only when the event
// loop gets control, so the run loop yields after every step (yieldToEventLoop): a stop is
// acted on one step after the signal, not at the next metric read-back.

export type StopSignal = 'SIGINT' | 'SIGTERM';

/** Exit codes of a run stopped by a signal (128 + the signal number, as shells report them). */
export const SIGNAL_EXIT_CODES: Record<StopSignal, number> = { SIGINT: 130, SIGTERM: 143 };

export interface StopOptions {
  signal?: AbortSignal;
  /** Stop after this many steps of this run. */
  afterSteps?: number;
}

export class StopRequest {
  /** The process signal that asked for the stop, if one did. */
  signalled: StopSignal | null = null;
  private readonly detach: () => void = () => {};

  constructor(log: (line: string) => void, private readonly o: StopOptions = {}) {
    const proc = typeof process !== 'undefined' && typeof process.on === 'function' ? process : null;
    if (!proc) return;
    const onSignal = (name: StopSignal) => {
      if (this.signalled) proc.exit(SIGNAL_EXIT_CODES[name]);
      this.signalled = name;
      log(`\nstopping (${name}): saving a checkpoint at the end of this step (Ctrl-C again to quit at once)`);
    };
    proc.on('SIGINT', onSignal);
    proc.on('SIGTERM', onSignal);
    this.detach = () => {
      proc.off('SIGINT', onSignal);
      proc.off('SIGTERM', onSignal);
    };
  }

  /** Whether the loop should stop now, having run `stepsThisRun` steps. */
  due(stepsThisRun: number): boolean {
    return this.signalled !== null || !!this.o.signal?.aborted || (this.o.afterSteps !== undefined && stepsThisRun >= this.o.afterSteps);
  }

  dispose(): void {
    this.detach();
  }
}

/**
 * Lets pending events (signal handlers, a page's stop button) run: setImmediate in Node, a
 * message-channel turn in a browser (setTimeout(0) would be clamped to 4 ms).
 */
export function yieldToEventLoop(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}
