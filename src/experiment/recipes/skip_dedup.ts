// skip-dedup: BioNAS-DARTS searches in the paper's space, whose three skip_connect pairs (uSF,
// frSF, brSF) are one identity op in a normal cell, vs the same space with them merged into one
// pair; over seeds. Measures how much of each found normal cell is skip connections, and how
// often a search collapses (DARTS' known failure, SPEC 4).

import { registerRecipe, type JobResult, type RecipeOptions } from '../recipe.js';
import { searchArgs } from '../scale.js';
import { betterVerdict, fmtStat, mdTable, barChart, stat, type Verdict } from '../report.js';
import { SPACE_PRESETS } from '../../search/space.js';
import type { Genotype } from '../../models/genotype.js';
import type { ExperimentJob } from '../job.js';
import { seedList, reportHead, verdictLines } from './common.js';

/** A found normal cell "collapsed" when at least this share of its edges are skip_connect (bionas choice: half). */
export const COLLAPSE_SHARE = 0.5;
/** The merged space, written into the experiment folder for the search jobs to load. */
export const DEDUP_SPACE_FILE = 'spaces/bionas-dedup.json';

/** The paper's pairs with skip_connect kept once (its first rule, uSF). */
export function dedupSpace() {
  const seen = new Set<string>();
  const pairs = SPACE_PRESETS.bionas.pairs.filter((p) => {
    if (p.op !== 'skip_connect') return true;
    if (seen.has(p.op)) return false;
    seen.add(p.op);
    return true;
  });
  return { name: 'bionas-dedup', cell: 'darts', pairs };
}

const SPACES = [{ name: 'paper', space: 'bionas' }, { name: 'dedup', space: DEDUP_SPACE_FILE }];

/** Share of skip_connect edges in a found normal cell. */
export function skipShare(g: Genotype): number {
  return g.normal.filter((e) => e.op === 'skip_connect').length / g.normal.length;
}

export const SKIP_DEDUP = registerRecipe({
  name: 'skip-dedup',
  help: "searches in the paper's space vs the same space with its three identical skip_connect pairs merged: how often each collapses to skips",
  claim: "(a bionas question, not the paper's) the three identical skip_connect pairs of the paper's space change how often BioNAS-DARTS collapses to skip connections.",
  files: () => ({ [DEDUP_SPACE_FILE]: JSON.stringify(dedupSpace(), null, 1) + '\n' }),
  jobs(o: RecipeOptions): ExperimentJob[] {
    return seedList(o.seeds).flatMap((seed) => SPACES.map((s) => ({
      id: `${s.name}-s${seed}`, command: 'search' as const, run: `runs/${s.name}-s${seed}`, args: searchArgs(o, s.space, seed),
    })));
  },
  report(results: JobResult[], o: RecipeOptions) {
    const rows = SPACES.map((s) => {
      const found = results.filter((r) => new RegExp(`^${s.name}-s\\d+$`).test(r.job.id)).map((r) => (r.summary?.result as { genotype?: Genotype } | undefined)?.genotype).filter((g): g is Genotype => !!g);
      const shares = found.map(skipShare);
      return { ...s, share: stat(shares.map((x) => 100 * x)), collapsed: shares.filter((x) => x >= COLLAPSE_SHARE).length, n: shares.length };
    });
    const [paper, dedup] = rows;
    const more = betterVerdict(paper.share, dedup.share), less = betterVerdict(dedup.share, paper.share);
    const verdict: Verdict = more === 'holds' || less === 'holds' ? 'holds' : 'inconclusive at this scale';
    const v = { claim: 'the skip share of the found normal cells differs between the two spaces', verdict, why: `paper space ${fmtStat(paper.share, 1)} %, merged ${fmtStat(dedup.share, 1)} %` };
    const table = mdTable(['space', 'skip_connect share of the normal cell % (mean ± std, n)', `collapsed (share >= ${100 * COLLAPSE_SHARE} %)`],
      rows.map((r) => [r.space, fmtStat(r.share, 1), `${r.collapsed} of ${r.n}`]));
    return {
      markdown: [reportHead(SKIP_DEDUP, results, o), '## Skip connections in the found normal cells', '', table, '', '![skip share](skip_share.svg)', '', verdictLines([v])].join('\n'),
      svgs: { 'skip_share.svg': barChart(rows.map((r) => ({ name: r.name, stat: r.share })), { title: 'skip_connect share of the found normal cell', yLabel: '% of edges' }) },
      json: { recipe: 'skip-dedup', options: o, collapseShare: COLLAPSE_SHARE, spaces: rows, verdicts: [v] },
    };
  },
});
