// The option-A ResNet shortcut: subsample, then zero-pad channels (no parameters).

import { gpu } from '../gpu/runtime.js';
import { Kernel } from '../gpu/kernels.js';
import { Tensor, fmt } from '../tensor.js';
import { record } from '../tape.js';
import source from '../../shaders/shortcut/option_a.wgsl';

const kernel = new Kernel('shortcut_option_a', source);

/** x [N, C, H, W] -> [N, C + 2*pad, ceil(H/stride), ceil(W/stride)] */
export function shortcutOptionA(x: Tensor, pad: number, stride: number): Tensor {
  if (x.rank !== 4 || x.dtype !== 'f32') throw new Error(`shortcutOptionA: input must be f32 [N, C, H, W], got ${fmt(x.shape)} ${x.dtype}`);
  if (!(Number.isInteger(pad) && pad >= 0 && Number.isInteger(stride) && stride >= 1)) {
    throw new Error(`shortcutOptionA: pad ${pad} and stride ${stride} must be integers (pad >= 0, stride >= 1)`);
  }
  const [n, c, h, w] = x.shape;
  const outShape = [n, c + 2 * pad, Math.ceil(h / stride), Math.ceil(w / stride)];
  const dims = { in_c: c, in_h: h, in_w: w, out_c: outShape[1], out_h: outShape[2], out_w: outShape[3], pad, stride };
  const out = Tensor.empty(outShape);
  gpu().dispatch1d(kernel, { src: x.buffer, dst: out.buffer }, { n: out.size, ...dims }, out.size, { BACKWARD: 0 });
  return record(out, 'shortcut_option_a', [x], (g) => {
    const dx = Tensor.empty(x.shape);
    gpu().dispatch1d(kernel, { src: g.buffer, dst: dx.buffer }, { n: dx.size, ...dims }, dx.size, { BACKWARD: 1 });
    return [dx];
  });
}
