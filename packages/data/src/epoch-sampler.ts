// Deterministic, resumable data order: each epoch visits [0, size) once in a shuffled order
// drawn from (seed, epoch), so a saved { seed, epoch, index } resumes the exact same stream.
import { Rng, UsageError } from '@dalle/core';

export interface SamplerState {
  seed: number;
  /** Epochs completed before the current one. */
  epoch: number;
  /** Position inside the current epoch's permutation. */
  index: number;
  /** GroupBalancedSampler: the number of groups its order was drawn over. */
  groups?: number;
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
  private order: number[] | undefined;

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
  }

  /** The order of epoch `epoch` (a permutation of [0, size)). */
  permutation(epoch: number): number[] {
    const order = Array.from({ length: this.size }, (_, i) => i);
    return new Rng(this.epochSeed(epoch)).shuffle(order);
  }

  protected epochSeed(epoch: number): number {
    return epochSeed(this.seed, epoch);
  }

  /** The next `batchSize` indices; a batch that crosses an epoch end continues into the next epoch. */
  next(batchSize: number): number[] {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError(`batchSize must be a positive integer, got ${batchSize}`);
    const out: number[] = [];
    while (out.length < batchSize) {
      if (this.index === this.size) {
        this.epoch++;
        this.index = 0;
        this.order = undefined;
      }
      this.order ??= this.permutation(this.epoch);
      out.push(this.order[this.index++]);
    }
    return out;
  }

  state(): SamplerState {
    return { seed: this.seed, epoch: this.epoch, index: this.index };
  }
}

/**
 * An epoch order that visits groups evenly rather than records: each epoch is `size` draws, made
 * of shuffled passes over all groups; a group's k-th visit in an epoch takes the k-th record
 * (cycling) of its members in an order shuffled per epoch. Every group is visited
 * size / groups times per epoch (give or take one), whatever its size, so a record of a group
 * of m records comes up size / (groups * m) times per epoch on average. The state and resume
 * rules are EpochSampler's.
 */
export class GroupBalancedSampler extends EpochSampler {
  private readonly members: number[][];

  /** groupIds[r]: the group of record r, dense in [0, groups). */
  constructor(groupIds: ArrayLike<number>, state: SamplerState | { seed: number }) {
    super(groupIds.length, state);
    const saved = (state as Partial<SamplerState>).groups;
    const members: number[][] = [];
    for (let r = 0; r < groupIds.length; r++) {
      const g = groupIds[r];
      if (!Number.isInteger(g) || g < 0) throw new UsageError(`group id of record ${r} must be a non-negative integer, got ${g}`);
      (members[g] ??= []).push(r);
    }
    this.members = members.filter((m) => m !== undefined);
    if (saved !== undefined && saved !== this.members.length) throw new UsageError(`sampler state was saved over ${saved} record groups, but the data has ${this.members.length} (re-encoded with another --group-by?)`);
  }

  override state(): SamplerState {
    return { ...super.state(), groups: this.members.length };
  }

  get groups(): number {
    return this.members.length;
  }

  override permutation(epoch: number): number[] {
    const rng = new Rng(this.epochSeed(epoch));
    const shuffled = this.members.map((m) => rng.shuffle([...m]));
    const visits = new Array<number>(shuffled.length).fill(0);
    const passOrder = Array.from({ length: shuffled.length }, (_, g) => g);
    const out: number[] = [];
    while (out.length < this.size) {
      for (const g of rng.shuffle(passOrder)) {
        if (out.length === this.size) break;
        const m = shuffled[g];
        out.push(m[visits[g]++ % m.length]);
      }
    }
    return out;
  }
}
