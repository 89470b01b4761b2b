// Pareto-dominance tools for minimised objectives: fast non-dominated sorting and crowding
// distance (Deb et al., "A fast and elitist multiobjective genetic algorithm: NSGA-II", IEEE
// TEC 2002), the non-dominated subset of a set, and the exact 2-objective hypervolume.

/** a dominates b: no worse in every objective and better in one (minimisation). */
export function dominates(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  let better = false;
  for (let m = 0; m < a.length; m++) {
    if (a[m] > b[m]) return false;
    if (a[m] < b[m]) better = true;
  }
  return better;
}

/**
 * Fronts of the points (Deb 2002, O(M N^2)): front 0 is the non-dominated set, front k those
 * dominated only by points of fronts < k. Each front lists indices in increasing order.
 */
export function nonDominatedSort(points: readonly ArrayLike<number>[]): number[][] {
  const n = points.length;
  const dominatedBy = new Int32Array(n); // how many points dominate i
  const dominatesList: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (dominates(points[i], points[j])) {
        dominatesList[i].push(j);
        dominatedBy[j]++;
      } else if (dominates(points[j], points[i])) {
        dominatesList[j].push(i);
        dominatedBy[i]++;
      }
    }
  }
  const fronts: number[][] = [];
  let current: number[] = [];
  for (let i = 0; i < n; i++) if (dominatedBy[i] === 0) current.push(i);
  while (current.length > 0) {
    fronts.push(current);
    const next: number[] = [];
    for (const i of current) {
      for (const j of dominatesList[i]) if (--dominatedBy[j] === 0) next.push(j);
    }
    current = next.sort((a, b) => a - b);
  }
  return fronts;
}

/** Rank of each point (its front's index). */
export function paretoRanks(points: readonly ArrayLike<number>[]): Int32Array {
  const rank = new Int32Array(points.length);
  nonDominatedSort(points).forEach((front, k) => { for (const i of front) rank[i] = k; });
  return rank;
}

/**
 * Crowding distance of the points of one front (Deb 2002): per objective, the two extremes get
 * Infinity and each other point the gap between its neighbours divided by the objective's
 * range; summed over objectives. An objective equal over the front adds nothing. Sorting is
 * stable (ties keep index order), so the result does not depend on a random tie break.
 */
export function crowdingDistance(front: readonly ArrayLike<number>[]): Float64Array {
  const n = front.length;
  const d = new Float64Array(n);
  if (n === 0) return d;
  const M = front[0].length;
  if (n <= 2) return d.fill(Infinity);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let m = 0; m < M; m++) {
    order.sort((a, b) => front[a][m] - front[b][m] || a - b);
    const lo = front[order[0]][m], hi = front[order[n - 1]][m];
    d[order[0]] = Infinity;
    d[order[n - 1]] = Infinity;
    if (!(hi > lo)) continue;
    for (let k = 1; k < n - 1; k++) d[order[k]] += (front[order[k + 1]][m] - front[order[k - 1]][m]) / (hi - lo);
  }
  return d;
}

/** Indices of the non-dominated points (duplicates of a non-dominated point all stay). */
export function paretoFront(points: readonly ArrayLike<number>[]): number[] {
  return points.length === 0 ? [] : nonDominatedSort(points)[0];
}

/**
 * Exact hypervolume of 2-objective points w.r.t. a reference point (minimisation): the area
 * dominated by the set and bounded by `ref`. Points not strictly better than ref in both
 * objectives add nothing. O(N log N): sort by f1, sweep the staircase.
 */
export function hypervolume2d(points: readonly ArrayLike<number>[], ref: readonly [number, number]): number {
  const inside = points.filter((p) => {
    if (p.length !== 2) throw new Error(`hypervolume2d: points must have 2 objectives, got ${p.length}`);
    return p[0] < ref[0] && p[1] < ref[1];
  });
  inside.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let area = 0;
  let floor = ref[1]; // lowest f2 seen so far: the staircase's current height
  for (const p of inside) {
    if (p[1] < floor) {
      area += (ref[0] - p[0]) * (floor - p[1]);
      floor = p[1];
    }
  }
  return area;
}
