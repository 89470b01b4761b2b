// A loss or a weight that became NaN or infinite ends a run: training on would only spread
// it, and a checkpoint holding it could never be resumed usefully.

export class NonFiniteError extends Error {
  override name = 'NonFiniteError';
}

/** Index of the first NaN or infinite value, or -1. */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}
