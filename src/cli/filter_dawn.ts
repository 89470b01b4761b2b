// A line filter for the output of programs that open the engine themselves, such as the test
// runner (npm test): Dawn's known start-up notices (src/gpu/device.ts) are dropped, every
// other line is passed on. The bionas command filters its own child the same way (bin.ts).
// Usage: some-command 2> >(node dist/filter-dawn.mjs >&2)

import { createInterface } from 'node:readline';
import { DawnNoticeFilter, isVerbose } from '../gpu/device.js';

const filter = new DawnNoticeFilter();
const verbose = isVerbose([]);
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (verbose || filter.shows(line)) process.stdout.write(`${line}\n`);
}
