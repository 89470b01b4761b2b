// Running sums of a phase (summed losses, hits) kept on the GPU and read back only when the
// metrics are shown, and carried through a checkpoint taken inside a phase, so that a resumed
// epoch reports what an uninterrupted one would.

import { Tensor, keep } from '../tensor.js';
import { fillInPlace } from '../ops/fill.js';

/** What a checkpoint inside a phase keeps of the sums (null at a phase boundary). */
export interface CarriedSums {
  sums: Record<string, number>;
  seen: number;
}

export class RunningSums<K extends string> {
  /** One [1] tensor per name, added into by the steps. */
  readonly t: Record<K, Tensor>;
  /** Images counted into the sums. */
  seen = 0;
  /** `seen` when this process began the phase, and when: for images per second. */
  private seenAtStart = 0;
  private started = 0;
  private carried: CarriedSums | null = null;

  constructor(readonly names: readonly K[]) {
    this.t = Object.fromEntries(names.map((n) => [n, keep(Tensor.empty([1]))])) as Record<K, Tensor>;
  }

  /** At a phase's start: zeros, or the sums a restored checkpoint carried. */
  begin(): void {
    for (const n of this.names) fillInPlace(this.t[n], this.carried?.sums[n] ?? 0);
    this.seen = this.seenAtStart = this.carried?.seen ?? 0;
    this.carried = null;
    this.started = performance.now();
  }

  /** The sums, read back (one sync). */
  async values(): Promise<Record<K, number>> {
    const data = await Promise.all(this.names.map((n) => this.t[n].data()));
    return Object.fromEntries(this.names.map((n, i) => [n, data[i][0]])) as Record<K, number>;
  }

  /** Sum `name` per image seen. */
  mean(values: Record<K, number>, name: K): number {
    return values[name] / Math.max(1, this.seen);
  }

  /** Seconds since begin() in this process, and images per second over them (times `per` images a count). */
  timing(per = 1): { seconds: number; imagesPerSec: number } {
    const seconds = (performance.now() - this.started) / 1000;
    return { seconds, imagesPerSec: (per * (this.seen - this.seenAtStart)) / seconds };
  }

  /** What a checkpoint after `step` steps of the phase keeps. */
  async carry(step: number): Promise<CarriedSums | null> {
    return step > 0 ? { sums: await this.values(), seen: this.seen } : null;
  }

  restore(carried: CarriedSums | null): void {
    this.carried = carried;
  }

  release(): void {
    for (const n of this.names) this.t[n].release();
  }
}
