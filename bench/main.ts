// Benchmarks: times every case of the case files below in bionas and, where the case has
// one, in tfjs-backend-webgpu on the same adapter in the same process; prints a table and
// appends it to bench/RESULTS.md.
//
//   node dist/bench.mjs [--filter <substring>] [--reps N] [--no-tfjs] [--no-write]
//
// Timing: a few warm-up runs, then R runs recorded back to back and one wait for the GPU at
// the end (bionas: await gpu().sync(); tfjs: await a data() read of the last result, which
// each tfjs run returns); ms/run = wall-clock / R. Without --reps, R is chosen so a case
// takes about a second. A run that returns a promise (a step that reads back) is awaited.
// tfjs runs on its own device of the adapter bionas chose (same Dawn backend, same process).

import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { loadavg, cpus } from 'node:os';
import { initGpu, gpu, shutdownGpu } from '../src/gpu/runtime.js';
import { profileStep, formatProfile } from '../src/gpu/profiler.js';
import type { BenchCase, Runnable } from './harness.js';

// One line per case file; each exports its BenchCase[] as `cases` (or default).
const CASE_FILES: (() => Promise<{ cases?: BenchCase[]; default?: BenchCase[] }>)[] = [
  () => import('./matmul.js'),
  () => import('./conv.js'),
  () => import('./pool.js'),
  () => import('./mixed.js'),
  () => import('./train.js'),
  () => import('./search.js'),
  () => import('./attack.js'),
];

const RESULTS = 'bench/RESULTS.md';
const WARMUP = 2;
const TARGET_MS = 1000;
const MAX_REPS = 200;

interface Args {
  filter: string | null;
  skip: string | null;
  reps: number | null;
  tfjs: boolean;
  write: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { filter: null, skip: null, reps: null, tfjs: true, write: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench: ${a} needs a value`);
      return v;
    };
    if (a === '--filter') args.filter = value();
    else if (a === '--skip') args.skip = value();
    else if (a === '--reps') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new Error(`bench: --reps takes a positive integer, got ${argv[i]}`);
      args.reps = n;
    } else if (a === '--no-tfjs') args.tfjs = false;
    else if (a === '--no-write') args.write = false;
    else if (a === '--help' || a === '-h') {
      console.log('usage: node dist/bench.mjs [--filter <substring>] [--skip <substring>] [--reps N] [--no-tfjs] [--no-write]');
      process.exit(0);
    } else throw new Error(`bench: unknown argument ${a} (try --help)`);
  }
  return args;
}

/** Times a runnable: warm-up, then R runs and one wait. Returns ms per run and R. */
async function time(r: Runnable, wait: (last: unknown) => Promise<void>, reps: number | null): Promise<{ ms: number; reps: number }> {
  const run = async () => {
    const out = r.run();
    return out instanceof Promise ? await out : out;
  };
  let last: unknown;
  for (let i = 0; i < WARMUP; i++) last = await run();
  await wait(last);
  let n = reps;
  if (n === null) {
    const t0 = performance.now();
    await wait(await run());
    const once = performance.now() - t0;
    n = Math.max(3, Math.min(MAX_REPS, Math.ceil(TARGET_MS / Math.max(once, 0.01))));
  }
  const t0 = performance.now();
  for (let i = 0; i < n; i++) last = await run();
  await wait(last);
  return { ms: (performance.now() - t0) / n, reps: n };
}

// ---- tfjs on our adapter ---------------------------------------------------------------------

/** tfjs-core with a WebGPUBackend on a device of the adapter bionas chose; null if it cannot. */
async function initTfjs(): Promise<{ tf: any; note: string } | { tf: null; note: string }> {
  try {
    const tf: any = await import('@tensorflow/tfjs-core');
    const { WebGPUBackend }: any = await import('@tensorflow/tfjs-backend-webgpu');
    const webgpu: any = await import('webgpu');
    const info = gpu().info;
    if (info.backend === 'browser') return { tf: null, note: 'not in a browser' };
    // The same Dawn backend and feature level as src/gpu/device.ts chose, its own device.
    const flags = info.backend === 'opengl' ? ['backend=opengl'] : [`backend=${info.backend}`];
    const navGpu: GPU = webgpu.create(flags);
    const adapter = await navGpu.requestAdapter({ featureLevel: info.featureLevel, powerPreference: 'high-performance' } as GPURequestAdapterOptions);
    if (!adapter) return { tf: null, note: `no ${info.backend} adapter for tfjs` };
    const requiredLimits: Record<string, number> = {};
    for (const key in adapter.limits) {
      const v = (adapter.limits as any)[key];
      if (typeof v === 'number') requiredLimits[key] = v;
    }
    const device = await adapter.requestDevice({ requiredLimits, label: 'tfjs' });
    // WebGPUBackend checks navigator.gpu; Node 20 has no navigator (21+ has one without gpu).
    const nav = (globalThis as any).navigator ?? {};
    Object.defineProperty(globalThis, 'navigator', { value: Object.assign(nav, { gpu: navGpu }), configurable: true, writable: true });
    // tfjs-backend-webgpu registers its kernels for the backend named 'webgpu' (and registers
    // that backend itself only when navigator.gpu exists at import): register ours under it.
    if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
    tf.registerBackend('webgpu', () => new WebGPUBackend(device, adapter.info), 10);
    if (!(await tf.setBackend('webgpu'))) return { tf: null, note: 'tfjs could not start its WebGPU backend' };
    await tf.ready();
    return { tf, note: `tfjs-core ${tf.version_core}, tfjs-backend-webgpu on its own device of the same adapter (${adapter.info.description || adapter.info.vendor})` };
  } catch (e) {
    return { tf: null, note: `tfjs unavailable: ${(e as Error).message.split('\n')[0]}` };
  }
}

// ---- main --------------------------------------------------------------------------------------

interface Row {
  name: string;
  ms: number | null;
  gflops: number | null;
  gbs: number | null;
  items: number | null;
  tfMs: number | null;
  tfGflops: number | null;
  error?: string;
  tfError?: string;
}

const f = (x: number | null, digits = 2) => (x === null || !Number.isFinite(x) ? '-' : x >= 100 ? x.toFixed(0) : x.toFixed(digits));

function table(rows: Row[]): string {
  const withItems = rows.some((r) => r.items !== null);
  const head = ['case', 'ms/run', 'GFLOP/s', 'GB/s', ...(withItems ? ['items/s'] : []), 'tfjs ms/run', 'tfjs GFLOP/s', 'bionas/tfjs (speed)'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((h, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const r of rows) {
    const ratio = r.ms !== null && r.tfMs !== null ? `${(r.tfMs / r.ms).toFixed(2)}x` : r.tfError ? `tfjs failed: ${r.tfError}` : '-';
    const items = withItems ? [f(r.items, 1)] : [];
    const cells = r.error
      ? [r.name, `error: ${r.error}`, ...head.slice(2).map(() => '')]
      : [r.name, f(r.ms, 3), f(r.gflops), f(r.gbs), ...items, f(r.tfMs, 3), f(r.tfGflops), ratio];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const rt = await initGpu();
  const info = rt.info;
  const all: BenchCase[] = [];
  for (const load of CASE_FILES) {
    const mod = await load();
    all.push(...(mod.cases ?? mod.default ?? []));
  }
  const matches = (c: BenchCase, s: string) => c.name.includes(s) || c.family.includes(s);
  const cases = all.filter((c) => (!args.filter || matches(c, args.filter)) && (!args.skip || !matches(c, args.skip)));
  if (!cases.length) throw new Error(`bench: no case matches --filter ${args.filter}`);
  const tfjs = args.tfjs && cases.some((c) => c.tfjs) ? await initTfjs() : { tf: null, note: 'tfjs not run' };
  const adapter = `${info.description || info.vendor} (${info.backend}, ${info.featureLevel})`;
  console.log(`adapter: ${adapter}`);
  const texture = rt.tuning.matmulTexture;
  const tiles = (texture ? `tuning.matmulTexture ${JSON.stringify(texture)} (textures where they fit); from buffers: ` : 'tuning.') +
    `matmul ${JSON.stringify(rt.tuning.matmul)} from ${rt.tuning.matmulLargeWork} multiply-adds, else ${JSON.stringify(rt.tuning.matmulSmall)}`;
  console.log(tiles);
  console.log(tfjs.note);

  const rows: Row[] = [];
  for (const c of cases) {
    const row: Row = { name: c.name, ms: null, gflops: null, gbs: null, items: null, tfMs: null, tfGflops: null };
    let profile = '';
    try {
      const r = c.bionas();
      try {
        const t = await time(r, () => gpu().sync(), args.reps);
        row.ms = t.ms;
        row.gflops = c.flops ? c.flops / (t.ms * 1e6) : null;
        row.gbs = c.bytes ? c.bytes / (t.ms * 1e6) : null;
        row.items = c.items ? c.items / (t.ms / 1000) : null;
        if (c.profile) profile = formatProfile(await profileStep(async () => void (await r.run())));
      } finally {
        r.dispose();
        await gpu().sync();
      }
      if (tfjs.tf && c.tfjs) {
        // A failure of the tfjs half keeps the bionas figure and is reported beside it.
        try {
          const tr = c.tfjs(tfjs.tf);
          try {
            const t = await time(tr, async (last: any) => void (await last?.data?.()), args.reps);
            row.tfMs = t.ms;
            row.tfGflops = c.flops ? c.flops / (t.ms * 1e6) : null;
          } finally {
            tr.dispose();
          }
        } catch (e) {
          row.tfError = (e as Error).message.split('\n')[0];
        }
      }
    } catch (e) {
      row.error = (e as Error).message.split('\n')[0];
    }
    rows.push(row);
    const ratio = row.ms !== null && row.tfMs !== null ? `  bionas/tfjs ${(row.tfMs / row.ms).toFixed(2)}x` : '';
    console.log(row.error
      ? `${c.name}: error: ${row.error}`
      : `${c.name}: ${f(row.ms, 3)} ms, ${f(row.gflops)} GFLOP/s, ${f(row.gbs)} GB/s` +
        (row.items !== null ? `, ${f(row.items, 1)} items/s` : '') +
        (row.tfMs !== null ? ` | tfjs ${f(row.tfMs, 3)} ms, ${f(row.tfGflops)} GFLOP/s${ratio}` : '') +
        (row.tfError ? ` | tfjs failed: ${row.tfError}` : ''));
    if (profile) console.log(profile);
  }

  const text = table(rows);
  console.log('\n' + text);
  if (args.write) {
    const command = ['node dist/bench.mjs', ...process.argv.slice(2)].join(' ');
    const section = [
      `## ${new Date().toISOString()}`,
      '',
      `- adapter: ${adapter}`,
      `- backend: ${info.backend} (${info.featureLevel}); ${tiles}`,
      `- tfjs: ${tfjs.note}`,
      `- machine: ${cpus().length} CPUs, load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')} (other processes share the CPU on llvmpipe)`,
      `- command: \`${command}\``,
      '',
      text,
      '',
      '',
    ].join('\n');
    if (!existsSync(RESULTS)) writeFileSync(RESULTS, '# Benchmark results\n\nOne section per run of `npm run bench` (bench/main.ts); newest last.\n\n');
    appendFileSync(RESULTS, section);
    console.log(`appended to ${RESULTS}`);
  }
  shutdownGpu();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
