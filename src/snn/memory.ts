// Peak GPU memory of one T-step training step of a spiking network (forward over all steps,
// cross-entropy, backward through time), measured as src/search/memory.ts does: the pool
// counts live bytes as the step is encoded, so the peak is exact without waiting for the GPU.
// Also counts the submits made while the step was encoded: a whole step is meant to be one
// command encoder, so 0 (the step is still in the one open encoder when it ends). The step runs
// in an evaluating context with batch statistics: BN normalises as in training but no running
// statistic moves, so measuring leaves the model as it was (its gradients are released).

import { gpu } from '../gpu/runtime.js';
import { Tensor, scope } from '../tensor.js';
import { backward } from '../autograd.js';
import { withContext } from '../context.js';
import { crossEntropy } from '../ops/loss.js';
import { Generator, randomNormal } from '../ops/random.js';
import type { SpikingNetwork } from '../models/spiking_network.js';

export interface SpikingStepMemory {
  batch: number;
  T: number;
  /** Peak live pool bytes during the step (weights and gradients included). */
  peakBytes: number;
  /** Live bytes before the step (weights, optimizer state, anything else held). */
  baseBytes: number;
  /** Submits while the step was encoded: 0 = the whole step is in one (still open) command encoder. */
  submits: number;
}

/** Encodes one forward+backward on a random batch; leaves the parameters' gradients zeroed (released). */
export function measureSpikingStep(model: SpikingNetwork, batch: number, image: { channels: number; height: number; width: number; classes: number }, seed = 0): SpikingStepMemory {
  const rt = gpu();
  const gen = new Generator(seed);
  const x = randomNormal([batch, image.channels, image.height, image.width], gen);
  const y = Tensor.fromData(Int32Array.from({ length: batch }, (_, i) => i % image.classes), [batch], 'i32');
  rt.recorder.flush();
  const baseBytes = rt.pool.liveBytes;
  rt.pool.resetPeak();
  const serial = rt.recorder.serial;
  withContext({ mode: 'eval', batchStats: true }, () => scope(() => backward(crossEntropy(model.forward(x), y))));
  const submits = rt.recorder.serial - serial;
  const peakBytes = rt.pool.peakLiveBytes;
  for (const p of model.parameters()) {
    p.grad?.release();
    p.grad = null;
  }
  x.release();
  y.release();
  return { batch, T: model.T, peakBytes, baseBytes, submits };
}

export function memoryLine(m: SpikingStepMemory): string {
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  return `spiking step memory: peak ${mb(m.peakBytes)} for batch ${m.batch} x T ${m.T} (forward + backward through time; ${mb(m.baseBytes)} held before the step)`;
}
