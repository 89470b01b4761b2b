import { describe, it, expect } from 'vitest';
import { CSO, ICSO, type Fitness, type SwarmState } from '../src/search/optimizers/cso.js';

const sphere: Fitness = (x) => x.reduce((a, v) => a + v * v, 0);
const rastrigin: Fitness = (x) => x.reduce((a, v) => a + v * v - 10 * Math.cos(2 * Math.PI * v) + 10, 0);
const ackley: Fitness = (x) => {
  let s1 = 0, s2 = 0;
  for (const v of x) [s1, s2] = [s1 + v * v, s2 + Math.cos(2 * Math.PI * v)];
  return -20 * Math.exp(-0.2 * Math.sqrt(s1 / x.length)) - Math.exp(s2 / x.length) + 20 + Math.E;
};
const rosenbrock: Fitness = (x) => {
  let s = 0;
  for (let i = 0; i + 1 < x.length; i++) s += 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2;
  return s;
};

/** A random source that hands out the given draws in order. */
function draws(seq: number[]): () => number {
  let i = 0;
  return () => {
    if (i >= seq.length) throw new Error('more draws than scripted');
    return seq[i++];
  };
}

describe('CSO (Cheng & Jin 2015)', () => {
  it('evaluates m at first, then exactly m/2 a generation, and its best never gets worse (D = 200)', () => {
    const o = new CSO(200, { particles: 40, seed: 7 });
    let calls = 0;
    const f: Fitness = (x) => (calls++, rastrigin(x));
    o.step(f);
    expect(calls).toBe(40);
    let prev = o.bestFitness;
    for (let g = 1; g <= 30; g++) {
      o.step(f);
      expect(calls).toBe(40 + 20 * g);
      expect(o.evaluations).toBe(calls);
      expect(o.bestFitness).toBeLessThanOrEqual(prev);
      prev = o.bestFitness;
    }
  });

  it('reaches 1e-8 on the 30-D sphere within 30 000 evaluations (measured ~20 500, m = 100, phi = 0.1)', () => {
    for (const seed of [1, 2]) {
      const o = new CSO(30, { seed });
      while (o.bestFitness > 1e-8 && o.evaluations < 30_000) o.step(sphere);
      expect(o.bestFitness, `seed ${seed}`).toBeLessThanOrEqual(1e-8);
    }
  });

  it('improves Rastrigin (100-D) 10x, Ackley (100-D) 1e4x, Rosenbrock (50-D) 1e3x in 50 000 evaluations', () => {
    // Measured with seed 1: 28x, 7e5x, 8.8e3x.
    for (const [name, fn, dim, factor] of [['rastrigin', rastrigin, 100, 10], ['ackley', ackley, 100, 1e4], ['rosenbrock', rosenbrock, 50, 1e3]] as const) {
      const o = new CSO(dim, { seed: 1 });
      o.step(fn);
      const first = o.bestFitness;
      while (o.evaluations < 50_000) o.step(fn);
      expect(o.bestFitness * factor, name).toBeLessThan(first);
    }
  });

  it('is reproducible by seed, and another seed gives another run', () => {
    const run = (seed: number) => {
      const o = new CSO(50, { particles: 20, seed });
      for (let g = 0; g < 20; g++) o.step(ackley);
      return o.state();
    };
    expect(run(3)).toEqual(run(3));
    expect(run(4).best).not.toEqual(run(3).best);
  });

  it('a run stopped, serialised, restored and continued equals an uninterrupted one bit for bit', () => {
    const whole = new CSO(30, { particles: 20, seed: 11 });
    const seen: number[] = [];
    const rec: Fitness = (x) => { const v = rosenbrock(x); seen.push(v); return v; };
    for (let g = 0; g < 40; g++) whole.step(rec);
    const first = new CSO(30, { particles: 20, seed: 11 });
    const seen2: number[] = [];
    const rec2: Fitness = (x) => { const v = rosenbrock(x); seen2.push(v); return v; };
    for (let g = 0; g < 15; g++) first.step(rec2);
    const restored = CSO.fromState(JSON.parse(JSON.stringify(first.state())) as SwarmState);
    for (let g = 15; g < 40; g++) restored.step(rec2);
    expect(seen2).toEqual(seen);
    expect(JSON.stringify(restored.state())).toBe(JSON.stringify(whole.state()));
  });

  it('moves the loser of a pair as v <- r1 v + r2 (x_w - x_l) + phi r3 (xbar - x_l), x_l <- x_l + v', () => {
    const state: SwarmState = {
      kind: 'cso', dim: 2, phi: 0.1, x: [[1, 2], [3, -1]], v: [[0, 0], [0.5, -0.5]], f: [5, 10],
      best: [1, 2], bestFitness: 5, generation: 0, evaluations: 2, rngState: 0,
    };
    // Shuffle draw 0.1 swaps the two (order 1, 0); then the loser's r1, r2, r3 for d0, then d1.
    const o = CSO.fromState(state, draws([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]));
    let calls = 0;
    o.step((x) => (calls++, sphere(x)));
    expect(calls).toBe(1);
    const xbar = [2, 0.5];
    const v0 = 0.2 * 0.5 + 0.3 * (1 - 3) + 0.1 * 0.4 * (xbar[0] - 3); // -0.54
    const v1 = 0.5 * -0.5 + 0.6 * (2 + 1) + 0.1 * 0.7 * (xbar[1] + 1); // 1.655
    expect(v0).toBeCloseTo(-0.54, 12);
    expect(v1).toBeCloseTo(1.655, 12);
    expect(Array.from(o.velocity(1))).toEqual([v0, v1]);
    expect(Array.from(o.position(1))).toEqual([3 + v0, -1 + v1]);
    expect(Array.from(o.position(0))).toEqual([1, 2]); // the winner passes unchanged
    expect(Array.from(o.velocity(0))).toEqual([0, 0]);
    expect(o.fitness(1)).toBeCloseTo((3 + v0) ** 2 + (-1 + v1) ** 2, 12);
  });

  it('refuses an odd swarm', () => {
    expect(() => new CSO(3, { particles: 5 })).toThrow(/even/);
  });
});

describe('ICSO (L-ICSO of SPEC 9)', () => {
  const tripleState = (): SwarmState => ({
    kind: 'icso', dim: 2, phi: 0.15, x: [[0, 0], [1, 1], [2, -2]], v: [[0, 0], [0.1, 0.2], [-0.3, 0.4]], f: [0, 2, 8],
    best: [-0.5, 0.25], bestFitness: -1, generation: 0, evaluations: 3, rngState: 0,
    budget: 100, maxParticles: 3, minParticles: 3, meanProbability: 0.5,
  });
  const xbar = [1, -1 / 3];
  const worst = (o: ICSO) => {
    // The worst (particle 2) learns from the best of the triple (particle 0) and the best so far.
    const b = [-0.5, 0.25];
    const v0 = 0.8 * -0.3 + 0.1 * (0 - 2) + 0.15 * 0.2 * (b[0] - 2);
    const v1 = 0.3 * 0.4 + 0.4 * (0 + 2) + 0.15 * 0.5 * (b[1] + 2);
    expect(Array.from(o.velocity(2))).toEqual([v0, v1]);
    expect(Array.from(o.position(2))).toEqual([2 + v0, -2 + v1]);
    expect(Array.from(o.position(0))).toEqual([0, 0]);
  };
  // Shuffle draws 0.9, 0.9 keep the order; then the middle's coin, its r's, the worst's r's.
  const rs = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.1, 0.2, 0.3, 0.4, 0.5];

  it('moves a triple by hand: the middle learns from the best and the mean (coin < 0.5), the worst from the best and the best so far', () => {
    const o = ICSO.fromState(tripleState(), draws([0.9, 0.9, 0.3, ...rs]));
    let calls = 0;
    o.step((x) => (calls++, sphere(x)));
    expect(calls).toBe(2);
    const v0 = 0.2 * 0.1 + 0.3 * (0 - 1) + 0.15 * 0.4 * (xbar[0] - 1);
    const v1 = 0.5 * 0.2 + 0.6 * (0 - 1) + 0.15 * 0.7 * (xbar[1] - 1);
    expect(Array.from(o.velocity(1))).toEqual([v0, v1]);
    expect(Array.from(o.position(1))).toEqual([1 + v0, 1 + v1]);
    worst(o);
    expect(o.bestFitness).toBe(-1);
  });

  it('otherwise (coin >= 0.5) the middle learns from the best alone', () => {
    const o = ICSO.fromState(tripleState(), draws([0.9, 0.9, 0.7, ...rs]));
    o.step(sphere);
    const v0 = 0.2 * 0.1 + 0.3 * (0 - 1);
    const v1 = 0.5 * 0.2 + 0.6 * (0 - 1);
    expect(Array.from(o.velocity(1))).toEqual([v0, v1]);
    worst(o);
  });

  it('spends 2 evaluations per triple, never more than its budget, shrinks linearly to m_min, best monotone (D = 100)', () => {
    const o = new ICSO(100, { budget: 5000, maxParticles: 60, minParticles: 6, seed: 2 });
    let calls = 0;
    const f: Fitness = (x) => (calls++, ackley(x));
    o.step(f);
    expect(calls).toBe(60);
    let prev = o.bestFitness, prevSize = o.size;
    while (!o.done) {
      const before = calls, triples = Math.floor(o.size / 3);
      o.step(f);
      expect(calls - before).toBe(Math.min(2 * triples, 5000 - before));
      expect(o.bestFitness).toBeLessThanOrEqual(prev);
      expect(o.size).toBeLessThanOrEqual(prevSize);
      expect(o.size).toBe(Math.max(6, Math.min(prevSize, Math.round(60 - (54 * calls) / 5000))));
      [prev, prevSize] = [o.bestFitness, o.size];
    }
    expect(calls).toBe(5000);
    expect(o.size).toBe(6);
  });

  it('reaches 1e-8 on the 30-D sphere within 30 000 evaluations (measured ~20 500 with a 200 000 budget)', () => {
    const o = new ICSO(30, { budget: 200_000, seed: 1 });
    while (o.bestFitness > 1e-8 && o.evaluations < 30_000) o.step(sphere);
    expect(o.bestFitness).toBeLessThanOrEqual(1e-8);
  });

  it('improves Rastrigin (100-D) 5x, Ackley (100-D) 1e3x, Rosenbrock (50-D) 1e3x within a 50 000 budget', () => {
    // Measured with seed 1: 15x, 4.5e4x, 8.9e3x.
    for (const [name, fn, dim, factor] of [['rastrigin', rastrigin, 100, 5], ['ackley', ackley, 100, 1e3], ['rosenbrock', rosenbrock, 50, 1e3]] as const) {
      const o = new ICSO(dim, { budget: 50_000, seed: 1 });
      o.step(fn);
      const first = o.bestFitness;
      while (!o.done) o.step(fn);
      expect(o.bestFitness * factor, name).toBeLessThan(first);
    }
  });

  it('is reproducible by seed and round-trips through JSON bit for bit', () => {
    const whole = new ICSO(40, { budget: 3000, maxParticles: 30, seed: 5 });
    while (!whole.done) whole.step(rastrigin);
    const part = new ICSO(40, { budget: 3000, maxParticles: 30, seed: 5 });
    for (let g = 0; g < 20; g++) part.step(rastrigin);
    const restored = ICSO.fromState(JSON.parse(JSON.stringify(part.state())) as SwarmState);
    while (!restored.done) restored.step(rastrigin);
    expect(JSON.stringify(restored.state())).toBe(JSON.stringify(whole.state()));
    const other = new ICSO(40, { budget: 3000, maxParticles: 30, seed: 6 });
    while (!other.done) other.step(rastrigin);
    expect(other.best).not.toEqual(whole.best);
  });
});
