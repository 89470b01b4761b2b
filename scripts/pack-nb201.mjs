#!/usr/bin/env node
// Packs the two NAS-Bench-201 CSVs of ../shared/data/nas-bench-201/ into data/nb201.bin.gz, the
// table `bionas benchmark nb201` reads (src/benchmarks/nb201/table.ts). See data/NB201-SOURCE.md.
//
//   node scripts/pack-nb201.mjs [DIR-WITH-THE-CSVS] [OUT]
//
// Checks that both files hold the same 15,625 architectures in the same order (row i of the
// 200-epoch file is index i of the 12-epoch file, with the same architecture string).
//
// Layout (gzip of): a text line 'BIONAS-NB201 1', a JSON line {rows, classes, columns, sha256}
// (sha256 of the body), then the body, little-endian, column after column:
//   code   u16 x rows   the cell's ops as base-5 digits, edge 1<-0 most significant
//                       (ops: none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3)
//   class  u16 x rows   the isomorphism class: UniqueString numbered by first appearance
//   then one f32 x rows column per accuracy in `columns` (percent).
// Row i is the benchmark's architecture index i.
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';

const OPS = ['none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3'];
const COLUMNS = {
  // name in the table: [file, CSV column]
  'cifar10.test200': ['acc', 'CIFAR10TestAccuracy200Epochs'],
  'cifar100.test200': ['acc', 'CIFAR100TestAccuracy200Epochs'],
  'imagenet16.test200': ['acc', 'ImageNetTestAccuracy200Epochs'],
  'cifar10.valid12': ['e12', 'CIFAR10Valid12Epochs'],
  'cifar100.valid12': ['e12', 'CIFAR100Valid12Epochs'],
  'imagenet16.valid12': ['e12', 'ImageNetValid12Epochs'],
  'cifar10.test12': ['e12', 'CIFAR10Test12Epochs'],
  'cifar100.test12': ['e12', 'CIFAR100Test12Epochs'],
  'imagenet16.test12': ['e12', 'ImageNetTest12Epochs'],
};

const dir = process.argv[2] ?? new URL('../../shared/data/nas-bench-201/', import.meta.url).pathname;
const out = process.argv[3] ?? new URL('../data/nb201.bin.gz', import.meta.url).pathname;

function readCsv(path) {
  const [head, ...lines] = readFileSync(path, 'utf8').trim().split(/\r?\n/);
  const names = head.split(',');
  // No field holds a comma (architecture strings use | + ~, UniqueStrings @ + ( )).
  return lines.map((line, i) => {
    const cells = line.split(',');
    if (cells.length !== names.length) throw new Error(`${path}: line ${i + 2} has ${cells.length} fields, expected ${names.length}`);
    return Object.fromEntries(names.map((n, k) => [n, cells[k]]));
  });
}

function code(arch) {
  const m = /^\|(\w+)~0\|\+\|(\w+)~0\|(\w+)~1\|\+\|(\w+)~0\|(\w+)~1\|(\w+)~2\|$/.exec(arch);
  if (!m) throw new Error(`bad architecture string '${arch}'`);
  return m.slice(1).reduce((c, op) => {
    const k = OPS.indexOf(op);
    if (k < 0) throw new Error(`unknown op '${op}' in '${arch}'`);
    return c * 5 + k;
  }, 0);
}

const acc = readCsv(`${dir}/nas-bench-201-accuracy.csv`);
const e12 = readCsv(`${dir}/nas-bench-201-12epoch.csv`);
const rows = acc.length;
if (rows !== 15625 || e12.length !== rows) throw new Error(`expected 15,625 rows in both files, got ${acc.length} and ${e12.length}`);
const codes = new Uint16Array(rows), classes = new Uint16Array(rows);
const classOf = new Map();
const seen = new Set();
for (let i = 0; i < rows; i++) {
  if (Number(e12[i].index) !== i) throw new Error(`12-epoch file: row ${i} has index ${e12[i].index}`);
  if (e12[i].ArchitectureString !== acc[i].ArchitectureString) throw new Error(`row ${i}: the files disagree on the architecture`);
  codes[i] = code(acc[i].ArchitectureString);
  if (seen.has(codes[i])) throw new Error(`row ${i}: architecture ${acc[i].ArchitectureString} repeats`);
  seen.add(codes[i]);
  const u = acc[i].UniqueString;
  if (!classOf.has(u)) classOf.set(u, classOf.size);
  classes[i] = classOf.get(u);
}
const cols = Object.entries(COLUMNS).map(([name, [file, column]]) => {
  const src = file === 'acc' ? acc : e12;
  return Float32Array.from(src, (r, i) => {
    const v = Number(r[column]);
    if (!Number.isFinite(v) || v < 0 || v > 100) throw new Error(`row ${i}: ${column} = '${r[column]}' is not an accuracy`);
    return v;
  });
});
const body = Buffer.concat([codes, classes, ...cols].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
const sha256 = createHash('sha256').update(body).digest('hex');
const header = `BIONAS-NB201 1\n${JSON.stringify({ rows, classes: classOf.size, columns: Object.keys(COLUMNS), sha256 })}\n`;
const packed = gzipSync(Buffer.concat([Buffer.from(header), body]), { level: 9 });
writeFileSync(out, packed);
console.log(`${out}: ${rows} architectures, ${classOf.size} classes, ${(packed.length / 1024).toFixed(0)} KiB (sha256 of the body ${sha256})`);
