// CIFAR ResNet-20/56 (He et al. 2016, section 4.2): a 3x3 stem to 16 channels, three stages
// of n basic blocks (16, 32, 64 channels; the first block of stages 2 and 3 has stride 2),
// global average pooling and a linear classifier; 6n+2 layers. Shortcuts are option A
// (subsample + zero channels). Every conv and the linear layer use one learning rule: the
// single-rule baselines of Biotorch (xavier init, SPEC 5).

import { Tensor } from '../tensor.js';
import { Module } from '../nn/module.js';
import { Conv2d, Linear, type LayerOptions } from '../nn/layers.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { GlobalAvgPool } from '../nn/basic.js';
import { relu, add } from '../ops/elementwise.js';
import { shortcutOptionA } from '../ops/shortcut.js';
import { tapOutput } from '../rules/dfa.js';

export class BasicBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;

  constructor(readonly inPlanes: number, readonly planes: number, readonly stride: number, layer: LayerOptions) {
    super();
    this.conv1 = new Conv2d(inPlanes, planes, 3, { ...layer, stride, padding: 1 });
    this.bn1 = new BatchNorm2d(planes);
    this.conv2 = new Conv2d(planes, planes, 3, { ...layer, padding: 1 });
    this.bn2 = new BatchNorm2d(planes);
  }

  forward(x: Tensor): Tensor {
    const y = this.bn2.forward(this.conv2.forward(relu(this.bn1.forward(this.conv1.forward(x)))));
    const shortcut = this.stride !== 1 || this.inPlanes !== this.planes
      ? shortcutOptionA(x, (this.planes - this.inPlanes) / 2, this.stride)
      : x;
    return relu(add(y, shortcut));
  }
}

export interface ResNetOptions extends LayerOptions {
  depth: number;
  numClasses: number;
  inChannels?: number;
}

export class CifarResNet extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly blocks: BasicBlock[];
  readonly pool = new GlobalAvgPool();
  readonly fc: Linear;

  constructor(readonly opts: ResNetOptions) {
    super();
    if ((opts.depth - 2) % 6 !== 0 || opts.depth < 8) throw new Error(`ResNet depth must be 6n+2 (20, 32, 44, 56, 110), got ${opts.depth}`);
    const n = (opts.depth - 2) / 6;
    const layer: LayerOptions = { rule: opts.rule, init: opts.init ?? 'xavier', numClasses: opts.numClasses, gen: opts.gen };
    this.conv1 = new Conv2d(opts.inChannels ?? 3, 16, 3, { ...layer, padding: 1 });
    this.bn1 = new BatchNorm2d(16);
    this.blocks = [];
    let inPlanes = 16;
    for (const [planes, stride] of [[16, 1], [32, 2], [64, 2]]) {
      for (let i = 0; i < n; i++) {
        this.blocks.push(new BasicBlock(inPlanes, planes, i === 0 ? stride : 1, layer));
        inPlanes = planes;
      }
    }
    this.fc = new Linear(64, opts.numClasses, layer);
  }

  forward(x: Tensor): Tensor {
    let y = relu(this.bn1.forward(this.conv1.forward(x)));
    for (const block of this.blocks) y = block.forward(y);
    return tapOutput(this.fc.forward(this.pool.forward(y)));
  }
}

export const resnet20 = (o: Omit<ResNetOptions, 'depth'>) => new CifarResNet({ ...o, depth: 20 });
export const resnet56 = (o: Omit<ResNetOptions, 'depth'>) => new CifarResNet({ ...o, depth: 56 });
