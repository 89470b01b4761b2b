import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { gzipSync, gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNb201Table, archToOps, opsToArch, opsToCode, codeToOps, NB201_CELLS, type Nb201Table } from '../src/benchmarks/nb201/table.js';
import { Nb201Oracle, QueryBudget } from '../src/benchmarks/nb201/oracle.js';
import { runNb201Search } from '../src/search/strategies/run_table.js';
import { getTableStrategy, tableStrategyNames, BudgetSpent } from '../src/search/strategies/index.js';
import { splitmix32 } from '../src/data/dataset.js';

const ALL_SKIP = '|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|';
// ResNet-like by its ops, but node 3 only takes the skip from node 0: the cell is the identity.
const RESNET_LIKE = '|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|';

let nb: Nb201Table;
beforeAll(async () => {
  nb = await loadNb201Table();
});

describe('the shipped NAS-Bench-201 table', () => {
  it('holds the known values of the CSVs', () => {
    expect(nb.rows).toBe(15625);
    expect(nb.classCount).toBe(6466);
    const c10 = nb.optimum('cifar10', 'test200');
    expect(c10.test200).toBeCloseTo(94.37, 2);
    expect(c10.arch).toBe('|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|');
    expect(nb.optimum('cifar100', 'test200').test200).toBeCloseTo(73.51, 2);
    expect(nb.optimum('imagenet16', 'test200').test200).toBeCloseTo(47.31, 2);
    expect(nb.optimum('cifar10', 'valid12').value).toBeCloseTo(84.892, 3);
    const skip = nb.index(ALL_SKIP);
    expect(nb.accuracy(skip, 'cifar10.test200')).toBeCloseTo(54.30, 2);
    expect(nb.accuracy(skip, 'cifar100.test200')).toBeCloseTo(15.61, 2);
    // Row 1601 of both CSVs: 86.33666..., 12-epoch valid 73.2660, test 79.4000.
    const res = nb.index(RESNET_LIKE);
    expect(res).toBe(1601);
    expect(nb.accuracy(res, 'cifar10.test200')).toBeCloseTo(86.3367, 3);
    expect(nb.accuracy(res, 'cifar10.valid12')).toBeCloseTo(73.266, 3);
    expect(nb.accuracy(res, 'cifar10.test12')).toBeCloseTo(79.4, 3);
    expect(nb.arch(0)).toBe('|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|');
  });

  it('maps architecture strings, ops, codes and indices both ways for all 15,625 cells', () => {
    const indices = new Set<number>();
    for (let code = 0; code < NB201_CELLS; code++) {
      const ops = codeToOps(code);
      expect(opsToCode(ops)).toBe(code);
      const arch = opsToArch(ops);
      expect(archToOps(arch)).toEqual(ops);
      const i = nb.index(arch);
      expect(nb.arch(i)).toBe(arch);
      indices.add(i);
    }
    expect(indices.size).toBe(NB201_CELLS);
    expect(() => archToOps('|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|')).toThrow(/unknown op 'conv'/);
    expect(() => nb.arch(15625)).toThrow(/index 15625/);
  });

  it('refuses a corrupt table file clearly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bionas-nb201-'));
    const raw = gunzipSync(readFileSync('data/nb201.bin.gz'));
    raw[raw.length - 100] ^= 0xff;
    writeFileSync(join(dir, 'flipped.gz'), gzipSync(raw));
    await expect(loadNb201Table(join(dir, 'flipped.gz'))).rejects.toThrow(/checksum mismatch.*corrupt/);
    writeFileSync(join(dir, 'junk.gz'), 'not gzip');
    await expect(loadNb201Table(join(dir, 'junk.gz'))).rejects.toThrow(/not a readable gzip file/);
    writeFileSync(join(dir, 'short.gz'), gzipSync(raw.subarray(0, raw.length - 8)));
    await expect(loadNb201Table(join(dir, 'short.gz'))).rejects.toThrow(/body has .* bytes/);
  });
});

describe('the query budget', () => {
  it('charges a cell and every cell isomorphic to it once', () => {
    // Two different cells of one class, and a cell of another class.
    const first = new Map<number, number>();
    let a = -1, b = -1;
    for (let i = 0; i < nb.rows && b < 0; i++) {
      const c = nb.classOf(i);
      if (first.has(c)) [a, b] = [first.get(c)!, i];
      else first.set(c, i);
    }
    const other = [...Array(nb.rows).keys()].find((i) => nb.classOf(i) !== nb.classOf(a))!;
    const oracle = new Nb201Oracle(nb, 'cifar10', 'valid12', 2);
    expect(oracle.query(nb.ops(a))).toBeCloseTo(nb.accuracy(a, 'cifar10.valid12'), 5);
    oracle.query(nb.ops(a));
    // An isomorphic cell answers with its own value, at no charge.
    expect(oracle.query(nb.ops(b))).toBeCloseTo(nb.accuracy(b, 'cifar10.valid12'), 5);
    expect(oracle.charged).toBe(1);
    oracle.query(nb.ops(other));
    expect(oracle.charged).toBe(2);
    expect(oracle.curve.length).toBe(2);
    const third = [...Array(nb.rows).keys()].find((i) => ![nb.classOf(a), nb.classOf(other)].includes(nb.classOf(i)))!;
    expect(() => oracle.query(nb.ops(third))).toThrow(BudgetSpent);
    // Repeats still answer once the budget is spent.
    expect(() => oracle.query(nb.ops(b))).not.toThrow();
  });

  it('refuses a budget larger than the space', () => {
    expect(() => new QueryBudget(20_000, nb.classCount)).toThrow(/exceeds the 6466 distinct cells/);
    expect(() => new QueryBudget(6467, nb.classCount)).toThrow(/exceeds/);
    expect(() => new QueryBudget(0, nb.classCount)).toThrow(/positive integer/);
    expect(() => new Nb201Oracle(nb, 'mnist', 'valid12', 10)).toThrow(/dataset 'mnist': expected one of cifar10, cifar100, imagenet16/);
    expect(() => getTableStrategy('bohb')).toThrow(/unknown table strategy 'bohb'; known: random, rea, local, cmaes/);
  });
});

describe('table search strategies', () => {
  const opts = { dataset: 'cifar10', signal: 'valid12' as const, queries: 60 };

  it('are reproducible from their seed', async () => {
    // DCL-ENAS trains a predictor on the GPU: test/dcl.test.ts covers it.
    expect(tableStrategyNames()).toEqual(['random', 'rea', 'local', 'cmaes', 'cso', 'icso', 'dcl-enas']);
    for (const name of tableStrategyNames().filter((n) => !getTableStrategy(n).usesGpu)) {
      const s = getTableStrategy(name);
      const one = await runNb201Search(nb, s, { ...opts, seed: 7 });
      const two = await runNb201Search(nb, s, { ...opts, seed: 7 });
      const other = await runNb201Search(nb, s, { ...opts, seed: 8 });
      expect(one.queried, name).toEqual(two.queried);
      expect(one.queried.length).toBe(60);
      expect(new Set(one.queried.map((i) => nb.classOf(i))).size).toBe(60);
      expect(other.queried, name).not.toEqual(one.queried);
      expect(one.curve.length).toBe(60);
      // The result is the 200-epoch test accuracy of the best cell by the signal (a free repeat of
      // an isomorphic cell may hold it, so at least the best charged one).
      const bestCharged = Math.max(...one.queried.map((i) => nb.accuracy(i, 'cifar10.valid12')));
      expect(one.best.value).toBeGreaterThanOrEqual(bestCharged);
      expect(one.best.value).toBe(nb.accuracy(one.best.index, 'cifar10.valid12'));
      expect(one.best.test200).toBe(nb.accuracy(one.best.index, 'cifar10.test200'));
      expect(one.curve.at(-1)).toBe(one.best.test200);
    }
  });

  // A plain re-implementation: the same rng draws, the class bookkeeping written out.
  function reference(seed: number, queries: number, next: (rng: () => number, ask: (ops: number[]) => number) => void): number[] {
    const rng = splitmix32(seed);
    const classes = new Set<number>();
    const charged: number[] = [];
    const done = new Error('done');
    const ask = (ops: number[]) => {
      const i = nb.index(ops);
      if (!classes.has(nb.classOf(i))) {
        if (classes.size === queries) throw done;
        classes.add(nb.classOf(i));
        charged.push(i);
      }
      return nb.accuracy(i, 'cifar10.valid12');
    };
    try {
      next(rng, ask);
    } catch (e) {
      if (e !== done) throw e;
    }
    return charged;
  }
  const randomOps = (rng: () => number) => Array.from({ length: 6 }, () => Math.floor(rng() * 5));

  it('random search queries what a plain re-implementation queries', async () => {
    const expected = reference(3, 60, (rng, ask) => {
      for (;;) ask(randomOps(rng));
    });
    expect((await runNb201Search(nb, getTableStrategy('random'), { ...opts, seed: 3 })).queried).toEqual(expected);
  });

  it('regularised evolution (population 10, sample 3) queries what a plain re-implementation queries', async () => {
    const expected = reference(5, 60, (rng, ask) => {
      const pop: [number[], number][] = [];
      for (let k = 0; k < 10; k++) {
        const ops = randomOps(rng);
        pop.push([ops, ask(ops)]);
      }
      for (;;) {
        const sample = [0, 1, 2].map(() => pop[Math.floor(rng() * pop.length)]);
        const parent = sample.reduce((p, c) => (c[1] > p[1] ? c : p));
        const child = [...parent[0]];
        const e = Math.floor(rng() * 6);
        const others = [0, 1, 2, 3, 4].filter((k) => k !== child[e]);
        child[e] = others[Math.floor(rng() * 4)];
        pop.push([child, ask(child)]);
        pop.shift();
      }
    });
    expect((await runNb201Search(nb, getTableStrategy('rea'), { ...opts, seed: 5 })).queried).toEqual(expected);
  });

  it('beat random search on average with the oracle signal at 100 queries (a sanity check, 20 runs)', async () => {
    const mean = async (name: string) => {
      let sum = 0;
      for (let r = 0; r < 20; r++) sum += (await runNb201Search(nb, getTableStrategy(name), { dataset: 'cifar10', signal: 'test200', queries: 100, seed: r })).best.test200;
      return sum / 20;
    };
    const random = await mean('random');
    expect(await mean('rea')).toBeGreaterThan(random);
    expect(await mean('local')).toBeGreaterThan(random);
  });
});

describe('bionas benchmark nb201 (built CLI)', () => {
  const CLI = 'dist/bionas.mjs';
  const run = (args: string[]) => {
    const r = spawnSync('node', [CLI, 'benchmark', 'nb201', ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
    return { code: r.status, out: r.stdout + r.stderr };
  };

  it('writes a report with a row per strategy (DCL-ENAS on the device it opens)', () => {
    expect(existsSync(CLI), 'build dist/ first: node build.mjs').toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'bionas-nb201-cli-'));
    const r = run(['--runs', '3', '--queries', '20', '--strategy', 'all', '--run', dir]);
    expect(r.code, r.out).toBe(0);
    const report = readFileSync(join(dir, 'report.md'), 'utf8');
    for (const name of ['random', 'rea', 'local', 'cmaes', 'cso', 'icso', 'dcl-enas']) expect(report).toMatch(new RegExp(`\\| ${name} \\(.*\\| 3 \\| 20 \\| \\d+\\.\\d\\d ± \\d+\\.\\d\\d \\| 94\\.37 \\|`));
    expect(report).toMatch(/\| random \(random search\) .*\| ~93\.70 \|/);
    expect(readFileSync(join(dir, 'runs.jsonl'), 'utf8').trim().split('\n')).toHaveLength(21);
    expect(readFileSync(join(dir, 'curves.svg'), 'utf8')).toContain('<polygon');
    expect(r.out).toMatch(/cmaes: 3 runs in [\d.]+ s/);
  }, 120_000);

  it('labels the test200 signal as an oracle and refuses bad input clearly', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bionas-nb201-cli-'));
    const oracle = run(['--runs', '2', '--queries', '10', '--strategy', 'rea', '--signal', 'test200', '--run', dir]);
    expect(oracle.code, oracle.out).toBe(0);
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toMatch(/oracle/i);
    expect(oracle.out).toMatch(/oracle/);
    const badSet = run(['--dataset', 'mnist']);
    expect(badSet.code).toBe(2);
    expect(badSet.out).toMatch(/--dataset must be one of cifar10, cifar100, imagenet16 \(got 'mnist'\)/);
    const badStrategy = run(['--strategy', 'bohb']);
    expect(badStrategy.code).toBe(2);
    expect(badStrategy.out).toMatch(/--strategy must be one of all, random, rea, local, cmaes/);
    const big = run(['--queries', '16000']);
    expect(big.code).toBe(2);
    expect(big.out).toMatch(/--queries 16000 exceeds the 6466 distinct cells/);
  });
});
