// `bionas train`: trains a ResNet baseline with one learning rule, a network from a genotype,
// or a NAS-Bench-201 cell; evaluates on the test set; checkpoints and resumes.

import { deviceLine } from '../gpu/device.js';
import { initGpu } from '../gpu/runtime.js';
import { Generator } from '../ops/random.js';
import { BatchLoader } from '../data/loader.js';
import { CifarResNet } from '../models/resnet.js';
import { NetworkCIFAR } from '../models/network.js';
import { Nb201Network, parseNb201 } from '../models/nb201.js';
import { loadGenotype, type Genotype } from '../models/genotype.js';
import { SpikingNetwork } from '../models/spiking_network.js';
import { loadSpikingGenotype, type SpikingGenome } from '../snn/genome.js';
import { measureSpikingStep, memoryLine } from '../snn/memory.js';
import { parseRuleOverride, overrideRules, describeRules, RULE_MODES } from '../models/rule_override.js';
import { loadSpace, SPACE_PRESETS } from '../search/space.js';
import { spikingInput } from '../snn/input.js';
import type { SpikingEncoding } from '../models/spiking_network.js';
import { parseRule, ruleNames } from '../rules/registry.js';
import { ruleLayers } from '../nn/layers.js';
import { train, evaluate, DEFAULT_TRAIN, type TrainConfig, type TrainableModel } from '../train/trainer.js';
import { UsageError, type FlagTable, type FlagValues } from './flags.js';
import { writeTextAtomic } from '../run/state.js';
import { openRunFolder } from '../run/folder.js';
import { DEFAULT_CHECKPOINT_MINUTES, startFresh } from '../run/loop.js';
import { SIGNAL_EXIT_CODES } from '../run/stop.js';
import { SCHEDULE_NAMES, parseSchedule } from '../optim/schedule.js';
import { jobCommandFlags } from './resume.js';
import { DATA_FLAGS, loadData, holdOut, defaultRunDir } from './common.js';
import type { ImageDataset } from '../data/dataset.js';
import { gradientVariance, type VarianceReport } from '../analysis/gradient_variance.js';
import { crossEntropy } from '../ops/loss.js';

/** What a preset may also set of the model (genotype networks); explicit flags win. */
export interface PresetModel {
  C?: number;
  layers?: number;
  auxiliary?: boolean;
}

/** Hyper-parameter presets (SPEC 5); explicit flags override them. */
export const TRAIN_PRESETS: Record<string, Partial<TrainConfig> & { cutout?: number; model?: PresetModel }> = {
  // Biotorch's single-rule baselines: 250 epochs, lr x0.1 at 100/150/200 (DFA uses lr 0.001).
  biotorch: { epochs: 250, batchSize: 128, optimizer: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 1e-4, schedule: 'multistep', milestones: [100, 150, 200], gamma: 0.1 },
  // DARTS' evaluation of a found cell: 600 epochs, cosine to 0, cutout, drop path, auxiliary head.
  darts: { epochs: 600, batchSize: 96, optimizer: 'sgd', lr: 0.025, momentum: 0.9, weightDecay: 3e-4, schedule: 'cosine', minLr: 0, gradClip: 5, auxWeight: 0.4, dropPath: 0.2, cutout: 16 },
  // A few epochs on small data: the README's demo and quick checks.
  // MSE-NAS' training in BrainCog (evolution.py defaults): AdamW (decoupled weight decay 0.01), cosine from 5e-3 to
  // 1e-5 with 5 warm-up epochs, label smoothing 0.1, batch 128.
  mse_nas: { epochs: 600, batchSize: 128, optimizer: 'adamw', lr: 5e-3, weightDecay: 0.01, schedule: 'cosine', minLr: 1e-5, warmupEpochs: 5, labelSmoothing: 0.1 },
  // ImageNet16-120 (SPEC 5; PC-DARTS' ImageNet setting): C=48, 14 cells, auxiliary head, batch 1024,
  // lr 0.5 decayed linearly to 0, 250 epochs, label smoothing 0.1, no drop path; weight decay 3e-5
  // and momentum 0.9 as PC-DARTS' train_imagenet.py, clip 5 and aux weight 0.4 as DARTS.
  imagenet16: {
    epochs: 250, batchSize: 1024, optimizer: 'sgd', lr: 0.5, momentum: 0.9, weightDecay: 3e-5, schedule: 'linear', minLr: 0, gradClip: 5,
    labelSmoothing: 0.1, auxWeight: 0.4, dropPath: 0, cutout: 0, model: { C: 48, layers: 14, auxiliary: true },
  },
  quick: { epochs: 3, batchSize: 64, optimizer: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 3e-4, schedule: 'cosine', gradClip: 5 },
};

/** Flags a resumed training may change; any other given flag must match the checkpoint's. */
const RESUMABLE = ['epochs', 'log-every', 'checkpoint-minutes', 'grad-variance'];

export const TRAIN_FLAGS: FlagTable = {
  model: { type: 'string', default: 'resnet20', choices: ['resnet20', 'resnet56', 'network', 'nb201', 'spiking'], help: 'architecture; --genotype implies network (spiking for a spiking genotype), --arch implies nb201' },
  timesteps: { type: 'int', min: 1, default: 4, help: 'time steps T of a spiking network (BrainCog MSE-NAS: 10; 4 keeps CPU runs short)' },
  rule: { type: 'string', default: 'bp', choices: ruleNames(), help: 'learning rule of every conv and linear layer of a ResNet' },
  genotype: { type: 'string', help: 'genotype JSON file (e.g. RUN/genotype.json) or preset: darts_v1, darts_v2, biodarts' },
  arch: { type: 'string', help: "NAS-Bench-201 cell, e.g. '|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|'" },
  C: { type: 'int', min: 2, default: 36, help: 'initial channels of a genotype network (NAS-Bench-201: 16)' },
  layers: { type: 'int', min: 3, default: 20, help: 'cells of a genotype network' },
  auxiliary: { type: 'bool', default: false, help: 'auxiliary head (genotype network); its loss weight is --aux-weight' },
  rules: { type: 'string', default: 'as-found', help: `learning rules of a genotype's edges: ${RULE_MODES}. as-found: the genotype's; single:RULE: RULE on every edge whose op has weights; ` +
    'random: each edge draws one of the rules its op has in --space, from --rules-seed. The stem, preprocessing, classifier and auxiliary head stay BP unless --rules-everywhere' },
  'rules-everywhere': { type: 'bool', default: false, help: 'with --rules single:RULE: the stem, preprocessing, classifier and auxiliary head use RULE too (otherwise they are BP)' },
  'rules-seed': { type: 'int', min: 0, help: 'seed of --rules random (default: --seed)' },
  space: { type: 'string', help: `search space --rules random draws from: a preset (${Object.keys(SPACE_PRESETS).join(', ')}) or JSON file (default: the space named in the genotype file, else bionas)` },
  preset: { type: 'string', default: 'quick', choices: Object.keys(TRAIN_PRESETS), help: 'hyper-parameter preset: biotorch (ResNet baselines), darts (found cells), imagenet16 (ImageNet16-120: also C=48, 14 cells, auxiliary), mse_nas (spiking networks), quick' },
  ...DATA_FLAGS,
  'valid-size': { type: 'int', min: 0, default: 0, help: 'images held out of the training set for per-epoch validation (Biotorch: 5000)' },
  epochs: { type: 'int', min: 1, help: 'epochs (default: from --preset)' },
  batch: { type: 'int', min: 1, help: 'batch size (default: from --preset)' },
  optimizer: { type: 'string', choices: ['sgd', 'adam', 'adamw'], help: 'optimizer (default: from --preset); adamw: Adam with decoupled weight decay' },
  lr: { type: 'number', min: 0, help: 'learning rate (default: from --preset)' },
  momentum: { type: 'number', min: 0, help: 'SGD momentum' },
  nesterov: { type: 'bool', help: 'Nesterov momentum' },
  'weight-decay': { type: 'number', min: 0, help: 'weight decay (L2 for sgd and adam, decoupled for adamw)' },
  schedule: { type: 'string', choices: SCHEDULE_NAMES, help: 'learning-rate schedule' },
  'min-lr': { type: 'number', min: 0, help: 'final rate of cosine/linear schedules' },
  milestones: { type: 'list', help: 'multistep epochs, e.g. 100,150,200' },
  gamma: { type: 'number', min: 0, help: 'step/multistep decay factor' },
  warmup: { type: 'number', min: 0, help: 'linear warm-up epochs' },
  'grad-clip': { type: 'number', min: 0, help: 'max gradient norm (0: off)' },
  'label-smoothing': { type: 'number', min: 0, help: 'label smoothing' },
  'aux-weight': { type: 'number', min: 0, help: 'auxiliary loss weight' },
  'drop-path': { type: 'number', min: 0, help: 'final drop-path probability (ramped linearly)' },
  cutout: { type: 'int', min: 0, help: 'cutout square side in pixels (0: off)' },
  seed: { type: 'int', min: 0, default: 0, help: 'seed of weights, data order, augmentation and feedback matrices' },
  run: { type: 'string', help: 'run folder for checkpoint.bin, metrics.jsonl, curves.svg (default: runs/train-<time>)' },
  resume: { type: 'string', help: 'continue the training run in this folder from its checkpoint (flags left out are taken from it)' },
  'checkpoint-minutes': { type: 'number', min: 0, default: DEFAULT_CHECKPOINT_MINUTES, help: 'also checkpoint inside an epoch every this many minutes (0: at epoch ends and stops only)' },
  alignment: { type: 'bool', default: true, help: 'log per-layer alignment angles each epoch (rules with a feedback matrix)' },
  'log-every': { type: 'int', min: 1, default: 20, help: 'steps between metric read-backs (progress bar refresh)' },
  'grad-variance': { type: 'int', min: 0, default: 0, help: 'after training, the per-layer variance of the gradient over this many training batches (0: off)' },
};

export function trainConfig(f: FlagValues): TrainConfig & { cutout: number } {
  const p = TRAIN_PRESETS[f.preset as string];
  const pick = <T>(flag: string, key: keyof TrainConfig | 'cutout', fallback: T): T => (f[flag] ?? (p as Record<string, unknown>)[key] ?? fallback) as T;
  const rule = f.rule as string;
  const d = DEFAULT_TRAIN;
  return {
    epochs: pick('epochs', 'epochs', d.epochs),
    batchSize: pick('batch', 'batchSize', d.batchSize),
    optimizer: pick('optimizer', 'optimizer', d.optimizer),
    // Biotorch trains DFA with lr 0.001 (SPEC 5).
    lr: f.lr !== undefined ? (f.lr as number) : rule === 'dfa' && f.preset === 'biotorch' ? 0.001 : pick('lr', 'lr', d.lr),
    momentum: pick('momentum', 'momentum', d.momentum),
    nesterov: pick('nesterov', 'nesterov', d.nesterov),
    weightDecay: pick('weight-decay', 'weightDecay', d.weightDecay),
    schedule: parseSchedule(pick('schedule', 'schedule', d.schedule)),
    minLr: pick('min-lr', 'minLr', d.minLr),
    milestones: pick('milestones', 'milestones', d.milestones),
    gamma: pick('gamma', 'gamma', d.gamma),
    warmupEpochs: pick('warmup', 'warmupEpochs', d.warmupEpochs),
    gradClip: pick('grad-clip', 'gradClip', d.gradClip),
    labelSmoothing: pick('label-smoothing', 'labelSmoothing', d.labelSmoothing),
    auxWeight: pick('aux-weight', 'auxWeight', d.auxWeight),
    dropPath: pick('drop-path', 'dropPath', d.dropPath),
    seed: f.seed as number,
    logEvery: f['log-every'] as number,
    cutout: pick('cutout', 'cutout', 0),
  };
}

export interface ModelDescription {
  model: string;
  rule: string;
  genotype?: unknown;
  arch?: string;
  C: number;
  layers: number;
  auxiliary: boolean;
  numClasses: number;
  inChannels: number;
  seed: number;
  /** Time steps of a spiking network. */
  timesteps?: number;
  /** How a spiking network reads its input: 'frames' for event data (inChannels is then 2T). */
  encoding?: SpikingEncoding;
  /** --rules of a genotype network; `genotype` above already holds the rules it gave (a random draw included). */
  rules?: string;
  /** Rule of the stem, preprocessing, classifier and auxiliary head (--rules-everywhere); absent: BP. */
  bodyRule?: string;
}

/** A preset's model settings (C, layers, auxiliary) for the flags not given on the command line. */
export function applyPresetModel(f: FlagValues, given: Set<string>): void {
  const m = TRAIN_PRESETS[f.preset as string]?.model;
  if (!m) return;
  for (const [k, v] of Object.entries(m)) if (!given.has(k)) f[k] = v;
}

/** The space --rules random draws from: --space, else the one a search run's genotype file names, else the paper's. */
async function ruleSpace(f: FlagValues) {
  if (f.space) return loadSpace(f.space as string);
  const file = f.genotype as string;
  const fs = await import('node:fs');
  let named: unknown;
  if (fs.existsSync(file)) {
    try {
      named = (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>).space;
    } catch {
      // loadGenotype has reported a broken file already.
    }
  }
  if (typeof named !== 'string') return SPACE_PRESETS.bionas;
  try {
    return await loadSpace(named);
  } catch (e) {
    throw new UsageError(`bionas train: --rules random: ${file} was searched in the space '${named}', which cannot be loaded here (${(e as Error).message}); name one with --space`);
  }
}

async function genotypeWithRules(f: FlagValues): Promise<{ genotype: Genotype; rules: string; bodyRule?: string }> {
  const found = await loadGenotype(f.genotype as string);
  const rules = f.rules as string;
  let o;
  try {
    o = parseRuleOverride(rules);
  } catch (e) {
    throw new UsageError(`bionas train: ${(e as Error).message}`);
  }
  if (f['rules-everywhere'] && o.mode !== 'single') {
    throw new UsageError(`bionas train: --rules-everywhere needs --rules single:RULE (the one rule the stem, preprocessing and classifier take), got --rules ${rules}`);
  }
  const space = o.mode === 'random' ? await ruleSpace(f) : undefined;
  const genotype = overrideRules(found, o, { space, seed: (f['rules-seed'] as number | undefined) ?? (f.seed as number) });
  return { genotype, rules, bodyRule: o.mode === 'single' && f['rules-everywhere'] ? o.rule : undefined };
}

export async function describeModel(f: FlagValues, data: ImageDataset): Promise<ModelDescription> {
  let model = f.model as string;
  // A spiking genotype file (kind "spiking") builds a spiking network; any other is a DARTS genotype.
  const spiking: SpikingGenome | null = f.genotype ? await loadSpikingGenotype(f.genotype as string) : null;
  if (f.genotype) model = spiking ? 'spiking' : 'network';
  if (model === 'spiking' && !spiking) throw new UsageError('--model spiking needs --genotype FILE holding a spiking genotype ({"kind": "spiking", ...})');
  if (f.arch) model = 'nb201';
  if (model === 'network' && !f.genotype) throw new UsageError('--model network needs --genotype FILE or a preset name');
  if (model === 'nb201' && !f.arch) throw new UsageError("--model nb201 needs --arch '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|'");
  const overriding = f.rules !== TRAIN_FLAGS.rules.default || !!f['rules-everywhere'] || f['rules-seed'] !== undefined || f.space !== undefined;
  if (overriding && model !== 'network') throw new UsageError('--rules, --rules-everywhere, --rules-seed and --space apply to a genotype network (--genotype); a ResNet takes --rule');
  const withRules = model === 'network' ? await genotypeWithRules(f) : undefined;
  return {
    model, rule: parseRule(f.rule as string),
    genotype: spiking ?? withRules?.genotype,
    ...(withRules ? { rules: withRules.rules } : {}),
    ...(withRules?.bodyRule ? { bodyRule: withRules.bodyRule } : {}),
    arch: f.arch as string | undefined,
    C: f.arch && f.C === TRAIN_FLAGS.C.default ? 16 : (f.C as number),
    layers: f.layers as number, auxiliary: !!f.auxiliary,
    numClasses: data.numClasses, inChannels: data.channels, seed: f.seed as number,
    ...(spiking ? { timesteps: f.timesteps as number, encoding: spikingInput(data, f.timesteps as number).encoding } : {}),
  };
}

export function buildModel(d: ModelDescription, gen: Generator): TrainableModel {
  switch (d.model) {
    case 'resnet20':
    case 'resnet56':
      return new CifarResNet({ depth: d.model === 'resnet20' ? 20 : 56, rule: d.rule, numClasses: d.numClasses, inChannels: d.inChannels, gen });
    case 'network':
      return new NetworkCIFAR(d.genotype as never, {
        C: d.C, layers: d.layers, numClasses: d.numClasses, auxiliary: d.auxiliary, inChannels: d.inChannels, gen, bodyRule: d.bodyRule ? parseRule(d.bodyRule) : 'bp',
      });
    case 'spiking': {
      const T = d.timesteps ?? (TRAIN_FLAGS.timesteps.default as number);
      const frames = d.encoding === 'frames';
      return new SpikingNetwork(d.genotype as SpikingGenome, { T, C: d.C, numClasses: d.numClasses, inChannels: frames ? d.inChannels / T : d.inChannels, encoding: d.encoding, gen });
    }
    case 'nb201':
      return new Nb201Network(parseNb201(d.arch!), { C: d.C, numClasses: d.numClasses, inChannels: d.inChannels, gen });
    default:
      throw new UsageError(`unknown model '${d.model}'`);
  }
}

export async function trainCommand(argv: string[]): Promise<void> {
  const summary = 'Trains a network: a ResNet-20/56 with one learning rule (--rule), a cell found by search\n(--genotype RUN/genotype.json), or a NAS-Bench-201 cell (--arch), then evaluates it on the test set.\n' +
    "A genotype network's edges keep their rules unless --rules single:RULE|random says otherwise; its stem, preprocessing,\n" +
    'classifier and auxiliary head use BP unless --rules-everywhere.';
  const flags = await jobCommandFlags(argv, 'train', 'train', summary, TRAIN_FLAGS, RESUMABLE);
  if (!flags) return;
  const { f, given } = flags;
  if (f.resume === undefined) applyPresetModel(f, given);
  if (given.has('rule') && (f.genotype || f.arch || f.model === 'network' || f.model === 'nb201')) {
    throw new UsageError(`bionas train: --rule sets the rule of every layer of a ResNet (--model resnet20|resnet56); a ${f.arch ? 'NAS-Bench-201 cell (--arch)' : 'genotype network'} ` +
      'takes each edge\'s rule from its architecture, so --rule would be ignored: leave it out');
  }
  const config = trainConfig(f);
  const seed = config.seed;
  const runDir = (f.resume as string | undefined) ?? (f.run as string | undefined) ?? defaultRunDir('train');
  const resume = f.resume !== undefined;
  // The folder first: a path that cannot be made, a folder in use or one holding another run fail before the GPU starts.
  const folder = await openRunFolder(runDir);
  try {
    if (!resume) await startFresh(folder, console.log);
    const rt = await initGpu();
    console.log(`device: ${deviceLine(rt.info)}`);
    const { train: trainSet, test } = await loadData(f, seed);
    const [trainPart, validPart] = holdOut(trainSet, f['valid-size'] as number, seed);
    const description = await describeModel(f, trainSet);
    const gen = new Generator(seed);
    const model = buildModel(description, gen);
    console.log(`model: ${description.model}${description.model.startsWith('resnet') ? ` (rule ${description.rule})` : ''}, ${(model.parameterCount() / 1e6).toFixed(3)}M parameters; ` +
      `data: ${trainPart.count} train, ${validPart?.count ?? 0} valid, ${test.count} test (${trainSet.name}); run folder: ${runDir}`);
    if (model instanceof SpikingNetwork) {
      // One step encoded to count its memory; in an evaluating context with batch statistics, so no BN statistic moves.
      console.log(memoryLine(measureSpikingStep(model, config.batchSize, { channels: trainSet.channels, height: trainSet.height, width: trainSet.width, classes: trainSet.numClasses }, seed)));
    }
    if (description.rules && description.genotype) {
      console.log(`rules (--rules ${description.rules}${description.bodyRule ? `, stem/preprocess/classifier ${description.bodyRule}` : ', stem/preprocess/classifier bp'}): ${describeRules(description.genotype as Genotype)}`);
    }
    const loaders = {
      train: new BatchLoader(trainPart, { batchSize: config.batchSize, shuffle: true, seed, dropLast: true, augment: { cropPadding: Math.round(trainPart.height / 8), flip: true, cutout: config.cutout } }),
      valid: validPart ? new BatchLoader(validPart, { batchSize: 256 }) : null,
    };
    const result = await train(model, loaders, config, {
      folder, resume, gen, logAlignment: !!f.alignment && ruleLayers(model).some((l) => l.rule.name !== 'bp' && l.rule.name !== 'dfa'),
      describe: description as unknown as Record<string, unknown>, checkpointMinutes: f['checkpoint-minutes'] as number,
      invocation: { command: 'train', flags: f }, resumeHint: `bionas train --resume ${runDir}`,
    });
    if (result.stopped) {
      if (result.signal) process.exitCode = SIGNAL_EXIT_CODES[result.signal];
      model.dispose();
      return;
    }
    const t = await evaluate(model, new BatchLoader(test, { batchSize: 256 }));
    console.log(`test: loss ${t.loss.toFixed(4)}, accuracy ${(100 * t.acc).toFixed(2)}% on ${t.count} images`);
    let variance: VarianceReport | null = null;
    const k = f['grad-variance'] as number;
    if (k > 0) {
      model.train();
      variance = await gradientVariance(model, loaders.train.epoch(config.epochs), (logits, b) => crossEntropy(logits, b.y), k);
      console.log(`gradient variance over ${variance.batches} batches: overall ${variance.overall.toExponential(3)}`);
      for (const r of variance.perTensor) console.log(`  ${r.name.padEnd(40)} ${r.variance.toExponential(3)}`);
    }
    const fs = await import('node:fs');
    writeTextAtomic(fs, `${runDir}/summary.json`, JSON.stringify({ model: description, config, test: t, gradientVariance: variance, history: result.history.map(({ alignment, ...r }) => r) }, null, 1));
    model.dispose();
  } finally {
    folder.release();
  }
}
