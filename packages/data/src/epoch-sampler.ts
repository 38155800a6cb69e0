// Deterministic, resumable data order: each epoch visits [0, size) once in a shuffled order
// drawn from (seed, epoch), so a saved { seed, epoch, index } resumes the exact same stream.
import { Rng, UsageError } from '@dalle/core';

export interface SamplerState {
  seed: number;
  /** Epochs completed before the current one. */
  epoch: number;
  /** Position inside the current epoch's permutation. */
  index: number;
}

/** A seed per epoch, mixed so that nearby (seed, epoch) pairs give unrelated permutations. */
function epochSeed(seed: number, epoch: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = (h + Math.imul(epoch + 1, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0x27d4eb2f) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export class EpochSampler {
  private readonly seed: number;
  private epoch: number;
  private index: number;
  private order: number[];

  constructor(
    readonly size: number,
    state: SamplerState | { seed: number },
  ) {
    if (!Number.isInteger(size) || size < 1) throw new UsageError(`sampler size must be a positive integer, got ${size}`);
    const s = state as Partial<SamplerState>;
    if (!Number.isInteger(s.seed)) throw new UsageError(`sampler seed must be an integer, got ${JSON.stringify(s.seed)}`);
    this.seed = s.seed!;
    this.epoch = s.epoch ?? 0;
    this.index = s.index ?? 0;
    if (!Number.isInteger(this.epoch) || this.epoch < 0) throw new UsageError(`sampler epoch must be a non-negative integer, got ${JSON.stringify(s.epoch)}`);
    if (!Number.isInteger(this.index) || this.index < 0 || this.index > size) throw new UsageError(`sampler index must be an integer in [0, ${size}], got ${JSON.stringify(s.index)} (saved for a dataset of another size?)`);
    this.order = this.permutation(this.epoch);
  }

  /** The order of epoch `epoch` (a permutation of [0, size)). */
  permutation(epoch: number): number[] {
    const order = Array.from({ length: this.size }, (_, i) => i);
    return new Rng(epochSeed(this.seed, epoch)).shuffle(order);
  }

  /** The next `batchSize` indices; a batch that crosses an epoch end continues into the next epoch. */
  next(batchSize: number): number[] {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError(`batchSize must be a positive integer, got ${batchSize}`);
    const out: number[] = [];
    while (out.length < batchSize) {
      if (this.index === this.size) {
        this.epoch++;
        this.index = 0;
        this.order = this.permutation(this.epoch);
      }
      out.push(this.order[this.index++]);
    }
    return out;
  }

  state(): SamplerState {
    return { seed: this.seed, epoch: this.epoch, index: this.index };
  }
}
