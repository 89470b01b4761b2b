// G-ICSO-NAS' phase controller (SPEC 9): which phase the next epoch runs, decided from measured
// signals rather than fixed epoch counts. A pure state machine of plain data (it checkpoints as
// JSON): the strategy feeds it each swarm generation's best fitness and diversity, and at each
// epoch's end the validation loss measured on fixed held-out batches; it answers with the phase
// of the next epoch and, when that changes, the reason.
//   warmup      -> exploration  when the validation loss plateaus (no improvement larger than
//                               plateauMinDelta for plateauPatience epochs)
//   exploration -> stability    when the best fitness stalls (no generation beat the best so far
//                               by stallMinDelta for stallGenerations generations), or the swarm's
//                               diversity (relative to its initial spread) falls under
//                               diversityThreshold
//   stability   -> exploration  when the stability phase's early stopping fires (validation loss
//   (or done)                   plateau) while enough epochs remain for another exploration and
//                               stability (bionas choice, flag --reexplore); else done (the
//                               remaining epochs do nothing)
// Safety bounds per phase: no switch before `min` epochs in it, a switch at `max` epochs; and
// a phase ends when the epochs left are only enough for the minimum of the phases after it, so
// every search gets to its stability phase. None of this is published (SPEC 9): every number
// is a flag.

export type GicsoPhase = 'warmup' | 'exploration' | 'stability' | 'done';

export interface PhaseBounds {
  /** No switch out of the phase before this many epochs in it. */
  min: number;
  /** A switch out of it after this many epochs, whatever the signals. */
  max: number;
}

export interface PhaseControllerConfig {
  /** All epochs of the search (warm-up included). */
  epochs: number;
  stallGenerations: number;
  stallMinDelta: number;
  /** Diversity relative to the swarm's initial spread under which exploration ends. */
  diversityThreshold: number;
  plateauPatience: number;
  plateauMinDelta: number;
  warmup: PhaseBounds;
  exploration: PhaseBounds;
  stability: PhaseBounds;
  /** Back to exploration when stability's early stopping fires with epochs to spare. */
  reexplore: boolean;
}

export interface PhaseControllerState {
  phase: GicsoPhase;
  epochsInPhase: number;
  /** Explorations started so far. */
  explorations: number;
  /** Validation-loss plateau tracking within the phase. */
  validBest: number | null;
  validStale: number;
  /** Best-fitness stall tracking within an exploration (generations). */
  fitnessBest: number | null;
  fitnessStale: number;
  /** The last generation's diversity relative to the initial spread. */
  diversity: number | null;
}

export interface PhaseSwitch {
  /** The 1-based epoch after which the switch happens. */
  epoch: number;
  from: GicsoPhase;
  to: GicsoPhase;
  /** Which rule fired: 'plateau', 'stall', 'diversity', 'max-epochs', 'budget'. */
  signal: string;
  reason: string;
}

/** bionas choice (flag --stall-generations): generations without a better best fitness that end exploration. */
export const GICSO_STALL_GENERATIONS = 10;
/** bionas choice (flag --stall-delta): how much lower a best fitness must be to count as better. */
export const GICSO_STALL_MIN_DELTA = 1e-3;
/** bionas choice (flag --diversity-threshold): exploration ends when the swarm's spread falls to this fraction of its initial spread. */
export const GICSO_DIVERSITY_THRESHOLD = 0.2;
/** bionas choice (flag --plateau-patience): epochs without a validation-loss improvement that make a plateau. */
export const GICSO_PLATEAU_PATIENCE = 2;
/** bionas choice (flag --plateau-delta): the validation-loss decrease that counts as an improvement. */
export const GICSO_PLATEAU_MIN_DELTA = 1e-3;

const epochsText = (n: number) => `${n} epoch${n === 1 ? '' : 's'}`;

export function initialPhaseState(): PhaseControllerState {
  return { phase: 'warmup', epochsInPhase: 0, explorations: 0, validBest: null, validStale: 0, fitnessBest: null, fitnessStale: 0, diversity: null };
}

/** Checks a config: bounds ordered, thresholds in range; names the field that is wrong. */
export function checkPhaseConfig(c: PhaseControllerConfig): void {
  const bad = (what: string) => {
    throw new Error(`G-ICSO phase controller: ${what}`);
  };
  for (const p of ['warmup', 'exploration', 'stability'] as const) {
    const b = c[p];
    if (!(Number.isInteger(b.min) && b.min >= 1 && Number.isInteger(b.max) && b.max >= b.min)) bad(`${p} needs 1 <= min epochs (${b.min}) <= max epochs (${b.max})`);
  }
  if (!(c.epochs >= c.warmup.min + c.exploration.min + c.stability.min)) {
    bad(`${c.epochs} epochs cannot hold the minimum warm-up, exploration and stability epochs (${c.warmup.min} + ${c.exploration.min} + ${c.stability.min})`);
  }
  if (!(Number.isInteger(c.stallGenerations) && c.stallGenerations >= 1)) bad(`stall generations must be an integer >= 1, got ${c.stallGenerations}`);
  if (!(Number.isInteger(c.plateauPatience) && c.plateauPatience >= 1)) bad(`plateau patience must be an integer >= 1, got ${c.plateauPatience}`);
  if (!(c.diversityThreshold >= 0 && c.diversityThreshold < 1)) bad(`the diversity threshold is a fraction of the initial spread in [0, 1), got ${c.diversityThreshold}`);
  if (!(c.stallMinDelta >= 0 && c.plateauMinDelta >= 0)) bad('the minimum deltas must be >= 0');
}

/** A swarm generation of the exploration: its best fitness (lower is better) and relative diversity. */
export function observeGeneration(s: PhaseControllerState, g: { bestFitness: number; diversity: number }, c: PhaseControllerConfig): PhaseControllerState {
  if (s.phase !== 'exploration') throw new Error(`G-ICSO phase controller: a swarm generation observed in the ${s.phase} phase`);
  if (!Number.isFinite(g.bestFitness) || !Number.isFinite(g.diversity)) throw new Error(`G-ICSO phase controller: a generation's best fitness (${g.bestFitness}) and diversity (${g.diversity}) must be finite`);
  const better = s.fitnessBest === null || g.bestFitness < s.fitnessBest - c.stallMinDelta;
  return {
    ...s,
    fitnessBest: better ? g.bestFitness : s.fitnessBest,
    fitnessStale: better ? 0 : s.fitnessStale + 1,
    diversity: g.diversity,
  };
}

/** The phase after `p` ends (stability's successor depends on the epochs left). */
function successor(p: GicsoPhase, left: number, c: PhaseControllerConfig): GicsoPhase {
  if (p === 'warmup') return 'exploration';
  if (p === 'exploration') return 'stability';
  return c.reexplore && left >= c.exploration.min + c.stability.min ? 'exploration' : 'done';
}

/** Epochs the phases after `p` need at least, to reach the stability phase. */
function reserved(p: GicsoPhase, c: PhaseControllerConfig): number {
  if (p === 'warmup') return c.exploration.min + c.stability.min;
  if (p === 'exploration') return c.stability.min;
  return 0;
}

/** Which of the phase's own signals fired, if any. */
function signalOf(s: PhaseControllerState, c: PhaseControllerConfig): { signal: string; reason: string } | null {
  const plateau = () => s.validStale >= c.plateauPatience
    ? { signal: 'plateau', reason: `validation loss plateau: no decrease > ${c.plateauMinDelta} for ${epochsText(s.validStale)} (best ${s.validBest!.toFixed(4)})` }
    : null;
  if (s.phase === 'warmup') return plateau();
  if (s.phase === 'stability') {
    const p = plateau();
    return p && { signal: p.signal, reason: `early stopping, ${p.reason}` };
  }
  if (s.phase === 'exploration') {
    if (s.fitnessStale >= c.stallGenerations) {
      return { signal: 'stall', reason: `best fitness stalled: no improvement > ${c.stallMinDelta} for ${s.fitnessStale} generations (best ${s.fitnessBest!.toFixed(4)})` };
    }
    if (s.diversity !== null && s.diversity < c.diversityThreshold) {
      return { signal: 'diversity', reason: `swarm diversity ${s.diversity.toFixed(3)} of its initial spread, under ${c.diversityThreshold}` };
    }
  }
  return null;
}

/**
 * The end of 0-based epoch `epoch`, with the validation loss measured after it: the state for the
 * next epoch, and the switch if the phase changes.
 */
export function endEpochSignals(s0: PhaseControllerState, m: { epoch: number; validLoss: number }, c: PhaseControllerConfig): { state: PhaseControllerState; switched: PhaseSwitch | null } {
  if (s0.phase === 'done') return { state: s0, switched: null };
  if (!Number.isFinite(m.validLoss)) throw new Error(`G-ICSO phase controller: the validation loss after epoch ${m.epoch + 1} is ${m.validLoss}`);
  const improved = s0.validBest === null || m.validLoss < s0.validBest - c.plateauMinDelta;
  const s: PhaseControllerState = {
    ...s0,
    epochsInPhase: s0.epochsInPhase + 1,
    validBest: improved ? m.validLoss : s0.validBest,
    validStale: improved ? 0 : s0.validStale + 1,
  };
  const left = c.epochs - (m.epoch + 1);
  const bounds = c[s.phase as Exclude<GicsoPhase, 'done'>];
  let fired: { signal: string; reason: string } | null = null;
  if (s.epochsInPhase >= bounds.min) {
    fired = signalOf(s, c);
    if (!fired && s.epochsInPhase >= bounds.max) fired = { signal: 'max-epochs', reason: `at most ${epochsText(bounds.max)} of ${s.phase}` };
  }
  // The last epochs go to the phases still to come (never below a phase's minimum: the config
  // check and stability's successor rule leave room for every minimum).
  if (!fired && left <= reserved(s.phase, c) && s.phase !== 'stability') {
    fired = { signal: 'budget', reason: `${epochsText(left)} left, kept for the phases after ${s.phase}` };
  }
  if (!fired) return { state: s, switched: null };
  const to = successor(s.phase, left, c);
  const next: PhaseControllerState = {
    ...s, phase: to, epochsInPhase: 0, validBest: m.validLoss, validStale: 0,
    explorations: s.explorations + (to === 'exploration' ? 1 : 0),
    fitnessBest: null, fitnessStale: 0, diversity: null,
  };
  return { state: next, switched: { epoch: m.epoch + 1, from: s.phase, to, signal: fired.signal, reason: fired.reason } };
}
