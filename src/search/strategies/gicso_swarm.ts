// One generation of G-ICSO's swarm with its particles scored together. The optimisers of
// src/search/optimizers/cso.ts take a synchronous fitness of one particle at a time; the
// supernet scores many particles in one asynchronous pass. So a generation first steps a copy
// of the swarm (same state, so the same draws) with a fitness that only records where the
// particles go, scores those positions in one call, then steps the swarm itself with the
// scores looked up: the same moves, evaluations and best-so-far as a direct step with the same
// fitness. An L-ICSO copy runs without its budget (its population reduction depends on the
// scores, which the copy does not have); the positions of the learners do not depend on it.
// With `rescore`, the winners (which do not move) are scored again with the learners and every
// particle's fitness is the new one (bionas choice, flag --rescore: the supernet's weights change
// between generations, so an old fitness is of another network).

import { CSO, ICSO, type SwarmState } from '../optimizers/cso.js';
import { diversityFitness } from './gicso_fitness.js';

export interface SwarmScores {
  loss: number[];
  acc: number[];
}

export interface SwarmGeneration {
  /** The swarm after the generation. */
  state: SwarmState;
  /** The positions scored, their cross-entropy and accuracy, distance from the swarm and fitness. */
  scored: number[][];
  loss: number[];
  acc: number[];
  distance: number[];
  fitness: number[];
}

export const restoreSwarm = (s: SwarmState): CSO | ICSO => (s.kind === 'cso' ? CSO.fromState(s) : ICSO.fromState(s));

const same = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

/** Whether an L-ICSO swarm has spent its evaluation budget (it no longer moves). */
export const swarmSpent = (s: SwarmState) => s.kind === 'icso' && s.evaluations >= s.budget!;

/**
 * A generation of the swarm `s` (the first call evaluates the initial swarm), its positions
 * scored by one call of `score` (losses and accuracies, in order), fitness = CE - lambda *
 * distance from the swarm (./gicso_fitness.ts) over `cols`-wide alpha rows.
 */
export async function swarmGeneration(s: SwarmState, score: (xs: number[][]) => Promise<SwarmScores>,
  o: { rescore: boolean; diversityWeight: number; cols: number }): Promise<SwarmGeneration> {
  const spent = swarmSpent(s);
  // Where the swarm goes, and which particles the step evaluates.
  let moved = s.x, evaluated = s.x.map((_, i) => i);
  if (!spent) {
    const copy = structuredClone(s);
    if (copy.kind === 'icso') copy.budget = Infinity;
    const dry = restoreSwarm(copy);
    const asked: Float64Array[] = [];
    dry.step((x) => (asked.push(x), 0));
    moved = dry.state().x;
    evaluated = asked.map((x) => moved.findIndex((m) => same(m, x)));
  }
  const find = (x: ArrayLike<number>) => {
    const i = moved.findIndex((m) => same(m, x));
    if (i < 0) throw new Error('G-ICSO: the swarm moved differently from its copy (its generator state was not carried)');
    return i;
  };
  const all = o.rescore || spent;
  const which = all ? moved.map((_, i) => i) : [...new Set(evaluated)];
  const scored = which.map((i) => moved[i]);
  const r = await score(scored);
  if (r.loss.length !== scored.length || r.acc.length !== scored.length) throw new Error(`G-ICSO: ${scored.length} particles scored, ${r.loss.length} losses back`);
  const { fitness, distance } = diversityFitness(r.loss, which, moved, o.cols, o.diversityWeight);
  const slot = new Map(which.map((i, k) => [i, k]));
  const fitnessOf = (x: ArrayLike<number>) => fitness[slot.get(find(x))!];
  const opt = restoreSwarm(s);
  if (!spent) opt.step(fitnessOf);
  const state = opt.state();
  if (all) state.f = state.x.map(fitnessOf);
  return { state, scored, loss: r.loss, acc: r.acc, distance, fitness };
}
