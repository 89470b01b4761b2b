// `bionas attack`: adversarial robustness of trained checkpoints (SPEC 6). One or several
// models, one attack, a list, or the paper's Table 4 rows (--attack suite), at one or several
// eps; writes results.jsonl, table.md and robust-accuracy-vs-eps SVGs to the run folder.

import { existsSync, rmSync } from 'node:fs';
import { deviceLine } from '../gpu/device.js';
import { initGpu } from '../gpu/runtime.js';
import '../attack/index.js';
import { attackNames, getAttack, type Attack } from '../attack/attack.js';
import { attackTarget, type AttackTarget, type GradientSource } from '../attack/target.js';
import { attackedImages, runAttacks, type AttackRecord, type AttackSetting } from '../attack/run.js';
import { attackSetting, knownAttack, suiteSettings, TABLE4_ROWS } from '../attack/suite.js';
import { jsonLines, markdownTable, reportFiles, attackSummary, SUMMARY_FILE, type AttackedModel } from '../attack/report.js';
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
  checkpoint: { type: 'string', help: 'checkpoint.bin of a training run; repeat for several models (one table column each), or give a comma-separated list' },
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

/** A flag every attack with a number of iterations reads. */
const STEPS_ALIAS = 'steps';

/** Where a command-line flag goes: the attacks, and their option, that take it. */
type AttackFlagMap = Map<string, { attack: string; option: string }[]>;

/**
 * The command's flags, then every registered attack's own options: under their own name, or
 * `--<attack>-<option>` where the name is a flag of the command (One-Pixel's batch is
 * --onepixel-batch). A transfer attack's `source` option is set from --source, not exposed.
 */
export function attackFlags(): { table: FlagTable; routes: AttackFlagMap } {
  const table: FlagTable = { ...COMMON_FLAGS };
  const routes: AttackFlagMap = new Map();
  for (const name of attackNames()) {
    const attack = getAttack(name);
    for (const [option, spec] of Object.entries(attack.flags ?? {})) {
      if (attack.kind === 'transfer' && option === 'source') continue;
      const flag = option in COMMON_FLAGS ? `${name}-${option}` : option;
      const note = `${name}${spec.default === undefined || spec.default === '' ? '' : ` default ${spec.default}`}`;
      // The attack's default applies when the flag is not given: the table has none of its own.
      table[flag] = flag in table ? { ...table[flag], help: table[flag].help.replace(/\]$/, `; ${note}]`) } : { ...spec, default: undefined, help: `${spec.help} [${note}]` };
      routes.set(flag, [...(routes.get(flag) ?? []), { attack: name, option }]);
      // The issue's `--steps N` reaches every attack's own steps option (--pgd-steps, --apgd-steps ...).
      if (option === `${name}-steps`) {
        table[STEPS_ALIAS] = table[STEPS_ALIAS]
          ? { ...table[STEPS_ALIAS], help: table[STEPS_ALIAS].help.replace(/\]$/, `; ${name} as --${flag}]`) }
          : { type: 'int', min: 1, help: `iterations of the chosen attack(s) [${name} as --${flag}]` };
        routes.set(STEPS_ALIAS, [...(routes.get(STEPS_ALIAS) ?? []), { attack: name, option }]);
      }
    }
  }
  return { table, routes };
}

/** A --checkpoint value: one file, or a comma-separated list (a file whose own name holds a comma is kept whole). */
function checkpointList(value: string, command: string): string[] {
  if (existsSync(value)) return [value];
  const parts = value.split(',').map((p) => p.trim());
  if (parts.some((p) => !p)) throw new UsageError(`bionas ${command}: --checkpoint '${value}' has an empty entry`);
  return parts;
}

/**
 * Every `--checkpoint X` / `--checkpoint=X` (X a file or a comma-separated list, as an experiment
 * job passes several), and argv without them (parseFlags keeps only the last of a repeated flag).
 */
export function splitCheckpoints(argv: string[], command = 'attack'): { checkpoints: string[]; rest: string[] } {
  const checkpoints: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--checkpoint') {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`bionas ${command}: --checkpoint needs a value (a checkpoint.bin file)`);
      checkpoints.push(...checkpointList(v, command));
      i++;
    } else if (a.startsWith('--checkpoint=')) {
      const v = a.slice('--checkpoint='.length);
      if (!v) throw new UsageError(`bionas ${command}: --checkpoint needs a value, got an empty one`);
      checkpoints.push(...checkpointList(v, command));
    } else rest.push(a);
  }
  return { checkpoints, rest };
}

/** A model's name in tables: its run folder (the path without /checkpoint.bin). */
export function modelName(path: string): string {
  return path.replace(/[/\\]checkpoint\.bin$/, '') || path;
}

/** The attack settings the flags ask for; attack-specific flags go to the attacks that take them. */
function chooseSettings(f: FlagValues, given: Set<string>, routes: AttackFlagMap, source: AttackTarget | undefined): AttackSetting[] {
  const names = (f.attack as string).split(',').map((s) => s.trim()).filter(Boolean);
  if (!names.length) throw new UsageError('bionas attack: --attack names no attack');
  const attackOnly = [...given].filter((g) => routes.has(g));
  if (names.includes('suite')) {
    if (names.length > 1) throw new UsageError(`bionas attack: --attack suite runs Table 4's rows; it cannot be combined with other attacks (got '${f.attack}')`);
    if (attackOnly.length) {
      throw new UsageError(`bionas attack: --attack suite runs the paper's fixed settings (${TABLE4_ROWS.map((r) => r.label).join(', ')}); ` +
        `${attackOnly.map((g) => `--${g}`).join(', ')} would change them: name the attacks instead (e.g. --attack ${routes.get(attackOnly[0])![0].attack} --${attackOnly[0]} ...)`);
    }
    return suiteSettings(source);
  }
  if (new Set(names).size !== names.length) throw new UsageError(`bionas attack: --attack names an attack twice (${f.attack})`);
  const attacks: Attack[] = names.map((n) => knownAttack(n, '--attack'));
  for (const g of attackOnly) {
    const owners = routes.get(g)!.map((r) => r.attack);
    if (!owners.some((o) => names.includes(o))) throw new UsageError(`bionas attack: --${g} is a flag of --attack ${owners.join(', ')}, not of --attack ${names.join(',')}`);
  }
  return attacks.map((a) => {
    const options: FlagValues = {};
    for (const g of attackOnly) for (const r of routes.get(g)!) if (r.attack === a.name) options[r.option] = f[g];
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
  const { table, routes } = attackFlags();
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

  // Which attacks (after the data checks, which need no GPU either), first with a stand-in for
  // the transfer source: the real one is loaded only once everything is checked.
  const sourcePath = (f.source as string | undefined) ?? (checkpoints.length > 1 ? checkpoints[0] : undefined);
  const settingsFor = (source: AttackTarget | undefined) => {
    try {
      return chooseSettings(f, given, routes, source);
    } catch (e) {
      throw e instanceof UsageError ? e : new UsageError(`bionas attack: ${(e as Error).message}`);
    }
  };
  const planned = settingsFor(sourcePath ? attackTarget(null as never, { mean: [], std: [], numClasses: 0, name: modelName(sourcePath) }) : undefined);
  if (!planned.some((s) => s.attack.kind === 'transfer') && f.source !== undefined) {
    throw new UsageError('bionas attack: --source is the model a transfer attack crafts on, and no transfer attack is asked for');
  }


  const runDir = (f.run as string | undefined) ?? defaultRunDir('attack');
  const folder = await openRunFolder(runDir);
  // summary.json marks a complete run (an experiment skips the job): a rerun into the folder removes the old one first.
  rmSync(folder.file(SUMMARY_FILE), { force: true });
  const models: TrainableModel[] = [];
  const attacked: AttackedModel[] = [];
  try {
    const rt = await initGpu();
    console.log(`device: ${deviceLine(rt.info)}`);
    const load = async (path: string) => {
      const { model, describe, meta } = await loadCheckpointModel(path);
      models.push(model);
      attacked.push({ name: modelName(path), checkpoint: path, describe, epoch: meta.epoch, epochs: meta.epochs });
      const what = `${describe.model}${describe.model.startsWith('resnet') ? ` ${describe.rule}` : ''}`;
      console.log(`model ${modelName(path)}: ${what}, ${(model.parameterCount() / 1e6).toFixed(3)}M parameters`);
      return attackTarget(model, { mean: test.mean, std: test.std, numClasses: test.numClasses, name: modelName(path) });
    };
    const targets: AttackTarget[] = [];
    for (const c of checkpoints) targets.push(await load(c));
    const source = sourcePath ? targets[checkpoints.indexOf(sourcePath)] ?? (await load(sourcePath)) : undefined;
    const settings = settingsFor(source);
    if (f.attack === 'suite' && !source) console.log('note: the suite\'s Transfer row is left out: it needs a source model (--source CKPT, or several --checkpoint)');
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
    const seconds = (Date.now() - t0) / 1000;
    // Written last: its presence says every record is in results.jsonl.
    folder.writeText(SUMMARY_FILE, JSON.stringify(attackSummary(records, ctx, attacked, seconds), null, 1) + '\n');
    const md = markdownTable(records, ctx);
    console.log('\n' + md.slice(md.indexOf('## Robust accuracy'), md.indexOf('## Every record')).trim());
    console.log(`\ndone in ${seconds.toFixed(1)} s; ${runDir}/table.md has every figure`);
  } finally {
    for (const m of models) m.dispose();
    folder.release();
  }
}
