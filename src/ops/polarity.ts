// The polarity gate of MSE-NAS' spiking ops (BrainCog's si_relu): an excitatory op keeps the
// positive part of its input, an inhibitory op the negative part. The backward reads the
// output (nonzero exactly where the gate was open), so the input can be freed.

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { Tensor } from '../tensor.js';
import { record } from '../tape.js';
import source from '../../shaders/snn/polarity.wgsl';

const kernel = new Kernel('polarity', source);

export type Polarity = 'exc' | 'inh';
export const POLARITIES: readonly Polarity[] = ['exc', 'inh'];
const SIGN: Record<Polarity, number> = { exc: 1, inh: -1 };

function checkPolarity(op: string, polarity: Polarity): void {
  if (!POLARITIES.includes(polarity)) throw new Error(`${op}: polarity must be one of ${POLARITIES.join(', ')}, got ${String(polarity)}`);
}

/** x where x > 0 ('exc') or x < 0 ('inh'), else 0. */
export function polarityGateForward(x: Tensor, polarity: Polarity): Tensor {
  checkPolarity('polarityGate', polarity);
  if (x.dtype !== 'f32') throw new Error(`polarityGate: needs an f32 tensor, got ${x.dtype}`);
  const out = Tensor.empty(x.shape, 'f32', 'polarity');
  if (x.size > 0) gpu().dispatch1d(kernel, { v: x.buffer, g: x.buffer, out: out.buffer }, { n: x.size }, x.size, { MODE: 0, SIGN: SIGN[polarity] });
  return out;
}

/** g where the gate was open, read from the forward's output y. */
export function polarityGateBackward(g: Tensor, y: Tensor, polarity: Polarity): Tensor {
  checkPolarity('polarityGate backward', polarity);
  if (g.size !== y.size) throw new Error(`polarityGate backward: gradient of ${g.size} values for an output of ${y.size}`);
  const out = Tensor.empty(g.shape, 'f32', 'polarity.grad');
  if (g.size > 0) gpu().dispatch1d(kernel, { v: y.buffer, g: g.buffer, out: out.buffer }, { n: g.size }, g.size, { MODE: 1, SIGN: SIGN[polarity] });
  return out;
}

export function polarityGate(x: Tensor, polarity: Polarity): Tensor {
  const y = polarityGateForward(x, polarity);
  return record(y, 'polarityGate', [x], (g) => [polarityGateBackward(g, y, polarity)]);
}
