// Rank correlations with ties: Kendall's tau-b (Knight's O(n log n) algorithm, "A computer
// method for calculating Kendall's tau with ungrouped data", JASA 1966) and Spearman's rho
// (Pearson correlation of average ranks). Both are NaN when either variable is constant
// (the correlation is undefined); callers decide what that means for them.

function checkPair(op: string, x: ArrayLike<number>, y: ArrayLike<number>): void {
  if (x.length !== y.length) throw new Error(`${op}: x has ${x.length} values, y ${y.length}`);
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(x[i]) || Number.isNaN(y[i])) throw new Error(`${op}: value ${i} is NaN`);
  }
}

/** Number of tied pairs, sum over runs of equal values of t (t - 1) / 2, in an array sorted so that ties are adjacent. */
function tiedPairs(sorted: ArrayLike<number>, same: (i: number) => boolean): number {
  let pairs = 0, run = 1;
  for (let i = 1; i <= sorted.length; i++) {
    if (i < sorted.length && same(i)) run++;
    else {
      pairs += (run * (run - 1)) / 2;
      run = 1;
    }
  }
  return pairs;
}

/**
 * Kendall's tau-b: (concordant - discordant) / sqrt((n0 - n1)(n0 - n2)), with n0 = n(n-1)/2 and
 * n1, n2 the pairs tied in x, in y. Pairs are sorted by (x, y); the discordant pairs are the
 * inversions of y in that order, counted by a merge sort.
 */
export function kendallTau(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkPair('kendallTau', x, y);
  const n = x.length;
  if (n < 2) return NaN;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b] || y[a] - y[b]);
  const xs = Float64Array.from(order, (i) => x[i]);
  const ys = Float64Array.from(order, (i) => y[i]);
  const n0 = (n * (n - 1)) / 2;
  const n1 = tiedPairs(xs, (i) => xs[i] === xs[i - 1]);
  const n3 = tiedPairs(xs, (i) => xs[i] === xs[i - 1] && ys[i] === ys[i - 1]); // tied in both
  const swaps = countInversions(ys);
  // ys is now sorted: count its ties.
  const n2 = tiedPairs(ys, (i) => ys[i] === ys[i - 1]);
  const denom = Math.sqrt((n0 - n1) * (n0 - n2));
  if (denom === 0) return NaN;
  // concordant - discordant = n0 - n1 - n2 + n3 - 2 * discordant
  return (n0 - n1 - n2 + n3 - 2 * swaps) / denom;
}

/** Sorts a in place (stable merge sort) and returns the number of pairs i < j with a[i] > a[j]. */
function countInversions(a: Float64Array): number {
  const n = a.length;
  let buf: Float64Array = new Float64Array(n);
  let src: Float64Array = a;
  let inversions = 0;
  for (let width = 1; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n), hi = Math.min(lo + 2 * width, n);
      let i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        if (src[j] < src[i]) {
          inversions += mid - i; // src[j] jumps every remaining left element
          buf[k++] = src[j++];
        } else buf[k++] = src[i++];
      }
      while (i < mid) buf[k++] = src[i++];
      while (j < hi) buf[k++] = src[j++];
    }
    [src, buf] = [buf, src];
  }
  if (src !== a) a.set(src);
  return inversions;
}

/** Ranks 1..n, tied values sharing the average of their ranks. */
export function averageRanks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i + 1;
    while (j < n && x[order[j]] === x[order[i]]) j++;
    const r = (i + 1 + j) / 2; // average of ranks i+1 .. j
    for (let k = i; k < j; k++) ranks[order[k]] = r;
    i = j;
  }
  return ranks;
}

/** Pearson correlation (NaN when either is constant). */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkPair('pearson', x, y);
  const n = x.length;
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) [mx, my] = [mx + x[i], my + y[i]];
  mx /= n;
  my /= n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

/** Spearman's rho: the Pearson correlation of average ranks. */
export function spearmanRho(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkPair('spearmanRho', x, y);
  return pearson(averageRanks(x), averageRanks(y));
}
