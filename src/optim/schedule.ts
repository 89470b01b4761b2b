// Learning-rate schedules as pure functions of the epoch progress, so a resumed run computes
// the same rate as an uninterrupted one. `t` is the fractional epoch (epoch + step/steps).

export const SCHEDULE_NAMES = ['cosine', 'step', 'multistep', 'linear', 'constant'] as const;

export type ScheduleName = (typeof SCHEDULE_NAMES)[number];

export interface ScheduleOptions {
  name: ScheduleName;
  lr: number;
  /** Total epochs (cosine, linear). */
  epochs: number;
  /** Cosine/linear end value (DARTS: 0.001 in search, 0 in training). */
  minLr?: number;
  /** step: decay every `stepSize` epochs; multistep: at each of `milestones`. */
  stepSize?: number;
  milestones?: number[];
  gamma?: number;
  /** Linear warm-up from lr * warmupStart over this many epochs. */
  warmupEpochs?: number;
  warmupStart?: number;
}

export function learningRate(o: ScheduleOptions, t: number): number {
  const min = o.minLr ?? 0;
  let lr: number;
  switch (o.name) {
    case 'constant':
      lr = o.lr;
      break;
    case 'cosine':
      // As torch's CosineAnnealingLR stepped once per epoch: the rate of epoch e uses floor(t).
      lr = min + ((o.lr - min) * (1 + Math.cos((Math.PI * Math.floor(t)) / o.epochs))) / 2;
      break;
    case 'linear':
      lr = o.lr + (min - o.lr) * Math.min(1, Math.floor(t) / o.epochs);
      break;
    case 'step':
      lr = o.lr * (o.gamma ?? 0.1) ** Math.floor(Math.floor(t) / (o.stepSize ?? 30));
      break;
    case 'multistep':
      lr = o.lr * (o.gamma ?? 0.1) ** (o.milestones ?? []).filter((m) => Math.floor(t) >= m).length;
      break;
  }
  const warm = o.warmupEpochs ?? 0;
  if (warm > 0 && t < warm) {
    const start = o.warmupStart ?? 0.1;
    lr *= start + ((1 - start) * t) / warm;
  }
  return lr;
}

/** A schedule name from a flag or a checkpoint's config, checked. */
export function parseSchedule(name: string): ScheduleName {
  if (!(SCHEDULE_NAMES as readonly string[]).includes(name)) throw new Error(`unknown schedule '${name}'; known: ${SCHEDULE_NAMES.join(', ')}`);
  return name as ScheduleName;
}
