// Training-free scoring of a spiking genome (MSE-NAS, SPEC 10): the network the genome
// describes, untrained, with weights drawn from a generator seeded the same for every genome,
// runs one forward over a fixed scoring batch; its per-layer spike counts give the RDM fitness
// (src/search/fitness/rdm.ts) and their total per image the energy proxy. BN normalises with
// the batch's own statistics and nothing updates (scoring() in src/context.ts): an untrained
// network's running statistics (mean 0, variance 1) would leave the conv outputs at whatever
// scale the initialisation gives, so which neurons reach the threshold would depend on the
// init's gain rather than on the architecture; with batch statistics every BN output has unit
// variance over the batch, as in the first training steps. A genome therefore always gets the
// same score (a search is reproducible and its resume exact).

import { Tensor, scope, keep } from '../../tensor.js';
import { scoring } from '../../context.js';
import { Generator } from '../../ops/random.js';
import { BatchLoader } from '../../data/loader.js';
import type { ImageDataset } from '../../data/dataset.js';
import { SpikingNetwork } from '../../models/spiking_network.js';
import type { SpikingGenome } from '../../snn/genome.js';
import { spikingInput } from '../../snn/input.js';
import type { SpikingEncoding } from '../../models/spiking_network.js';
import { scoreLayers, rdmFitness } from '../fitness/rdm.js';

/** The images every genome of a search is scored on, and their labels (read once, for the RSA variants). */
export interface ScoringBatch {
  x: Tensor;
  labels: Int32Array;
  numClasses: number;
  /** Channels of one step's input, and how the network reads the images (event frames or repeated images). */
  inChannels: number;
  encoding: SpikingEncoding;
}

/** `n` training images drawn by seed (no augmentation), kept on the GPU, for networks of T steps; release with releaseScoringBatch. */
export async function scoringBatch(data: ImageDataset, n: number, seed: number, T: number): Promise<ScoringBatch> {
  const input = spikingInput(data, T);
  if (!(Number.isInteger(n) && n >= 2)) throw new Error(`scoring batch: needs at least 2 images, got ${n}`);
  if (n > data.count) throw new Error(`scoring batch: ${n} images asked for, the training set (${data.name}) has ${data.count}`);
  const loader = new BatchLoader(data, { batchSize: n, shuffle: true, seed, dropLast: true });
  const it = loader.epoch(0);
  const batch = it.next().value!;
  it.return(undefined);
  const labels = Int32Array.from(await batch.y.data());
  batch.y.release();
  return { x: keep(batch.x), labels, numClasses: data.numClasses, ...input };
}

export function releaseScoringBatch(b: ScoringBatch): void {
  if (!b.x.released) b.x.release();
}

export interface NetworkShape {
  /** Time steps. */
  T: number;
  /** Channels of the first cells. */
  C: number;
  /** Seed of the weights every scored network starts from. */
  seed: number;
}

export interface GenomeScore {
  /** Each requested RDM variant's score (higher is better; may be -Infinity, e.g. a singular Hamming kernel). */
  fitness: Record<string, number>;
  /** Mean spikes per image over all layers and steps. */
  spikes: number;
}

/** One untrained forward of the genome's network on the batch; the named RDM variants and the spike count. */
export async function scoreGenome(genome: SpikingGenome, batch: ScoringBatch, shape: NetworkShape, variants: readonly string[]): Promise<GenomeScore> {
  for (const v of variants) rdmFitness(v);
  const model = new SpikingNetwork(genome, {
    T: shape.T, C: shape.C, numClasses: batch.numClasses, inChannels: batch.inChannels, encoding: batch.encoding, gen: new Generator(shape.seed), trackSpikes: true,
  });
  try {
    scoring(1, () => scope(() => void model.forward(batch.x)));
    const layers = model.spikeFeatures();
    const fitness: Record<string, number> = {};
    for (const v of variants) fitness[v] = (await scoreLayers(layers, v, batch.labels)).score;
    const count = model.spikeCount();
    const spikes = (await count.data())[0];
    count.release();
    return { fitness, spikes };
  } finally {
    model.dispose();
  }
}
