// Conv2d benchmark cases (NCHW in bionas): the dense 3x3 conv of a ResNet-20 stage, its input
// and weight gradients, and the pointwise / depthwise / dilated depthwise convs of DARTS cells.
// tfjs runs the same computation on NHWC tensors (its native layout), with filters laid out
// [kh, kw, in, out] (depthwise: [kh, kw, C, 1]); the layout is noted in each case name.

import { randomArray as random, bionasRun, tfjsRun, type BenchCase } from './harness.js';
import { Tensor } from '../src/tensor.js';
import {
  conv2dForward, conv2dBackwardInput, conv2dBackwardWeight, convOutputShape, type Conv2dParams,
} from '../src/ops/conv.js';


interface Geometry {
  N: number; C: number; H: number; W: number; O: number; k: number;
  stride: number; pad: number; dilation: number; groups: number;
}

function derived(g: Geometry) {
  const params: Conv2dParams = { stride: g.stride, padding: g.pad, dilation: g.dilation, groups: g.groups };
  const xShape = [g.N, g.C, g.H, g.W];
  const wShape = [g.O, g.C / g.groups, g.k, g.k];
  const yShape = convOutputShape(xShape, wShape, params);
  const [, , OH, OW] = yShape;
  const macs = g.N * g.O * OH * OW * (g.C / g.groups) * g.k * g.k;
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  return { params, xShape, wShape, yShape, OH, OW, macs, nx: size(xShape), nw: size(wShape), ny: size(yShape) };
}

const depthwise = (g: Geometry) => g.groups === g.C && g.O === g.C;

/** tfjs padding for a symmetric pad (explicit NHWC padding). */
function tfPad(g: Geometry): number[][] {
  return [[0, 0], [g.pad, g.pad], [g.pad, g.pad], [0, 0]];
}

function describe(g: Geometry): string {
  const kind = depthwise(g) ? 'depthwise ' : '';
  const dil = g.dilation > 1 ? ` dil ${g.dilation}` : '';
  const str = g.stride > 1 ? ` stride ${g.stride}` : '';
  const ch = depthwise(g) ? `C=${g.C}` : `${g.C}->${g.O}`;
  return `${kind}${g.k}x${g.k} ${ch} batch ${g.N} ${g.H}x${g.W} pad ${g.pad}${str}${dil}`;
}

function forwardCase(g: Geometry): BenchCase {
  const d = derived(g);
  const dw = depthwise(g);
  return {
    name: `conv2d ${describe(g)} (tfjs: NHWC)`,
    family: 'conv',
    flops: 2 * d.macs,
    bytes: 4 * (d.nx + d.nw + d.ny),
    bionas() {
      const x = Tensor.fromData(random(d.nx, 1), d.xShape);
      const w = Tensor.fromData(random(d.nw, 2), d.wShape);
      return bionasRun([x, w], () => conv2dForward(x, w, d.params));
    },
    tfjs(tf: any) {
      const x = tf.tensor(random(d.nx, 1), [g.N, g.H, g.W, g.C]);
      if (dw) {
        const w = tf.tensor(random(d.nw, 2), [g.k, g.k, g.C, 1]);
        return tfjsRun([x, w], () => tf.depthwiseConv2d(x, w, g.stride, tfPad(g), 'NHWC', g.dilation));
      }
      const w = tf.tensor(random(d.nw, 2), [g.k, g.k, g.C, g.O]);
      return tfjsRun([x, w], () => tf.conv2d(x, w, g.stride, tfPad(g), 'NHWC', g.dilation));
    },
  };
}

function inputGradCase(g: Geometry): BenchCase {
  const d = derived(g);
  const dw = depthwise(g);
  return {
    name: `conv2d input-grad ${describe(g)} (tfjs: NHWC)`,
    family: 'conv',
    flops: 2 * d.macs,
    bytes: 4 * (d.nx + d.nw + d.ny),
    bionas() {
      const gy = Tensor.fromData(random(d.ny, 3), d.yShape);
      const w = Tensor.fromData(random(d.nw, 2), d.wShape);
      return bionasRun([gy, w], () => conv2dBackwardInput(gy, w, d.xShape, d.params));
    },
    tfjs(tf: any) {
      const dy = tf.tensor(random(d.ny, 3), [g.N, d.OH, d.OW, g.O]);
      const attrs = { inputShape: [g.N, g.H, g.W, g.C], strides: g.stride, pad: tfPad(g), dataFormat: 'NHWC', dimRoundingMode: undefined };
      if (dw) {
        const w = tf.tensor(random(d.nw, 2), [g.k, g.k, g.C, 1]);
        return tfjsRun([dy, w], () => tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: w },
          { strides: g.stride, pad: tfPad(g), dilations: g.dilation, dimRoundingMode: undefined, inputShape: [g.N, g.H, g.W, g.C] }));
      }
      const w = tf.tensor(random(d.nw, 2), [g.k, g.k, g.C, g.O]);
      return tfjsRun([dy, w], () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, attrs));
    },
  };
}

function weightGradCase(g: Geometry): BenchCase {
  const d = derived(g);
  const dw = depthwise(g);
  return {
    name: `conv2d weight-grad ${describe(g)} (tfjs: NHWC)`,
    family: 'conv',
    flops: 2 * d.macs,
    bytes: 4 * (d.nx + d.nw + d.ny),
    bionas() {
      const x = Tensor.fromData(random(d.nx, 1), d.xShape);
      const gy = Tensor.fromData(random(d.ny, 3), d.yShape);
      return bionasRun([x, gy], () => conv2dBackwardWeight(x, gy, d.wShape, d.params));
    },
    tfjs(tf: any) {
      const x = tf.tensor(random(d.nx, 1), [g.N, g.H, g.W, g.C]);
      const dy = tf.tensor(random(d.ny, 3), [g.N, d.OH, d.OW, g.O]);
      if (dw) {
        return tfjsRun([x, dy], () => tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy },
          { strides: g.stride, pad: tfPad(g), dilations: g.dilation, dimRoundingMode: undefined, filterShape: [g.k, g.k, g.C, 1] }));
      }
      return tfjsRun([x, dy], () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy },
        { strides: g.stride, pad: tfPad(g), dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: [g.k, g.k, g.C, g.O] }));
    },
  };
}

const dense3x3: Geometry = { N: 32, C: 16, H: 32, W: 32, O: 16, k: 3, stride: 1, pad: 1, dilation: 1, groups: 1 };
const depthwise3x3: Geometry = { N: 64, C: 32, H: 16, W: 16, O: 32, k: 3, stride: 1, pad: 1, dilation: 1, groups: 32 };
const pointwise: Geometry = { N: 64, C: 64, H: 8, W: 8, O: 64, k: 1, stride: 1, pad: 0, dilation: 1, groups: 1 };
// The 1x1 convs of a DARTS sep/dil conv at search size (C=16, 32x32).
const pointwiseSearch: Geometry = { N: 32, C: 16, H: 32, W: 32, O: 16, k: 1, stride: 1, pad: 0, dilation: 1, groups: 1 };
const dilated5x5: Geometry = { N: 64, C: 32, H: 16, W: 16, O: 32, k: 5, stride: 1, pad: 4, dilation: 2, groups: 32 };

export const cases: BenchCase[] = [
  forwardCase(dense3x3),
  inputGradCase(dense3x3),
  weightGradCase(dense3x3),
  forwardCase(depthwise3x3),
  inputGradCase(depthwise3x3),
  weightGradCase(depthwise3x3),
  forwardCase(pointwise),
  weightGradCase(pointwise),
  weightGradCase(pointwiseSearch),
  forwardCase(dilated5x5),
  inputGradCase(dilated5x5),
  weightGradCase(dilated5x5),
];

export default cases;
