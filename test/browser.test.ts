// The browser bundle in a real browser: headless Chromium loads dist/bionas.browser.mjs and runs
// test/browser/page.ts (kernels against the CPU references, training, a tiny search) on each of
// its WebGPU adapters that run without a GPU: SwiftShader (core) and Mesa llvmpipe through ANGLE
// (compatibility). `npm test` installs Chromium (scripts/setup.sh --browser); set
// BIONAS_CHROMIUM to use another Chromium or Chrome binary.

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { build } from 'esbuild';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshSeed } from './util.js';
import { parseGenotype, type Genotype } from '../src/models/genotype.js';
import type { PageReport } from './browser/page.js';
import { staticFiles } from '../scripts/serve.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

function findChromium(): string | null {
  if (process.env.BIONAS_CHROMIUM) return process.env.BIONAS_CHROMIUM;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
    try {
      return execFileSync('which', [name], { encoding: 'utf8' }).trim();
    } catch {
      // not on PATH
    }
  }
  return null;
}

const chromium = findChromium();
let work = '';
let pageScript = '';

beforeAll(async () => {
  if (!chromium) {
    throw new Error('browser tests need Chromium: run `bash scripts/setup.sh --browser` as root on Debian/Ubuntu ' +
      '(apt-get install chromium), or set BIONAS_CHROMIUM to a Chromium/Chrome binary');
  }
  // Always rebuilt (about a second), so the page never runs a bundle older than the sources.
  execFileSync(process.execPath, ['build.mjs'], { cwd: root, stdio: 'inherit' });
  work = mkdtempSync(join(tmpdir(), 'bionas-browser-'));
  // The page imports the bundle by URL at run time; esbuild bundles only the page and the CPU references.
  const out = await build({
    entryPoints: [join(root, 'test/browser/page.ts')], bundle: true, format: 'esm', target: 'es2022', write: false,
    external: ['/dist/bionas.browser.mjs'], logLevel: 'warning',
  });
  pageScript = out.outputFiles[0].text;
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true, maxRetries: 5 });
});

const files = staticFiles(root);

/** Serves the repository and the test page on localhost, opens Chromium at `path`, and waits for the report. */
async function runPage<Report = PageReport>(flags: string[], path: string, timeoutMs: number): Promise<Report> {
  let browser: ChildProcess | null = null;
  let server: Server | null = null;
  let stderr = '';
  try {
    return await new Promise<Report>((done, fail) => {
      server = createServer((req, res) => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        if (req.method === 'POST' && url.pathname === '/report') {
          let body = '';
          req.on('data', (d) => (body += d));
          req.on('end', () => {
            res.end();
            done(JSON.parse(body) as Report);
          });
          return;
        }
        const page: Record<string, [string, string]> = {
          '/test/': ['text/html', '<!doctype html><meta charset="utf-8"><title>bionas</title><script type="module" src="/test/page.mjs"></script>'],
          '/test/page.mjs': ['text/javascript', pageScript],
        };
        const file = page[url.pathname];
        if (!file) return files(req, res);
        res.setHeader('content-type', file[0]);
        res.end(file[1]);
      });
      server.listen(0, '127.0.0.1', () => {
        const { port } = server!.address() as { port: number };
        // Its own process group, so the GPU and renderer processes it starts die with it.
        browser = spawn(chromium!, [
          '--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--no-first-run', '--disable-background-networking',
          '--disable-component-update', '--disable-sync', '--disable-quic', `--user-data-dir=${mkdtempSync(join(work, 'profile-'))}`,
          ...flags, `http://127.0.0.1:${port}${path}`,
        ], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, EGL_PLATFORM: 'surfaceless' }, detached: true });
        browser.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
        browser.on('exit', (code) => fail(new Error(`Chromium exited (${code}) before the page reported:\n${stderr}`)));
      });
      setTimeout(() => fail(new Error(`no report from the page within ${timeoutMs / 1000} s; Chromium said:\n${stderr}`)), timeoutMs);
    });
  } finally {
    const b = browser as ChildProcess | null;
    if (b?.pid && b.exitCode === null) {
      const exited = new Promise((r) => b.once('exit', r));
      process.kill(-b.pid, 'SIGKILL');
      await exited;
    }
    (server as Server | null)?.close();
  }
}

function expectAllPass(report: PageReport, what: string): void {
  expect(report.error, `${what}: the page failed before its checks`).toBeUndefined();
  for (const c of report.checks) console.log(`${what}: ${c.ok ? 'ok  ' : 'FAIL'} ${c.name} (${(c.ms / 1000).toFixed(1)} s): ${c.detail.split('\n')[0]}`);
  expect(report.checks.length).toBe(10);
  for (const c of report.checks) expect(c.ok, `${what}: ${c.name}: ${c.detail}`).toBe(true);
}

describe('the browser bundle in headless Chromium', () => {
  it('SwiftShader (core): kernels match the CPU, a small CNN trains under FA, a tiny search derives a genotype', async () => {
    const seed = freshSeed('browser swiftshader');
    const report = await runPage([], `/test/?seed=${seed}`, 300_000);
    const info = report.adapter as { featureLevel: string; architecture: string };
    console.log(`adapter: ${JSON.stringify(info)}`);
    expect(info.featureLevel).toBe('core');
    expectAllPass(report, 'swiftshader');
    writeFileSync(join(tmpdir(), 'bionas-browser-alphas.svg'), report.svg!);
    expect(report.svg).toMatch(/^<svg[\s\S]*<\/svg>$/);
  }, 320_000);

  it('Mesa llvmpipe through ANGLE (compatibility level): the same checks', async () => {
    const seed = freshSeed('browser llvmpipe');
    const report = await runPage(['--use-webgpu-adapter=opengles', '--use-angle=gl-egl'], `/test/?seed=${seed}&level=compatibility`, 300_000);
    const info = report.adapter as { featureLevel: string; description: string; vendor: string };
    console.log(`adapter: ${JSON.stringify(info)}`);
    expect(info.featureLevel).toBe('compatibility');
    expectAllPass(report, 'llvmpipe');
  }, 320_000);

  it('the example page (examples/browser/) runs its search and draws the cells and alpha heat maps', async () => {
    const seed = freshSeed('browser example');
    const r = await runPage<{ error?: string; genotype: Genotype; stopped: boolean; epochs: number; figures: string[]; log: string }>(
      [], `/examples/browser/?auto&report&seed=${seed}`, 300_000);
    expect(r.error).toBeUndefined();
    console.log(r.log);
    expect(r.stopped).toBe(false);
    expect(r.epochs).toBe(3);
    expect(r.figures).toHaveLength(4);
    for (const svg of r.figures) expect(svg).toMatch(/^<svg[\s\S]*<\/svg>$/);
    const shown = join(tmpdir(), 'bionas-browser-example.html');
    writeFileSync(shown, `<!doctype html><meta charset="utf-8"><pre>${r.log}</pre>${r.figures.join('\n')}`);
    console.log(`the page's figures: ${shown}`);
    expect(() => parseGenotype(r.genotype, 'the example page')).not.toThrow();
  }, 320_000);
});
