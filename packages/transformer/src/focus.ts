// Focused group sampling (dalle-train --balance --focus ALPHA): each record group's image loss
// under the starting model, measured on a few of its records, sets how often the group is drawn,
// so training time goes to the concepts the model still draws worst rather than to those it
// already knows. A form of loss-proportional (prioritised) sampling, fixed for one run.
import * as tf from '@tensorflow/tfjs-core';
import { Rng, UsageError } from '@dalle/core';
import { groupMembers } from '@dalle/data';
import type { TokenBatchSource } from './dataset.ts';
import { imageLogLikelihood, type TransformerModel } from './transformer.ts';

/** The file in the run folder that keeps a focused run's group weights, for --resume. */
export const FOCUS_FILE = 'focus.json';
/** No group falls below this fraction of the mean weight: a known concept is still revisited, at a quarter of its even share at least. */
export const FOCUS_FLOOR = 0.25;
/** Records per group whose loss is measured. */
export const FOCUS_RECORDS_PER_GROUP = 4;

export interface GroupFocus {
  alpha: number;
  floor: number;
  recordsPerGroup: number;
  /** The model the losses were measured with. */
  model: string;
  /** Group names, in the order of the data's group ids. */
  names: string[];
  /** Mean image loss (nats per token) of each group's measured records. */
  losses: number[];
  /** Sampling weight of each group, mean 1. */
  weights: number[];
}

/**
 * Mean image loss of up to `perGroup` records of each group (a seeded choice among its members),
 * evaluated in batches: groupIds[r] is the group of record r of `source`, dense in [0, groups).
 */
export function groupLosses(
  model: TransformerModel,
  source: TokenBatchSource,
  groupIds: ArrayLike<number>,
  options: { perGroup?: number; seed?: number; batchSize?: number; onBatch?: (done: number, total: number) => void } = {},
): Float64Array {
  if (groupIds.length !== source.size) throw new UsageError(`groupLosses: ${groupIds.length} group ids for ${source.size} records`);
  const perGroup = options.perGroup ?? FOCUS_RECORDS_PER_GROUP;
  const B = options.batchSize ?? 16;
  if (!Number.isInteger(perGroup) || perGroup < 1) throw new UsageError(`groupLosses: perGroup must be a positive integer, got ${perGroup}`);
  const members = groupMembers(groupIds);
  const rng = new Rng(options.seed ?? 0);
  const picks: { record: number; group: number }[] = [];
  members.forEach((m, g) => {
    for (const record of rng.shuffle([...m]).slice(0, perGroup)) picks.push({ record, group: g });
  });
  const sum = new Float64Array(members.length);
  const count = new Float64Array(members.length);
  for (let start = 0; start < picks.length; start += B) {
    const part = picks.slice(start, start + B);
    const { text, codes } = source.batch(part.map((p) => p.record));
    const n = part.length;
    const logLik = tf.tidy(() => {
      const t = tf.tensor2d(text, [n, text.length / n], 'int32');
      const c = tf.tensor2d(codes, [n, codes.length / n], 'int32');
      return imageLogLikelihood(model, t, c).dataSync();
    });
    part.forEach((p, i) => {
      sum[p.group] -= logLik[i];
      count[p.group]++;
    });
    options.onBatch?.(Math.min(start + B, picks.length), picks.length);
  }
  return sum.map((s, g) => {
    if (count[g] === 0) throw new UsageError(`groupLosses: group ${g} has no records`);
    return s / count[g];
  });
}

/**
 * Sampling weights from group losses: loss^alpha, raised to at least `floor` times the mean of
 * those, then scaled to mean 1. alpha 0 draws every group evenly; 1 in proportion to its loss.
 */
export function focusWeights(losses: ArrayLike<number>, alpha: number, floor = FOCUS_FLOOR): Float64Array {
  if (losses.length === 0) throw new UsageError('focusWeights: no groups');
  if (!Number.isFinite(alpha) || alpha < 0) throw new UsageError(`focus must be a number >= 0, got ${alpha}`);
  if (!Number.isFinite(floor) || floor < 0 || floor > 1) throw new UsageError(`focus floor must be in [0, 1], got ${floor}`);
  for (let g = 0; g < losses.length; g++) {
    if (!Number.isFinite(losses[g]) || losses[g] < 0) throw new UsageError(`focusWeights: loss of group ${g} must be a finite number >= 0, got ${losses[g]}`);
  }
  const raw = Float64Array.from(losses, (l) => l ** alpha);
  const mean = raw.reduce((a, b) => a + b, 0) / raw.length;
  if (!(mean > 0)) return new Float64Array(raw.length).fill(1); // every loss is 0: nothing to prefer
  const lifted = raw.map((w) => Math.max(w, floor * mean));
  const liftedMean = lifted.reduce((a, b) => a + b, 0) / lifted.length;
  return lifted.map((w) => w / liftedMean);
}

/** Checks a focus.json read back from a run folder against the data's groups. */
export function parseGroupFocus(text: string, file: string, names: readonly string[]): GroupFocus {
  let f: GroupFocus;
  try {
    f = JSON.parse(text) as GroupFocus;
  } catch (err) {
    throw new UsageError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  const arrays = f && Array.isArray(f.names) && Array.isArray(f.weights) && Array.isArray(f.losses);
  if (!arrays || f.names.length !== f.weights.length || f.names.length !== f.losses.length) throw new UsageError(`${file}: expected names, losses and weights of equal length`);
  if (f.names.length !== names.length || f.names.some((n, g) => n !== names[g])) {
    throw new UsageError(`${file} weighs ${f.names.length} record groups that are not the data's ${names.length} (other --data?); resume with the run's own data`);
  }
  return f;
}
