// Residual dropout for training, as GPT-2 / minGPT place it: on the embeddings and on each block's
// attention and MLP outputs before they join the residual stream. Masks are drawn per sequence
// from that sequence's seed, so a batch split between data-parallel workers drops exactly what
// the whole batch would, and a resumed run draws the same masks.
import { Rng, UsageError } from '@dalle/core';

/** Dropout for one batch: the rate and one seed per sequence. */
export interface DropoutPlan {
  /** Probability of zeroing an activation, in [0, 1). */
  rate: number;
  /** int32 [B]: sequence b's masks come from new Rng(seeds[b]). */
  seeds: Int32Array;
}

/** Mask sites of a model with `numLayers` blocks: the embeddings, then attention and MLP outputs per block. */
export function dropoutSites(numLayers: number): number {
  return 1 + 2 * numLayers;
}

/**
 * Inverted-dropout masks for `sites` sites of a [B, S, C] activation: each a Float32Array of
 * B*S*C values, 0 with probability `rate` and 1 / (1 - rate) otherwise, so E[mask] = 1.
 * Sequence b fills its slice of every site, site after site, from one Rng(seeds[b]).
 */
export function dropoutMasks(plan: DropoutPlan, sites: number, S: number, C: number): Float32Array[] {
  const { rate, seeds } = plan;
  if (!(rate >= 0 && rate < 1)) throw new UsageError(`dropout rate must be in [0, 1), got ${rate}`);
  const B = seeds.length;
  const keep = 1 / (1 - rate);
  const per = S * C;
  const masks = Array.from({ length: sites }, () => new Float32Array(B * per));
  for (let b = 0; b < B; b++) {
    const rng = new Rng(seeds[b] >>> 0);
    for (const mask of masks) {
      for (let i = b * per, end = i + per; i < end; i++) mask[i] = rng.next() < rate ? 0 : keep;
    }
  }
  return masks;
}
