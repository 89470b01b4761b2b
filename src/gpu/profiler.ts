// Which kernels dominate a step. The step runs once with its dispatches captured; then each
// captured dispatch is replayed alone, `reps` times, and timed to completion. This needs no
// timestamp queries (llvmpipe has none) and sees each kernel with the real shapes and buffers.
// Replays write into the step's buffers again (an optimizer updates once more): profile a
// throwaway model.

import { gpu } from './runtime.js';
import type { CapturedDispatch } from './encoder.js';

export interface KernelTime {
  kernel: string;
  /** Dispatches of this kernel in one step. */
  count: number;
  /** Milliseconds this kernel's dispatches take in one step. */
  ms: number;
  share: number;
}

/** Family of a pipeline label: the kernel name without its override constants. */
const family = (label: string) => label.replace(/\[.*$/, '');

export async function profileStep(step: () => void | Promise<void>, reps = 3): Promise<{ total: number; kernels: KernelTime[] }> {
  const rt = gpu();
  await rt.sync();
  const captured: CapturedDispatch[] = [];
  rt.recorder.capture = captured;
  try {
    await step();
    await rt.sync();
  } finally {
    rt.recorder.capture = null;
  }
  const times = new Map<string, { count: number; ms: number }>();
  for (const d of captured) {
    rt.recorder.replay(d, 1); // warm
    await rt.device.queue.onSubmittedWorkDone();
    const t0 = performance.now();
    rt.recorder.replay(d, reps);
    await rt.device.queue.onSubmittedWorkDone();
    const ms = (performance.now() - t0) / reps;
    const name = family(d.label);
    const entry = times.get(name) ?? { count: 0, ms: 0 };
    entry.count++;
    entry.ms += ms;
    times.set(name, entry);
  }
  await rt.sync();
  const total = [...times.values()].reduce((a, t) => a + t.ms, 0);
  const kernels = [...times.entries()].map(([kernel, t]) => ({ kernel, count: t.count, ms: t.ms, share: t.ms / total })).sort((a, b) => b.ms - a.ms);
  return { total, kernels };
}

export function formatProfile(p: { total: number; kernels: KernelTime[] }, top = 12): string {
  const lines = p.kernels.slice(0, top).map((k) => `  ${k.kernel.padEnd(28)} ${String(k.count).padStart(5)} dispatches  ${k.ms.toFixed(2).padStart(9)} ms  ${(100 * k.share).toFixed(1).padStart(5)}%`);
  return `kernel time per step (replayed one by one): ${p.total.toFixed(1)} ms\n${lines.join('\n')}`;
}
