// APGD's checkpoints (Croce & Hein 2020, sec. 3.2; torchattacks 3.5.1 / auto-attack code): the
// iterations after which each image decides whether to halve its step. The first window is
// max(int(0.22 * steps), 1) iterations long, each later one max(int(0.03 * steps), 1) shorter,
// but never shorter than max(int(0.06 * steps), 1). For 50 steps: windows 11, 10, 9, 8, 7 end
// after iterations 10, 20, 29, 37, 44 (0-based: the check follows the step of that index).

/** Fractions of the iteration budget (the paper's p_1 = 0.22, its decrement 0.03 and floor 0.06). */
export const APGD_FIRST_WINDOW = 0.22;
export const APGD_WINDOW_DECREMENT = 0.03;
export const APGD_MIN_WINDOW = 0.06;

export interface ApgdCheckpoint {
  /** 0-based iteration after which the check runs. */
  iteration: number;
  /** Iterations in the window it closes (the k of "rho * k"). */
  window: number;
}

/** The checkpoints of an APGD run of `steps` iterations, in order. */
export function apgdCheckpoints(steps: number): ApgdCheckpoint[] {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`apgdCheckpoints: steps must be a positive integer, got ${steps}`);
  // Math.trunc of the same float products as Python's int(0.22 * steps).
  const first = Math.max(Math.trunc(APGD_FIRST_WINDOW * steps), 1);
  const decrement = Math.max(Math.trunc(APGD_WINDOW_DECREMENT * steps), 1);
  const floor = Math.max(Math.trunc(APGD_MIN_WINDOW * steps), 1);
  const out: ApgdCheckpoint[] = [];
  let window = first;
  for (let end = first - 1; end < steps; end += window) {
    out.push({ iteration: end, window });
    window = Math.max(window - decrement, floor);
  }
  return out;
}
