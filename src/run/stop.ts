// How a long run is asked to stop at the next step boundary, checkpoint and return: Ctrl-C or
// SIGTERM in Node (a second one quits at once), an AbortSignal anywhere (a browser page's stop
// button), or a step budget (tests of resume).

export interface StopOptions {
  signal?: AbortSignal;
  /** Stop after this many steps of this run. */
  afterSteps?: number;
}

export class StopRequest {
  private signalled = false;
  private readonly detach: () => void = () => {};

  constructor(log: (line: string) => void, private readonly o: StopOptions = {}) {
    const proc = typeof process !== 'undefined' && typeof process.on === 'function' ? process : null;
    if (!proc) return;
    const onSignal = () => {
      if (this.signalled) proc.exit(130);
      this.signalled = true;
      log('\nstopping: saving a checkpoint (Ctrl-C again to quit at once)');
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
    return this.signalled || !!this.o.signal?.aborted || (this.o.afterSteps !== undefined && stepsThisRun >= this.o.afterSteps);
  }

  dispose(): void {
    this.detach();
  }
}
