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
 * The records of each group: members[g] lists, in order, the records r with groupIds[r] = g
 * (a hole where no record has id g).
 */
export function groupMembers(groupIds: ArrayLike<number>): number[][] {
  const members: number[][] = [];
  for (let r = 0; r < groupIds.length; r++) {
    const g = groupIds[r];
    if (!Number.isInteger(g) || g < 0) throw new UsageError(`group id of record ${r} must be a non-negative integer, got ${g}`);
    (members[g] ??= []).push(r);
  }
  return members;
}

/**
 * An epoch order that visits groups evenly rather than records: each epoch is `size` draws, made
 * of shuffled passes over all groups; a group's k-th visit in an epoch takes the k-th record
 * (cycling) of its members in an order shuffled per epoch. Every group is visited
 * size / groups times per epoch (give or take one), whatever its size, so a record of a group
 * of m records comes up size / (groups * m) times per epoch on average. The state and resume
 * rules are EpochSampler's.
 *
 * With `weights` (one per group id, >= 0, not all 0), group g gets size * w_g / sum(w) of an
 * epoch's draws instead: the counts are rounded by systematic sampling with a random start over
 * the shuffled groups (so a group owed 0.3 draws an epoch gets one in about 3 epochs out of 10),
 * and each group's visits are spread evenly through the epoch, from a random phase.
 */
export class GroupBalancedSampler extends EpochSampler {
  private readonly members: number[][];
  private readonly weights: Float64Array | undefined;

  /** groupIds[r]: the group of record r, dense in [0, groups); weights[g]: group g's share of the draws (default even). */
  constructor(groupIds: ArrayLike<number>, state: SamplerState | { seed: number }, weights?: ArrayLike<number>) {
    super(groupIds.length, state);
    const saved = (state as Partial<SamplerState>).groups;
    const members = groupMembers(groupIds);
    if (weights !== undefined) {
      const hole = members.findIndex((m) => m === undefined);
      if (hole >= 0 || members.length !== weights.length) throw new UsageError(`group weights: ${weights.length} weights for group ids 0..${members.length - 1}${hole >= 0 ? ` (group ${hole} has no records)` : ''}; give one weight per group`);
      let total = 0;
      for (let g = 0; g < weights.length; g++) {
        if (!Number.isFinite(weights[g]) || weights[g] < 0) throw new UsageError(`group weights: weight ${g} must be a finite number >= 0, got ${weights[g]}`);
        total += weights[g];
      }
      if (!(total > 0)) throw new UsageError('group weights: all weights are 0; at least one group must be drawn');
      this.weights = Float64Array.from(weights, (w) => w / total);
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
    if (this.weights) return this.weightedPermutation(rng);
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

  /** One epoch of draws in proportion to the weights (see the class comment). */
  private weightedPermutation(rng: Rng): number[] {
    const w = this.weights!;
    const shuffled = this.members.map((m) => rng.shuffle([...m]));
    // Systematic sampling: walk the groups in a random order, cumulating size * w_g; group g
    // gets the number of points start + k (k = 0, 1, ...) that fall in its stretch.
    const counts = new Array<number>(w.length).fill(0);
    let edge = 0;
    let point = rng.next();
    let last = -1;
    for (const g of rng.shuffle(Array.from({ length: w.length }, (_, i) => i))) {
      if (w[g] === 0) continue;
      edge += this.size * w[g];
      last = g;
      while (point < edge && point < this.size) {
        counts[g]++;
        point++;
      }
    }
    for (; point < this.size; point++) counts[last]++; // rounding left the last stretch a hair short
    // Spread each group's visits evenly: visit k of group g sits at (k + phase_g) / counts_g.
    const visits: { at: number; g: number; k: number }[] = [];
    counts.forEach((n, g) => {
      const phase = rng.next();
      for (let k = 0; k < n; k++) visits.push({ at: (k + phase) / n, g, k });
    });
    visits.sort((a, b) => a.at - b.at || a.g - b.g);
    return visits.map(({ g, k }) => shuffled[g][k % shuffled[g].length]);
  }
}
