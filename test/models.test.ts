import { describe, it, expect } from 'vitest';
import { useGpu, fixedSeed } from './util.js';
import { Tensor, scope } from '../src/tensor.js';
import { backward, noGrad } from '../src/autograd.js';
import { Generator, randomNormal } from '../src/ops/random.js';
import { crossEntropy } from '../src/ops/loss.js';
import { SGD } from '../src/optim/sgd.js';
import { CifarResNet } from '../src/models/resnet.js';
import { NetworkCIFAR } from '../src/models/network.js';
import { Nb201Network, parseNb201, nb201String } from '../src/models/nb201.js';
import { loadGenotype, parseGenotype, GENOTYPE_PRESETS } from '../src/models/genotype.js';
import { isRuleArbitrary } from '../src/models/operations.js';
import { clearOutputError } from '../src/rules/dfa.js';
import { ruleNames } from '../src/rules/registry.js';
import { syntheticDataset } from '../src/data/synthetic.js';
import { BatchLoader } from '../src/data/loader.js';

useGpu();

describe('CIFAR ResNets', () => {
  it('ResNet-20 has 0.27M parameters and maps [N,3,32,32] to [N,10]; ResNet-56 0.85M', () => {
    const r20 = new CifarResNet({ depth: 20, numClasses: 10, gen: new Generator(0) });
    // He et al.: 0.27M and 0.85M (option-A shortcuts have no parameters; counted by hand).
    expect(r20.parameterCount()).toBe(269722);
    const y = noGrad(() => r20.eval().forward(randomNormal([2, 3, 32, 32], new Generator(1))));
    expect(y.shape).toEqual([2, 10]);
    const r56 = new CifarResNet({ depth: 56, numClasses: 10, gen: new Generator(0) });
    expect(r56.parameterCount()).toBe(853018);
    r20.dispose();
    r56.dispose();
    expect(() => new CifarResNet({ depth: 21, numClasses: 10 })).toThrow(/6n\+2/);
  });

  for (const rule of ruleNames()) {
    it(`ResNet-20 with ${rule} lowers its training loss in a few epochs`, async () => {
      const seed = fixedSeed(`resnet20 ${rule}`, 1);
      const gen = new Generator(seed);
      const model = new CifarResNet({ depth: 20, numClasses: 4, rule, gen });
      // 8x8 images: two stride-2 stages leave 2x2 maps; small enough for CI on a CPU.
      const data = syntheticDataset({ count: 48, classes: 4, size: 8, seed, noise: 15 });
      const loader = new BatchLoader(data, { batchSize: 16, shuffle: true, seed });
      // The loss over all 48 images, not the last batches': single batches of 16 swing by 2x.
      const all = new BatchLoader(data, { batchSize: 48, shuffle: false });
      const wholeSetLoss = async (): Promise<number> => {
        const [b] = [...all.epoch(0)];
        const l = noGrad(() => crossEntropy(model.forward(b.x), b.y));
        const v = await l.item();
        l.release();
        b.x.release();
        b.y.release();
        return v;
      };
      const before = await wholeSetLoss();
      // Feedback rules follow a mismatched gradient, and a deep FA net diverges at BP's rate
      // with momentum 0.9; Biotorch uses 0.001 for DFA.
      const lr = rule === 'bp' ? 0.05 : rule === 'dfa' ? 0.003 : 0.02;
      const opt = new SGD(model.parameters(), { lr, momentum: 0.9 });
      for (let epoch = 0; epoch < 6; epoch++) {
        for (const b of loader.epoch(epoch)) {
          scope(() => {
            backward(crossEntropy(model.forward(b.x), b.y));
            clearOutputError();
            opt.step();
            opt.zeroGrad();
          });
          b.x.release();
          b.y.release();
        }
      }
      const after = await wholeSetLoss();
      console.log(`resnet20 ${rule}: whole-set loss ${before.toFixed(3)} -> ${after.toFixed(3)}`);
      // Over 8 seeds the smallest drop was DFA's, to 0.51 of the start; FA's worst 0.27.
      expect(after).toBeLessThan(before * 0.75);
      model.dispose();
    }, 120_000);
  }
});

describe('genotype networks', () => {
  it('DARTS V2 at C=36 with 20 cells has 3.3M parameters (auxiliary head excluded, as DARTS counts) and outputs [N,10]', async () => {
    const g = await loadGenotype('darts_v2');
    const net = new NetworkCIFAR(g, { C: 36, layers: 20, numClasses: 10, auxiliary: true, gen: new Generator(0) });
    const aux = net.auxHead!.parameterCount();
    const count = net.parameterCount() - aux;
    console.log(`DARTS V2: ${count} parameters (+${aux} in the auxiliary head)`);
    expect(count / 1e6).toBeCloseTo(3.35, 1);
    const { logits, aux: auxLogits } = net.forwardTrain(randomNormal([2, 3, 32, 32], new Generator(1)));
    expect(logits.shape).toEqual([2, 10]);
    expect(auxLogits!.shape).toEqual([2, 10]);
    net.dispose();
  }, 120_000);

  it('every shipped preset parses; bad genotypes are rejected with where and why', () => {
    for (const name of Object.keys(GENOTYPE_PRESETS)) expect(() => parseGenotype(GENOTYPE_PRESETS[name], name)).not.toThrow();
    const g = JSON.parse(JSON.stringify(GENOTYPE_PRESETS.darts_v2));
    g.normal[3].op = 'sep_conv_9x9';
    expect(() => parseGenotype(g, 'g.json')).toThrow(/g\.json: normal\[3\]: unknown operation 'sep_conv_9x9'/);
    const h = JSON.parse(JSON.stringify(GENOTYPE_PRESETS.darts_v2));
    h.reduce[0].input = 4;
    expect(() => parseGenotype(h, 'h.json')).toThrow(/h\.json: reduce\[0\]: input 4 must be an earlier state, 0\.\.1/);
    const r = JSON.parse(JSON.stringify(GENOTYPE_PRESETS.biodarts));
    r.normal[0].rule = 'hebb';
    expect(() => parseGenotype(r, 'r.json')).toThrow(/r\.json: normal\[0\]: unknown learning rule 'hebb'/);
  });

  it('genotype edges are validated as search-space pairs are: op, rule, and whether the op can carry the rule', () => {
    const edit = (cell: 'normal' | 'reduce', i: number, change: Record<string, unknown>) => {
      const g = JSON.parse(JSON.stringify(GENOTYPE_PRESETS.biodarts));
      Object.assign(g[cell][i], change);
      return () => parseGenotype(g, 'g.json');
    };
    expect(edit('normal', 1, { op: 42 })).toThrow(/g\.json: normal\[1\]: 'op' must be a string/);
    expect(edit('reduce', 2, { rule: 3 })).toThrow(/g\.json: reduce\[2\]: 'rule' must be a string/);
    expect(edit('normal', 0, { op: 'max_pool_3x3', rule: 'fa' })).toThrow(/g\.json: normal\[0\]: 'max_pool_3x3' has no weights, so the learning rule 'fa' cannot apply/);
    expect(edit('reduce', 0, { op: 'skip_connect', rule: 'dfa' })).toThrow(/g\.json: reduce\[0\]: skip_connect with dfa is not supported/);
    expect(edit('normal', 3, { op: 'hebbian_conv_3x3', rule: 'usf' })).toThrow(/g\.json: normal\[3\]: 'hebbian_conv_3x3' learns its weights by its own rule/);
    // What a space accepts, a genotype accepts: a rule on skip_connect, bp on a pool, no rule at all.
    expect(edit('normal', 0, { op: 'skip_connect', rule: 'usf' })).not.toThrow();
    expect(edit('normal', 0, { op: 'max_pool_3x3', rule: 'bp' })).not.toThrow();
    expect(edit('normal', 0, { op: 'avg_pool_3x3', rule: undefined })).not.toThrow();
  });

  it('a rule on a weightless op (or skip_connect at stride 1) is arbitrary; on a conv or a reducing skip it is not', () => {
    expect(isRuleArbitrary('skip_connect', 1)).toBe(true);
    expect(isRuleArbitrary('skip_connect', 2)).toBe(false);
    expect(isRuleArbitrary('max_pool_3x3', 2)).toBe(true);
    expect(isRuleArbitrary('sep_conv_3x3', 1)).toBe(false);
    expect(isRuleArbitrary('hebbian_conv_3x3', 1)).toBe(true);
  });

  it('a small BIODARTS network with mixed rules trains a step', async () => {
    const g = await loadGenotype('biodarts');
    const gen = new Generator(3);
    const net = new NetworkCIFAR(g, { C: 8, layers: 5, numClasses: 4, auxiliary: true, gen });
    net.dropPathProb = 0.2;
    // The auxiliary head expects the 8x8 maps of 32x32 inputs (DARTS).
    const x = randomNormal([2, 3, 32, 32], gen);
    const y = Tensor.fromData([1, 3], [2], 'i32');
    scope(() => {
      const { logits, aux } = net.forwardTrain(x);
      backward(crossEntropy(logits, y));
      void aux;
      clearOutputError();
    });
    const grads = net.parameters().filter((p) => p.grad);
    expect(grads.length).toBeGreaterThan(net.parameters().length / 2);
    const data = await grads[0].grad!.data();
    expect(data.every(Number.isFinite)).toBe(true);
    net.dispose();
  });
});

describe('NAS-Bench-201 networks', () => {
  it('parse the benchmark notation, round-trip it, and build a network with [N,10] output', () => {
    const arch = '|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|';
    const g = parseNb201(arch);
    expect(nb201String(g)).toBe(arch);
    const net = new Nb201Network(g, { numClasses: 10, gen: new Generator(0), cellsPerStage: 1 });
    const y = noGrad(() => net.eval().forward(randomNormal([2, 3, 16, 16], new Generator(1))));
    expect(y.shape).toEqual([2, 10]);
    net.dispose();
    expect(() => parseNb201('|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|')).toThrow(/unknown op 'conv'/);
    expect(() => parseNb201(arch, ['fa', 'fa', 'fa'])).toThrow(/edge 2: 'avg_pool_3x3' has no weights/);
    expect(parseNb201(arch, ['fa', 'usf']).map((e) => e.rule)).toEqual(['fa', 'usf', 'bp', 'bp', 'bp', 'bp']);
  });
});
