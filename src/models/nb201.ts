// The NAS-Bench-201 space: a cell of 4 nodes where every earlier node feeds every later one
// through one of 5 ops (6 edges), output = node 3; the network is a 3x3 stem to 16 channels,
// three stages of N cells (16, 32, 64 channels) joined by stride-2 ResNet blocks, then
// BN-ReLU-GAP-linear. Each edge also carries a learning rule in bionas.
// Architecture strings use the benchmark's notation: |op~0|+|op~0|op~1|+|op~0|op~1|op~2|.

import { Tensor } from '../tensor.js';
import { Module } from '../nn/module.js';
import { Conv2d, Linear } from '../nn/layers.js';
import { BatchNorm2d } from '../nn/batchnorm.js';
import { GlobalAvgPool, AvgPool2d } from '../nn/basic.js';
import { relu, add } from '../ops/elementwise.js';
import { Generator } from '../ops/random.js';
import { tapOutput } from '../rules/dfa.js';
import type { RuleName } from '../rules/rule.js';
import { makeOp, checkPair, ReLUConvBN, NB201_OPS, type OpName } from './operations.js';

export interface Nb201Edge {
  op: OpName;
  rule: RuleName;
}

/** Edges in the benchmark's order: 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2. */
export type Nb201Genotype = Nb201Edge[];
export const NB201_EDGES: [number, number][] = [[1, 0], [2, 0], [2, 1], [3, 0], [3, 1], [3, 2]];

export function parseNb201(arch: string, rules: RuleName[] = []): Nb201Genotype {
  const nodes = arch.trim().split('+');
  const fail = (why: string) => new Error(`NAS-Bench-201 architecture '${arch}': ${why} (expected |op~0|+|op~0|op~1|+|op~0|op~1|op~2|)`);
  if (nodes.length !== 3) throw fail(`${nodes.length} nodes, expected 3`);
  const edges: Nb201Genotype = [];
  nodes.forEach((node, i) => {
    const parts = node.split('|').filter(Boolean);
    if (parts.length !== i + 1) throw fail(`node ${i + 1} has ${parts.length} inputs, expected ${i + 1}`);
    parts.forEach((p, j) => {
      const [op, from] = p.split('~');
      if (!(NB201_OPS as readonly string[]).includes(op)) throw fail(`unknown op '${op}' (ops: ${NB201_OPS.join(', ')})`);
      if (Number(from) !== j) throw fail(`node ${i + 1} input ${j} names ~${from}`);
      try {
        edges.push(checkPair(op, rules[edges.length] ?? 'bp'));
      } catch (e) {
        throw fail(`edge ${edges.length}: ${(e as Error).message}`);
      }
    });
  });
  return edges;
}

export function nb201String(g: Nb201Genotype): string {
  const at = (k: number) => `${g[k].op}~${NB201_EDGES[k][1]}`;
  return `|${at(0)}|+|${at(1)}|${at(2)}|+|${at(3)}|${at(4)}|${at(5)}|`;
}

export class Nb201Cell extends Module {
  readonly ops: Module[];
  constructor(genotype: Nb201Genotype, C: number, gen: Generator, affine = true, numClasses?: number) {
    super();
    this.ops = genotype.map((e) => makeOp(e.op, { C, stride: 1, affine, layer: { rule: e.rule, gen, numClasses } }));
  }
  forward(x: Tensor): Tensor {
    const nodes = [x];
    for (let i = 1; i <= 3; i++) {
      let sum: Tensor | null = null;
      NB201_EDGES.forEach(([to, from], k) => {
        if (to !== i) return;
        const h = this.ops[k].forward(nodes[from]);
        sum = sum ? add(sum, h) : h;
      });
      nodes.push(sum!);
    }
    return nodes[3];
  }
}

/** NB201's stride-2 ResNet block: ReLUConvBN 3x3 s2, ReLUConvBN 3x3, shortcut avgpool 2 + 1x1 conv. */
export class Nb201ResBlock extends Module {
  readonly convA: ReLUConvBN;
  readonly convB: ReLUConvBN;
  readonly pool = new AvgPool2d({ kernel: 2, stride: 2, padding: 0 });
  readonly downsample: Conv2d;
  constructor(cin: number, cout: number, gen: Generator) {
    super();
    this.convA = new ReLUConvBN(cin, cout, 3, 2, 1, true, { gen });
    this.convB = new ReLUConvBN(cout, cout, 3, 1, 1, true, { gen });
    this.downsample = new Conv2d(cin, cout, 1, { gen });
  }
  forward(x: Tensor): Tensor {
    return add(this.convB.forward(this.convA.forward(x)), this.downsample.forward(this.pool.forward(x)));
  }
}

export class Nb201Network extends Module {
  readonly stem: Conv2d;
  readonly stemBn: BatchNorm2d;
  readonly layers: Module[];
  readonly lastBn: BatchNorm2d;
  readonly pool = new GlobalAvgPool();
  readonly classifier: Linear;

  constructor(readonly genotype: Nb201Genotype, opts: { C?: number; cellsPerStage?: number; numClasses: number; gen: Generator; inChannels?: number }) {
    super();
    const C = opts.C ?? 16, N = opts.cellsPerStage ?? 5, gen = opts.gen;
    this.stem = new Conv2d(opts.inChannels ?? 3, C, 3, { padding: 1, gen });
    this.stemBn = new BatchNorm2d(C);
    this.layers = [];
    let cPrev = C;
    for (const [stage, width] of [C, 2 * C, 4 * C].entries()) {
      if (stage > 0) {
        this.layers.push(new Nb201ResBlock(cPrev, width, gen));
        cPrev = width;
      }
      for (let i = 0; i < N; i++) this.layers.push(new Nb201Cell(genotype, width, gen, true, opts.numClasses));
    }
    this.lastBn = new BatchNorm2d(cPrev);
    this.classifier = new Linear(cPrev, opts.numClasses, { gen });
  }

  forward(x: Tensor): Tensor {
    let y = this.stemBn.forward(this.stem.forward(x));
    for (const layer of this.layers) y = layer.forward(y);
    return tapOutput(this.classifier.forward(this.pool.forward(relu(this.lastBn.forward(y)))));
  }
}
