// `bionas attack`: adversarial robustness of trained checkpoints (SPEC 6). One or several
// models, one attack, a list, or the paper's Table 4 rows (--attack suite), at one or several
// eps; writes results.jsonl, table.md and robust-accuracy-vs-eps SVGs to the run folder.

import { deviceLine } from '../gpu/device.js';
import { initGpu } from '../gpu/runtime.js';
import '../attack/index.js';
import { attackNames, getAttack, type Attack } from '../attack/attack.js';
import { attackTarget, type AttackTarget, type GradientSource } from '../attack/target.js';
import { attackedImages, runAttacks, type AttackRecord, type AttackSetting } from '../attack/run.js';
import { attackSetting, knownAttack, suiteSettings, TABLE4_ROWS } from '../attack/suite.js';
import { jsonLines, markdownTable, reportFiles } from '../attack/report.js';
import { openRunFolder } from '../run/folder.js';
import { Progress } from '../run/progress.js';
import type { TrainableModel } from '../train/trainer.js';
import { parseFlags, helpText, UsageError, type FlagTable, type FlagValues } from './flags.js';
import { givenFlags } from './resume.js';
import { DATA_FLAGS, loadData, defaultRunDir } from './common.js';
import { readCheckpointInfo, loadCheckpointModel, type CheckpointInfo } from './checkpoint_model.js';

/** SPEC 6: eps 8/255, the common CIFAR setting (torchattacks >= 3.3). */
export const DEFAULT_EPS_255 = 8;
/** Images attacked by default: a common size for robustness tables on CIFAR (bionas choice; Biotorch used 500). */
export const DEFAULT_IMAGES = 1000;

const COMMON_FLAGS: FlagTable = {
  checkpoint: { type: 'string', help: 'checkpoint.bin of a training run; repeat for several models (one table column each)' },
  attack: { type: 'string', default: 'suite', help: "attack, a comma-separated list, or 'suite' (the paper's Table 4 rows)" },
  eps: { type: 'list', default: [DEFAULT_EPS_255], help: 'Linf radius in /255, in (0, 255]; a list (2,4,8,16) sweeps it and draws robust accuracy against eps' },
  gradient: { type: 'string', default: 'exact', choices: ['rule', 'exact', 'both'], help: "input gradient of white-box attacks: the model's learning rule, exact backprop, or both side by side" },
  n: { type: 'int', min: 1, default: DEFAULT_IMAGES, help: 'test images attacked, chosen by --seed (the same for every model)' },
  source: { type: 'string', help: 'checkpoint the transfer attack crafts its adversarials on (default with several --checkpoint: the first)' },
  ...DATA_FLAGS,
  batch: { type: 'int', min: 1, default: 128, help: 'images attacked at once' },
  seed: { type: 'int', min: 0, default: 0, help: 'seed of the image subset and of every random draw of the attacks' },
  run: { type: 'string', help: 'results folder for results.jsonl, table.md, SVGs (default: runs/attack-<time>)' },
};

/** The command's flags, then every registered attack's own (the first declaration of a shared name wins). */
export function attackFlags(): FlagTable {
  const table: FlagTable = { ...COMMON_FLAGS };
  for (const name of attackNames()) {
    for (const [flag, spec] of Object.entries(getAttack(name).flags ?? {})) {
      if (flag in COMMON_FLAGS) throw new Error(`attack ${name}: its option --${flag} clashes with a flag of bionas attack`);
      if (!(flag in table)) table[flag] = { ...spec, default: undefined, help: `${spec.help} [${name}${spec.default === undefined ? '' : `; default ${spec.default}`}]` };
      else table[flag] = { ...table[flag], help: table[flag].help.replace(/\]$/, `; ${name}${spec.default === undefined ? '' : ` default ${spec.default}`}]`) };
    }
  }
  return table;
}

/** Every `--checkpoint X` / `--checkpoint=X`, and argv without them (parseFlags keeps only the last of a repeated flag). */
export function splitCheckpoints(argv: string[]): { checkpoints: string[]; rest: string[] } {
  const checkpoints: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--checkpoint') {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) throw new UsageError('bionas attack: --checkpoint needs a value (a checkpoint.bin file)');
      checkpoints.push(v);
      i++;
    } else if (a.startsWith('--checkpoint=')) {
      const v = a.slice('--checkpoint='.length);
      if (!v) throw new UsageError('bionas attack: --checkpoint needs a value, got an empty one');
      checkpoints.push(v);
    } else rest.push(a);
  }
  return { checkpoints, rest };
}

/** A model's name in tables: its run folder (the path without /checkpoint.bin). */
export function modelName(path: string): string {
  return path.replace(/[/\\]checkpoint\.bin$/, '') || path;
}

/** The attack settings the flags ask for; attack-specific flags go to the attacks that take them. */
function chooseSettings(f: FlagValues, given: Set<string>, source: AttackTarget | undefined): AttackSetting[] {
  const names = (f.attack as string).split(',').map((s) => s.trim()).filter(Boolean);
  const attackOnly = [...given].filter((g) => !(g in COMMON_FLAGS) && g !== 'verbose');
  if (names.includes('suite')) {
    if (names.length > 1) throw new UsageError(`bionas attack: --attack suite runs Table 4's rows; it cannot be combined with other attacks (got '${f.attack}')`);
    if (attackOnly.length) {
      throw new UsageError(`bionas attack: --attack suite runs the paper's fixed settings (${TABLE4_ROWS.map((r) => r.label).join(', ')}); ` +
        `${attackOnly.map((g) => `--${g}`).join(', ')} would change them: run the attacks by name instead (e.g. --attack pgd,apgd --${attackOnly[0]} ...)`);
    }
    return suiteSettings(source);
  }
  const attacks: Attack[] = names.map((n) => knownAttack(n, '--attack'));
  for (const g of attackOnly) {
    if (!attacks.some((a) => g in (a.flags ?? {}))) {
      const owners = attackNames().filter((n) => g in (getAttack(n).flags ?? {}));
      throw new UsageError(`bionas attack: --${g} is a flag of --attack ${owners.join(', ')}, not of --attack ${names.join(',')}`);
    }
  }
  return attacks.map((a) => {
    const options: FlagValues = {};
    for (const flag of Object.keys(a.flags ?? {})) if (given.has(flag)) options[flag] = f[flag];
    return attackSetting(a.name, options, undefined, source);
  });
}

/** Classes of the named data sets (synthetic: its default), for messages before any data is loaded. */
const DATASET_CLASSES: Record<string, number> = { cifar10: 10, cifar100: 100, imagenet16: 120, synthetic: 10 };

/** The checks that need only the checkpoints' meta: each was trained on --dataset, all on the same. */
function checkDatasets(infos: CheckpointInfo[], f: FlagValues): void {
  const dataset = f.dataset as string;
  const first = infos[0];
  for (const c of infos) {
    const other = infos.find((o) => o.dataset && c.dataset && o.dataset !== c.dataset);
    if (other) {
      throw new UsageError(`bionas attack: ${c.path} was trained on ${c.dataset}, ${other.path} on ${other.dataset}: models of one table must share a data set`);
    }
    if (c.describe.numClasses !== first.describe.numClasses || c.describe.inChannels !== first.describe.inChannels) {
      throw new UsageError(`bionas attack: ${c.path} has ${c.describe.numClasses} classes and ${c.describe.inChannels} channels, ${first.path} ${first.describe.numClasses} and ${first.describe.inChannels}: models of one table must share a data set`);
    }
    if (c.dataset && c.dataset !== dataset) {
      throw new UsageError(`bionas attack: ${c.path} was trained on ${c.dataset} (${c.describe.numClasses} classes), --dataset ${dataset} ` +
        `${DATASET_CLASSES[dataset] ? `has ${DATASET_CLASSES[dataset]}` : 'is another data set'}; pass --dataset ${c.dataset}`);
    }
    const size = (f['image-size'] as number | undefined) ?? 32;
    if (dataset === 'synthetic' && c.imageSize !== null && c.imageSize !== size) {
      throw new UsageError(`bionas attack: ${c.path} was trained on ${c.imageSize}x${c.imageSize} images, --image-size is ${size}; pass --image-size ${c.imageSize}`);
    }
  }
}

export async function attackCommand(argv: string[]): Promise<void> {
  const summary = 'Attacks trained checkpoints (images in [0, 1], normalisation inside the model, Linf eps in /255) on a fixed\n' +
    'set of test images chosen by --seed. Writes results.jsonl, table.md (a column per model) and robust-accuracy-vs-eps\n' +
    `SVGs to the results folder. Attacks: ${attackNames().join(', ') || '(none registered)'}; suite: ${TABLE4_ROWS.map((r) => r.label).join(', ')}.`;
  const table = attackFlags();
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(helpText('attack', summary, table));
    return;
  }
  const { checkpoints, rest } = splitCheckpoints(argv);
  const f = parseFlags(rest, table, 'attack');
  const given = givenFlags(rest, table);
  if (!checkpoints.length) throw new UsageError('bionas attack: --checkpoint RUN/checkpoint.bin is required (repeat it for several models)');
  if (new Set(checkpoints).size !== checkpoints.length) throw new UsageError('bionas attack: a --checkpoint is given twice');
  const eps255 = f.eps as number[];
  for (const e of eps255) if (!(e > 0 && e <= 255)) throw new UsageError(`bionas attack: --eps is in /255 and must be in (0, 255], got ${e}`);
  if (new Set(eps255).size !== eps255.length) throw new UsageError(`bionas attack: --eps lists a value twice (${eps255.join(',')})`);
  const gradients: GradientSource[] = f.gradient === 'both' ? ['rule', 'exact'] : [f.gradient as GradientSource];

  const infos = await Promise.all([...checkpoints, ...(f.source ? [f.source as string] : [])].map(readCheckpointInfo));
  checkDatasets(infos, f);
  const { test } = await loadData(f, f.seed as number);
  for (const c of infos) {
    if (c.describe.numClasses !== test.numClasses || c.describe.inChannels !== test.channels) {
      throw new UsageError(`bionas attack: ${c.path} has ${c.describe.numClasses} classes and ${c.describe.inChannels} input channels, ` +
        `--dataset ${f.dataset} has ${test.numClasses} and ${test.channels}`);
    }
  }
  const n = f.n as number;
  if (n > test.count) throw new UsageError(`bionas attack: --n ${n} is larger than the test set (${test.name}: ${test.count} images)`);
  const images = attackedImages(test, n, f.seed as number);

  // Which attacks (after the data checks, which need no GPU either), with a placeholder source: the
  // real one is loaded only once everything is checked.
  const probe = attackTarget(null as never, { mean: [], std: [], numClasses: 0, name: 'source' });
  const sourcePath = (f.source as string | undefined) ?? (checkpoints.length > 1 ? checkpoints[0] : undefined);
  let planned: AttackSetting[];
  try {
    planned = chooseSettings(f, given, sourcePath ? probe : undefined);
  } catch (e) {
    throw e instanceof UsageError ? e : new UsageError(`bionas attack: ${(e as Error).message}`);
  }
  if (!planned.some((s) => s.attack.kind === 'transfer') && f.source !== undefined) {
    throw new UsageError('bionas attack: --source is the model a transfer attack crafts on, and no transfer attack is asked for');
  }


  const runDir = (f.run as string | undefined) ?? defaultRunDir('attack');
  const folder = await openRunFolder(runDir);
  const models: TrainableModel[] = [];
  try {
    const rt = await initGpu();
    console.log(`device: ${deviceLine(rt.info)}`);
    const load = async (path: string) => {
      const { model, describe } = await loadCheckpointModel(path);
      models.push(model);
      const what = `${describe.model}${describe.model.startsWith('resnet') ? ` ${describe.rule}` : ''}`;
      console.log(`model ${modelName(path)}: ${what}, ${(model.parameterCount() / 1e6).toFixed(3)}M parameters`);
      return attackTarget(model, { mean: test.mean, std: test.std, numClasses: test.numClasses, name: modelName(path) });
    };
    const targets: AttackTarget[] = [];
    for (const c of checkpoints) targets.push(await load(c));
    const source = f.source ? await load(f.source as string) : sourcePath ? targets[0] : undefined;
    const settings = planned.map((s) => ({ ...s, source: s.source ? source : undefined, label: s.source ? s.label.replace(/ from source$/, ` from ${source!.name}`) : s.label }));
    console.log(`attacks: ${settings.map((s) => `${s.label} (${s.attack.describe(s.options) || 'defaults'})`).join('; ')}`);
    console.log(`${n} images of ${test.name} (seed ${f.seed}); eps ${eps255.join(', ')} /255; gradient ${f.gradient}; results folder ${runDir}`);

    const records: AttackRecord[] = [];
    const ctx = { dataset: test.name, images: n, seed: f.seed as number, command: `bionas attack ${argv.join(' ')}` };
    let bar: Progress | null = null;
    const t0 = Date.now();
    await runAttacks({
      targets, images, settings, eps: eps255.map((e) => e / 255), gradients, batch: f.batch as number, seed: f.seed as number,
      progress: (done, total, what) => (bar ??= new Progress(total, 'attack')).update(done, { now: what }),
      onRecord: (r) => {
        records.push(r);
        folder.writeText('results.jsonl', jsonLines(records));
        folder.writeText('table.md', markdownTable(records, ctx));
      },
    });
    (bar as Progress | null)?.done();
    for (const [name, text] of Object.entries(reportFiles(records, ctx))) folder.writeText(name, text);
    const md = markdownTable(records, ctx);
    console.log('\n' + md.slice(md.indexOf('## Robust accuracy'), md.indexOf('## Every record')).trim());
    console.log(`\ndone in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${runDir}/table.md has every figure`);
  } finally {
    for (const m of models) m.dispose();
    folder.release();
  }
}
