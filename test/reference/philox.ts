// CPU Philox4x32-R (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), the
// reference for shaders/random/philox.wgsl. The 32x32->64 products use BigInt here (the WGSL
// builds them from 16-bit halves), so the two implementations share no arithmetic trick.
// Also the engine's mapping of Philox words to values, in float64, for the tests.

const M0 = 0xd2511f53n;
const M1 = 0xcd9e8d57n;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const MASK = 0xffffffffn;

function mulhilo(a: bigint, b: number): [number, number] {
  const p = a * BigInt(b >>> 0);
  return [Number(p >> 32n), Number(p & MASK)];
}

/** Philox4x32 with `rounds` rounds (10 is the standard) on counter ctr[4] and key key[2]. */
export function philox4x32(ctr: readonly number[], key: readonly number[], rounds = 10): [number, number, number, number] {
  let [c0, c1, c2, c3] = ctr.map((x) => x >>> 0);
  let [k0, k1] = key.map((x) => x >>> 0);
  for (let r = 0; r < rounds; r++) {
    if (r > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const [hi0, lo0] = mulhilo(M0, c0);
    const [hi1, lo1] = mulhilo(M1, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
  }
  return [c0, c1, c2, c3];
}

/** The engine's key for a seed: (low 32 bits, high bits). */
export function seedKey(seed: number): [number, number] {
  return [seed % 2 ** 32 >>> 0, Math.floor(seed / 2 ** 32) >>> 0];
}

/**
 * Word j of the engine's stream for a seed: block b = floor(j / 4) is the Philox counter
 * (b mod 2^32, floor(b / 2^32), 0, 0), and j mod 4 picks the output word.
 */
export function philoxWords(seed: number, counter: number, n: number): Uint32Array {
  const key = seedKey(seed);
  const out = new Uint32Array(n);
  let cachedBlock = -1;
  let words: number[] = [];
  for (let i = 0; i < n; i++) {
    const j = counter + i;
    const b = Math.floor(j / 4);
    if (b !== cachedBlock) {
      words = philox4x32([b % 2 ** 32, Math.floor(b / 2 ** 32), 0, 0], key);
      cachedBlock = b;
    }
    out[i] = words[j % 4];
  }
  return out;
}

/** A word to [0, 1): its top 24 bits times 2^-24 (exact in float32). */
export const wordToUnit = (w: number) => (w >>> 8) / 16777216;

/** lo + (hi - lo) * u in float64 (the GPU rounds to float32). */
export function referenceUniform(seed: number, counter: number, n: number, lo = 0, hi = 1): Float64Array {
  const w = philoxWords(seed, counter, n);
  return Float64Array.from(w, (x) => lo + (hi - lo) * wordToUnit(x));
}

/**
 * Box-Muller on word pairs (4q, 4q+1) and (4q+2, 4q+3) of a block: u1 = (top24 + 1) * 2^-24 in
 * (0, 1], theta = 2 pi u2 - pi; even words get r cos(theta), odd words r sin(theta).
 */
export function referenceNormal(seed: number, counter: number, n: number, mean = 0, std = 1): Float64Array {
  if (counter % 4 !== 0) throw new Error('referenceNormal: counter must be a multiple of 4');
  const padded = Math.ceil(n / 4) * 4;
  const w = philoxWords(seed, counter, padded);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const p = i - (i % 2);
    const u1 = ((w[p] >>> 8) + 1) / 16777216;
    const theta = 2 * Math.PI * wordToUnit(w[p + 1]) - Math.PI;
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = mean + std * (i % 2 === 0 ? r * Math.cos(theta) : r * Math.sin(theta));
  }
  return out;
}
