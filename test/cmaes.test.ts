import { describe, it, expect } from 'vitest';
import { CMAES } from '../src/search/optimizers/cmaes.js';

type F = (x: Float64Array) => number;
const sphere: F = (x) => x.reduce((a, v) => a + v * v, 0);
const ellipsoid: F = (x) => x.reduce((a, v, i) => a + 10 ** ((6 * i) / (x.length - 1)) * v * v, 0);
const rosenbrock: F = (x) => {
  let f = 0;
  for (let i = 0; i < x.length - 1; i++) f += 100 * (x[i] ** 2 - x[i + 1]) ** 2 + (1 - x[i]) ** 2;
  return f;
};

/** Evaluations CMA-ES needs from mean 1, sigma 0.5 (or stops at budget). */
function minimise(f: F, n: number, target: number, budget: number, seed = 1, x0 = 1): { evals: number; best: number } {
  const es = new CMAES(new Float64Array(n).fill(x0), 0.5, { seed });
  let best = Infinity;
  while (es.evaluations < budget) {
    const cands = es.ask();
    const fit = cands.map((c) => f(c.x));
    best = Math.min(best, ...fit);
    es.tell(cands, fit);
    if (best < target) break;
  }
  return { evals: es.evaluations, best };
}

describe('CMA-ES on standard functions', () => {
  it('sphere 10-D reaches 1e-8 within about 1,500 evaluations', () => {
    const r = minimise(sphere, 10, 1e-8, 1500);
    console.log(`sphere 10-D: ${r.evals} evaluations, f = ${r.best.toExponential(2)}`);
    expect(r.best).toBeLessThan(1e-8);
  });

  it('ellipsoid 10-D (condition 1e6) reaches 1e-8 within about 10,000 evaluations', () => {
    const r = minimise(ellipsoid, 10, 1e-8, 10000);
    console.log(`ellipsoid 10-D: ${r.evals} evaluations, f = ${r.best.toExponential(2)}`);
    expect(r.best).toBeLessThan(1e-8);
  });

  it('sphere 40-D reaches 1e-8 within 6,000 evaluations', () => {
    const r = minimise(sphere, 40, 1e-8, 6000);
    console.log(`sphere 40-D: ${r.evals} evaluations, f = ${r.best.toExponential(2)}`);
    expect(r.best).toBeLessThan(1e-8);
  });

  it('ellipsoid 40-D reaches 1e-8 within 100,000 evaluations', () => {
    const r = minimise(ellipsoid, 40, 1e-8, 100000);
    console.log(`ellipsoid 40-D: ${r.evals} evaluations, f = ${r.best.toExponential(2)}`);
    expect(r.best).toBeLessThan(1e-8);
  }, 120_000);

  it('Rosenbrock 10-D reaches 1e-6', () => {
    const r = minimise(rosenbrock, 10, 1e-6, 20000, 3, 0);
    console.log(`Rosenbrock 10-D: ${r.evals} evaluations, f = ${r.best.toExponential(2)}`);
    expect(r.best).toBeLessThan(1e-6);
  });

  it('a fixed seed gives identical runs, and a state round-trip continues identically', () => {
    const a = minimise(ellipsoid, 8, 1e-8, 2000, 42);
    const b = minimise(ellipsoid, 8, 1e-8, 2000, 42);
    expect(b).toEqual(a);
    const es = new CMAES(new Float64Array(6).fill(1), 0.5, { seed: 5 });
    for (let g = 0; g < 10; g++) { const c = es.ask(); es.tell(c, c.map((k) => ellipsoid(k.x))); }
    const copy = CMAES.fromState(JSON.parse(JSON.stringify(es.state())));
    const ca = es.ask(), cb = copy.ask();
    expect(cb.map((c) => Array.from(c.x))).toEqual(ca.map((c) => Array.from(c.x)));
  });

  it('rejects bad input with clear messages', () => {
    expect(() => new CMAES([], 1)).toThrow(/at least one dimension/);
    expect(() => new CMAES([1, 2], 0)).toThrow(/sigma must be > 0/);
    const es = new CMAES([1, 2, 3], 1);
    expect(() => es.tell(es.ask().slice(1), [1])).toThrow(/tell\(\) takes the 7 candidates/);
  });
});
