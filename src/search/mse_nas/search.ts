// MSE-NAS' search (SPEC 10) as a run-loop job: NSGA-II (src/search/optimizers/nsga2.ts) over
// spiking genomes in [0, 1]^D (src/snn/genome.ts), one generation per epoch, one genome scored
// per step (training-free: ./score.ts). Epoch 0 scores the initial population, every later
// epoch the offspring (pymoo's n_gen, which MSE-NAS sets to 100, counts the initial population
// as generation 1). Objectives, all minimised: 'rdm' is minus the RDM fitness, 'spikes' the
// mean spike count per image. Checkpoints hold NSGA-II's state (its pending offspring and
// generator included) and the scores of the generation so far, so a resumed search equals an
// uninterrupted one. Each generation writes its front (front.jsonl), the scores of every genome
// (scores.jsonl), pareto.svg and genotype.json (the front member with the highest RDM fitness).

import type { Job, JobState, Phase, Position, RunContext } from '../../run/job.js';
import type { SavedState } from '../../run/state.js';
import { NSGA2, type Nsga2State } from '../optimizers/nsga2.js';
import { decodeGenome, genomeDimension, genotypeJson, type SpikingGenome } from '../../snn/genome.js';
import { MOTIFS } from '../../snn/motifs.js';
import { scoreGenome, type GenomeScore, type ScoringBatch } from './score.js';
import { scatterChart, rampColor, type PointGroup } from '../../viz/scatter.js';

/**
 * The RDM variant scored by default: the one whose rank correlation with short-training accuracy
 * was highest in `bionas rdm-check` (docs/MSE-NAS.md gives the taus of every variant).
 */
export const MSE_NAS_DEFAULT_FITNESS = 'separation-euclidean';

/** What --objectives may name. */
export const MSE_NAS_OBJECTIVES = ['rdm', 'spikes'] as const;
export type MseNasObjective = (typeof MSE_NAS_OBJECTIVES)[number];

/**
 * The objective of a failed score (a non-finite fitness, e.g. a singular Hamming kernel, or a
 * non-finite spike count): NSGA-II refuses non-finite values. Far beyond any real score (RDM
 * scores are at most a few hundred in size, spike counts per image at most neurons x T): bionas choice.
 */
export const MSE_NAS_PENALTY = 1e12;

export interface MseNasConfig {
  /** NSGA-II population mu (SPEC 10: 50). */
  population: number;
  /** Offspring lambda per generation (SPEC 10: 50). */
  offspring: number;
  /** Generations, the initial population's included (SPEC 10: 100). */
  generations: number;
  /** Normal cells of a genome. */
  cells: number;
  /** Time steps T of a scored network. */
  timesteps: number;
  /** Channels of a scored network's first cells. */
  C: number;
  /** Images of the fixed scoring batch. */
  scoreBatch: number;
  /** RDM fitness variant (RDM_FITNESSES). */
  fitness: string;
  objectives: MseNasObjective[];
  seed: number;
  /** Steps between metric read-backs (the progress bar). */
  logEvery: number;
}

/** Parses --objectives: a comma list of rdm and spikes, each once. */
export function parseObjectives(s: string): MseNasObjective[] {
  const list = s.split(',').map((x) => x.trim()).filter(Boolean);
  if (list.length === 0) throw new Error(`--objectives: name at least one of ${MSE_NAS_OBJECTIVES.join(', ')}`);
  for (const o of list) if (!MSE_NAS_OBJECTIVES.includes(o as MseNasObjective)) throw new Error(`--objectives: '${o}' is not an objective (choose from ${MSE_NAS_OBJECTIVES.join(', ')})`);
  if (new Set(list).size !== list.length) throw new Error(`--objectives: '${s}' names an objective twice`);
  return list as MseNasObjective[];
}

/** The minimised objectives of a score (a non-finite value becomes MSE_NAS_PENALTY). */
export function objectivesOf(s: GenomeScore, fitness: string, objectives: readonly MseNasObjective[]): number[] {
  return objectives.map((o) => {
    const v = o === 'rdm' ? -s.fitness[fitness] : s.spikes;
    return Number.isFinite(v) ? v : MSE_NAS_PENALTY;
  });
}

/** A genome in a line: wiring, then per cell its motif and edge genes (k3e = 3x3 excitatory). */
export function describeGenome(g: SpikingGenome): string {
  return `w${g.wiring} ` + g.cells.map((c) => `${MOTIFS[g.wiring][c.motif].name}(${c.edges.map((e) => `k${e.kernel}${e.polarity[0]}`).join(' ')})`).join(' ');
}

/** A scored genome as the outputs list it. */
export interface ScoredGenome {
  genome: string;
  fitness: number;
  spikes: number;
  objectives: number[];
  /** The genome's vector (as NSGA-II holds it). */
  x: number[];
}

/**
 * The network a search hands on: the front member with the highest RDM fitness (the accuracy
 * proxy; fewer spikes break ties, then the earlier member). bionas choice: MSE-NAS' paper
 * picks from the front by hand; the highest fitness is the one meant to train best.
 */
export function chooseFromFront(front: readonly ScoredGenome[]): ScoredGenome {
  if (front.length === 0) throw new Error('MSE-NAS: an empty front');
  const fit = (s: ScoredGenome) => (Number.isFinite(s.fitness) ? s.fitness : -Infinity);
  return front.reduce((best, s) => (fit(s) > fit(best) || (fit(s) === fit(best) && s.spikes < best.spikes) ? s : best));
}

interface Scored {
  /** Index in the generation's candidates. */
  index: number;
  score: GenomeScore;
}

/** The kind MSE-NAS runs write into checkpoints: `bionas search --resume` finds the search by it. */
export const MSE_NAS_KIND = 'search-mse-nas';

export class MseNasJob implements Job {
  readonly kind = MSE_NAS_KIND;
  readonly streams = ['front', 'scores'] as const;
  readonly resumable = ['generations', 'logEvery'] as const;
  private opt: NSGA2;
  private readonly key: (x: Float64Array) => string;
  /** Scores of the current generation's candidates so far, in order. */
  private scored: Scored[] = [];
  /** Scores of the population's members, by genome key (their spike count and fitness, whatever the objectives). */
  private known: Record<string, GenomeScore> = {};
  private candidates: Float64Array[] = [];
  /** The front after the last generation. */
  front: ScoredGenome[] = [];

  constructor(readonly c: MseNasConfig, private readonly batch: ScoringBatch, private readonly describe: Record<string, unknown> = {}) {
    this.key = (x) => JSON.stringify(decodeGenome(x, c.cells));
    this.opt = new NSGA2(genomeDimension(c.cells), { populationSize: c.population, offspring: c.offspring, seed: c.seed, key: this.key });
  }

  get config(): Record<string, unknown> {
    return { ...this.c };
  }
  get epochs(): number {
    return this.c.generations;
  }
  get logEvery(): number {
    return this.c.logEvery;
  }

  phases(epoch: number): Phase[] {
    return [{ name: 'score', steps: this.opt.ask().length, label: `generation ${epoch + 1}/${this.c.generations}`, unit: 'genome' }];
  }

  beginPhase(): void {
    this.candidates = this.opt.ask();
  }

  async step(at: Position, ctx: RunContext): Promise<number> {
    const x = this.candidates[at.step];
    const genome = decodeGenome(x, this.c.cells);
    const score = await scoreGenome(genome, this.batch, { T: this.c.timesteps, C: this.c.C, seed: this.c.seed }, [this.c.fitness]);
    this.scored.push({ index: at.step, score });
    ctx.record('scores', {
      generation: at.epoch + 1, index: at.step, genome: describeGenome(genome), fitness: score.fitness[this.c.fitness], spikes: score.spikes,
      objectives: objectivesOf(score, this.c.fitness, this.c.objectives),
    });
    return this.batch.x.shape[0];
  }

  async metrics(): Promise<Record<string, number>> {
    const fits = this.scored.map((s) => s.score.fitness[this.c.fitness]).filter(Number.isFinite);
    const spikes = this.scored.map((s) => s.score.spikes).filter(Number.isFinite);
    return {
      ...(fits.length ? { 'best fitness': Math.max(...fits) } : {}),
      ...(spikes.length ? { 'min spikes': Math.min(...spikes) } : {}),
    };
  }

  async endEpoch(epoch: number, ctx: RunContext): Promise<void> {
    const c = this.c;
    if (this.scored.length !== this.candidates.length) throw new Error(`MSE-NAS: generation ${epoch + 1} scored ${this.scored.length} of ${this.candidates.length} genomes`);
    const scores = this.scored.map((s) => s.score);
    this.candidates.forEach((x, i) => (this.known[this.key(x)] = scores[i]));
    this.opt.tell(this.candidates, scores.map((s) => objectivesOf(s, c.fitness, c.objectives)));
    this.scored = [];
    this.candidates = [];
    const population = this.opt.population();
    const keys = new Set(population.map((m) => this.key(m.x)));
    this.known = Object.fromEntries(Object.entries(this.known).filter(([k]) => keys.has(k)));
    const scoredOf = (x: Float64Array, f: number[]): ScoredGenome => {
      const s = this.known[this.key(x)];
      return { genome: describeGenome(decodeGenome(x, c.cells)), fitness: s.fitness[c.fitness], spikes: s.spikes, objectives: f, x: Array.from(x) };
    };
    this.front = population.filter((m) => m.rank === 0).map((m) => scoredOf(m.x, m.f));
    const chosen = chooseFromFront(this.front);
    const fits = population.map((m) => this.known[this.key(m.x)].fitness[c.fitness]).filter(Number.isFinite);
    ctx.record('front', {
      generation: epoch + 1, evaluations: this.opt.evaluations, duplicates: this.opt.duplicates, population: population.length,
      front: this.front.map(({ x: _x, ...rest }) => rest), chosen: chosen.genome,
    });
    ctx.log(`generation ${epoch + 1}/${c.generations}: front of ${this.front.length}, population best ${c.fitness} ${fits.length ? Math.max(...fits).toFixed(4) : 'n/a'}; ` +
      `chosen ${chosen.genome} (fitness ${chosen.fitness.toFixed(4)}, ${chosen.spikes.toFixed(0)} spikes/image)`);
    if (ctx.runDir) {
      ctx.writeText('genotype.json', JSON.stringify(this.genotypeFile(chosen, epoch + 1), null, 1) + '\n');
      ctx.writeText('pareto.svg', paretoSvg(ctx.history('front'), c.fitness));
    }
  }

  /** genotype.json: the chosen genome (a spiking genotype that `bionas train --genotype` reads) and how it scored. */
  genotypeFile(chosen: ScoredGenome, generation: number): Record<string, unknown> {
    const genome = decodeGenome(chosen.x, this.c.cells);
    return {
      genotype: genotypeJson(genome, `mse-nas-generation-${generation}`), method: 'mse-nas', generation,
      fitness: { [this.c.fitness]: chosen.fitness }, spikes: chosen.spikes, objectives: this.c.objectives, chosenBy: 'highest RDM fitness on the final front',
      scoredWith: { T: this.c.timesteps, C: this.c.C, scoreBatch: this.c.scoreBatch, seed: this.c.seed }, ...this.describe,
    };
  }

  async state(): Promise<JobState> {
    return { tensors: [], meta: { nsga2: this.opt.state(), scored: this.scored, known: this.known, front: this.front } };
  }

  restore(_saved: SavedState, meta: Record<string, unknown>): void {
    this.opt = NSGA2.fromState(meta.nsga2 as Nsga2State, { key: this.key });
    this.scored = meta.scored as Scored[];
    this.known = meta.known as Record<string, GenomeScore>;
    this.front = meta.front as ScoredGenome[];
  }

  close(): void {
    this.candidates = [];
  }
}

interface FrontRecord {
  generation: number;
  front: { fitness: number; spikes: number }[];
}

/** Every generation's front in (fitness, spikes) space, light to dark by generation, the last in red. */
export function paretoSvg(history: FrontRecord[], fitness: string): string {
  const n = history.length;
  const groups: PointGroup[] = history.map((r, i) => ({
    name: `generation ${r.generation}`,
    points: r.front.map((m) => [m.fitness, m.spikes] as [number, number]),
    color: i === n - 1 ? '#d62728' : rampColor(n > 1 ? i / (n - 1) : 1),
    opacity: i === n - 1 ? 0.95 : 0.6,
    legend: i === 0 || i === n - 1 || n <= 8,
    line: i === n - 1,
  }));
  return scatterChart(groups, { title: `MSE-NAS front per generation (${n})`, xLabel: `RDM fitness (${fitness}), higher is better`, yLabel: 'spikes per image, lower is better' });
}
