// CMA-ES (Hansen, "The CMA Evolution Strategy: A Tutorial", 2016): mean, step size,
// covariance, evolution paths, rank-one and rank-mu updates, cumulative step-size control.
// The state is plain data (serialisable into a checkpoint) and carried across generations;
// sampling uses a seeded generator, so a fixed seed gives identical runs.
// The eigendecomposition of C comes from ml-matrix (JAMA's tridiagonal QL) and is refreshed
// lazily, every ~ 1 / ((c1 + cmu) n 10) generations, as the tutorial recommends.

import { Matrix, EigenvalueDecomposition } from 'ml-matrix';

export interface CmaesOptions {
  /** Population size lambda (default 4 + floor(3 ln n)). */
  populationSize?: number;
  seed?: number;
}

export interface CmaesState {
  n: number;
  lambda: number;
  mean: number[];
  sigma: number;
  /** Row-major n x n. */
  C: number[];
  pc: number[];
  ps: number[];
  generation: number;
  evaluations: number;
  /** Generation of the last eigendecomposition. */
  eigenGeneration: number;
  /** splitmix state of the normal sampler. */
  rngState: number;
  /** A Box-Muller value kept for the next draw (or null). */
  spareNormal: number | null;
  /** The eigenbasis in use (refreshed lazily, so not a function of C alone): B row-major, D. */
  B: number[];
  D: number[];
}

export interface Candidate {
  x: Float64Array;
  /** y = (x - mean) / sigma, kept for the update. */
  y: Float64Array;
}

export class CMAES {
  readonly n: number;
  readonly lambda: number;
  readonly mu: number;
  readonly weights: Float64Array;
  readonly mueff: number;
  readonly cc: number;
  readonly cs: number;
  readonly c1: number;
  readonly cmu: number;
  readonly damps: number;
  readonly chiN: number;
  private s: CmaesState;
  // Eigen-decomposition of C: C = B diag(D^2) B^T (D holds standard deviations).
  private B!: Float64Array;
  private D!: Float64Array;

  constructor(mean: ArrayLike<number>, sigma: number, opts: CmaesOptions = {}) {
    const n = mean.length;
    if (n < 1) throw new Error('CMA-ES: the mean must have at least one dimension');
    if (!(sigma > 0)) throw new Error(`CMA-ES: sigma must be > 0, got ${sigma}`);
    this.n = n;
    this.lambda = opts.populationSize ?? 4 + Math.floor(3 * Math.log(n));
    if (this.lambda < 2) throw new Error(`CMA-ES: population size must be >= 2, got ${this.lambda}`);
    this.mu = Math.floor(this.lambda / 2);
    const raw = Float64Array.from({ length: this.mu }, (_, i) => Math.log(this.mu + 0.5) - Math.log(i + 1));
    const sum = raw.reduce((a, b) => a + b, 0);
    this.weights = raw.map((w) => w / sum);
    this.mueff = 1 / this.weights.reduce((a, w) => a + w * w, 0);
    const mueff = this.mueff;
    this.cc = (4 + mueff / n) / (n + 4 + (2 * mueff) / n);
    this.cs = (mueff + 2) / (n + mueff + 5);
    this.c1 = 2 / ((n + 1.3) ** 2 + mueff);
    this.cmu = Math.min(1 - this.c1, (2 * (mueff - 2 + 1 / mueff)) / ((n + 2) ** 2 + mueff));
    this.damps = 1 + 2 * Math.max(0, Math.sqrt((mueff - 1) / (n + 1)) - 1) + this.cs;
    this.chiN = Math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n));
    const C = new Array(n * n).fill(0);
    for (let i = 0; i < n; i++) C[i * n + i] = 1;
    this.s = {
      n, lambda: this.lambda, mean: Array.from(mean), sigma, C, pc: new Array(n).fill(0), ps: new Array(n).fill(0),
      generation: 0, evaluations: 0, eigenGeneration: 0, rngState: (opts.seed ?? 0) >>> 0, spareNormal: null, B: [], D: [],
    };
    this.decompose();
  }

  get mean(): Float64Array {
    return Float64Array.from(this.s.mean);
  }
  get sigma(): number {
    return this.s.sigma;
  }
  get generation(): number {
    return this.s.generation;
  }
  get evaluations(): number {
    return this.s.evaluations;
  }

  /** The full state, for a checkpoint. */
  state(): CmaesState {
    return structuredClone({ ...this.s, B: Array.from(this.B), D: Array.from(this.D) });
  }

  static fromState(state: CmaesState): CMAES {
    const es = new CMAES(state.mean, state.sigma, { populationSize: state.lambda });
    const n = state.n;
    if (state.C.length !== n * n || state.B?.length !== n * n || state.D?.length !== n) {
      throw new Error(`CMA-ES state: C, B or D has the wrong size for n = ${n} (a corrupt or foreign checkpoint)`);
    }
    es.s = structuredClone(state);
    es.B = Float64Array.from(state.B);
    es.D = Float64Array.from(state.D);
    return es;
  }

  /** Overrides the step size (EG-NAS' schedule sets it per epoch). */
  setSigma(sigma: number): void {
    if (!(sigma > 0)) throw new Error(`CMA-ES: sigma must be > 0, got ${sigma}`);
    this.s.sigma = sigma;
  }

  private uniform(): number {
    this.s.rngState = (this.s.rngState + 0x9e3779b9) >>> 0;
    let z = this.s.rngState;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (((z ^ (z >>> 16)) >>> 0) + 0.5) / 4294967296;
  }

  private normal(): number {
    if (this.s.spareNormal !== null) {
      const v = this.s.spareNormal;
      this.s.spareNormal = null;
      return v;
    }
    const u = this.uniform(), v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.s.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  private decompose(): void {
    const n = this.n;
    const C = new Matrix(n, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) C.set(i, j, (this.s.C[i * n + j] + this.s.C[j * n + i]) / 2);
    const eig = new EigenvalueDecomposition(C, { assumeSymmetric: true });
    const vectors = eig.eigenvectorMatrix;
    this.B = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) this.B[i * n + j] = vectors.get(i, j);
    this.D = Float64Array.from(eig.realEigenvalues, (v) => Math.sqrt(Math.max(v, 1e-300)));
    this.s.eigenGeneration = this.s.generation;
  }

  /** lambda new candidates x = m + sigma * B D z. */
  ask(): Candidate[] {
    const n = this.n;
    const lazyGap = this.lambda / ((this.c1 + this.cmu) * n * 10);
    if (this.s.generation - this.s.eigenGeneration > lazyGap) this.decompose();
    return Array.from({ length: this.lambda }, () => {
      const z = Float64Array.from({ length: n }, () => this.normal());
      const y = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let v = 0;
        for (let j = 0; j < n; j++) v += this.B[i * n + j] * this.D[j] * z[j];
        y[i] = v;
      }
      const x = Float64Array.from(y, (v, i) => this.s.mean[i] + this.s.sigma * v);
      return { x, y };
    });
  }

  /** Updates the distribution from the candidates of ask() and their fitness (lower is better). */
  tell(candidates: Candidate[], fitness: ArrayLike<number>): void {
    const n = this.n, s = this.s;
    if (candidates.length !== this.lambda || fitness.length !== this.lambda) {
      throw new Error(`CMA-ES: tell() takes the ${this.lambda} candidates of ask() and their fitness, got ${candidates.length} and ${fitness.length}`);
    }
    for (let i = 0; i < fitness.length; i++) if (Number.isNaN(fitness[i])) throw new Error(`CMA-ES: fitness of candidate ${i} is NaN`);
    const order = Array.from({ length: this.lambda }, (_, i) => i).sort((a, b) => fitness[a] - fitness[b]);
    const yw = new Float64Array(n);
    for (let k = 0; k < this.mu; k++) {
      const y = candidates[order[k]].y;
      for (let i = 0; i < n; i++) yw[i] += this.weights[k] * y[i];
    }
    for (let i = 0; i < n; i++) s.mean[i] += s.sigma * yw[i];
    // C^{-1/2} y_w = B D^{-1} B^T y_w
    const bty = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      let v = 0;
      for (let i = 0; i < n; i++) v += this.B[i * n + j] * yw[i];
      bty[j] = v / this.D[j];
    }
    const csFactor = Math.sqrt(this.cs * (2 - this.cs) * this.mueff);
    for (let i = 0; i < n; i++) {
      let v = 0;
      for (let j = 0; j < n; j++) v += this.B[i * n + j] * bty[j];
      s.ps[i] = (1 - this.cs) * s.ps[i] + csFactor * v;
    }
    const psNorm = Math.sqrt(s.ps.reduce((a, v) => a + v * v, 0));
    s.generation++;
    s.evaluations += this.lambda;
    const hsig = psNorm / Math.sqrt(1 - (1 - this.cs) ** (2 * s.generation)) / this.chiN < 1.4 + 2 / (n + 1) ? 1 : 0;
    const ccFactor = Math.sqrt(this.cc * (2 - this.cc) * this.mueff);
    for (let i = 0; i < n; i++) s.pc[i] = (1 - this.cc) * s.pc[i] + hsig * ccFactor * yw[i];
    const keep = 1 - this.c1 - this.cmu;
    const delta = (1 - hsig) * this.cc * (2 - this.cc);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        let rankMu = 0;
        for (let k = 0; k < this.mu; k++) {
          const y = candidates[order[k]].y;
          rankMu += this.weights[k] * y[i] * y[j];
        }
        const v = keep * s.C[i * n + j] + this.c1 * (s.pc[i] * s.pc[j] + delta * s.C[i * n + j]) + this.cmu * rankMu;
        s.C[i * n + j] = v;
        s.C[j * n + i] = v;
      }
    }
    s.sigma *= Math.exp((this.cs / this.damps) * (psNorm / this.chiN - 1));
    if (!Number.isFinite(s.sigma)) throw new Error('CMA-ES: step size diverged');
  }
}
