// The bionas command line: one sub-command per file in this folder.
import { infoCommand } from './info.js';

const COMMANDS: Record<string, { run: (args: string[]) => Promise<void>; help: string }> = {
  info: { run: infoCommand, help: 'print the WebGPU adapter bionas chose, its limits, and why others were skipped' },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.help}`);
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
  console.error(`bionas: ${e instanceof Error ? e.message : String(e)}`);
  if (process.env.BIONAS_DEBUG) console.error(e);
  process.exitCode = 1;
}).finally(async () => {
  const { shutdownGpu } = await import('../gpu/runtime.js');
  shutdownGpu();
});
