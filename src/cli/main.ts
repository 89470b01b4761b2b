// The bionas command line: one sub-command per file in this folder.
import { infoCommand } from './info.js';
import { trainCommand } from './train.js';
import { searchCommand } from './search.js';
import { evalCommand } from './eval.js';
import { benchmarkCommand } from './benchmark.js';
import { attackCommand } from './attack.js';
import { exportCommand } from './export.js';
import { experimentCommand } from './experiment.js';
import { rdmCheckCommand } from './mse_nas.js';
import { UsageError } from './flags.js';

const COMMANDS: Record<string, { run: (args: string[]) => Promise<void>; help: string }> = {
  info: { run: infoCommand, help: 'print the WebGPU adapter bionas chose, its limits, and why others were skipped' },
  search: { run: searchCommand, help: 'search a cell of (operation, learning rule) pairs (BioNAS-DARTS, BioNAS-EG), or a spiking network (--method mse-nas)' },
  eval: { run: evalCommand, help: 'evaluate a training checkpoint on a test set' },
  train: { run: trainCommand, help: 'train a ResNet baseline with a learning rule, a found genotype, or a NAS-Bench-201 cell' },
  attack: { run: attackCommand, help: 'adversarial robustness of checkpoints: FGSM, PGD, ... or the paper\'s Table 4 (--attack suite)' },
  export: { run: exportCommand, help: 'write a checkpoint\'s weights as safetensors plus a JSON of its architecture' },
  experiment: { run: experimentCommand, help: 'run an experiment recipe (train/search jobs over seeds) and write its report: bionas experiment --list' },
  'rdm-check': { run: rdmCheckCommand, help: 'MSE-NAS: rank correlation of each RDM fitness with short-training accuracy over random spiking genomes' },
  benchmark: { run: benchmarkCommand, help: 'search strategies on the NAS-Bench-201 tables: bionas benchmark nb201 --strategy all' },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.help}`);
  return `usage: bionas <command> [flags]\n\ncommands:\n${lines.join('\n')}\n\nbionas <command> --help shows its flags.`;
}

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`bionas: unknown command '${name}'\n\n${usage()}`);
    process.exitCode = 2;
    return;
  }
  await command.run(args);
}

main().catch((e) => {
  console.error(e instanceof UsageError ? e.message : `bionas: ${e instanceof Error ? e.message : String(e)}`);
  if (process.env.BIONAS_DEBUG) console.error(e);
  process.exitCode = e instanceof UsageError ? 2 : 1;
}).finally(async () => {
  const { shutdownGpu } = await import('../gpu/runtime.js');
  shutdownGpu();
});
