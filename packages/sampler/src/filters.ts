// Logit filters and seeded categorical sampling over one row of logits (plain arrays, CPU side).
// Temperature, top-k (Fan et al. 2018) and nucleus / top-p (Holtzman et al. 2019), in the order
// DALLE-pytorch and min-dalle apply them; guidance follows Ho & Salimans 2022 (classifier-free).
// The sampling loop reads each step's logits back once and runs these in float64, so the same
// logits and seed give the same ids on every backend.
import type { Rng } from '@dalle/core';

export type Logits = ArrayLike<number>;

/** Classifier-free guidance: uncond + scale * (cond - uncond); scale 1 returns cond. */
export function guideLogits(cond: Logits, uncond: Logits, scale: number): Float64Array {
  if (cond.length !== uncond.length) throw new Error(`guideLogits: cond has ${cond.length} logits but uncond has ${uncond.length}`);
  const out = new Float64Array(cond.length);
  for (let i = 0; i < out.length; i++) out[i] = uncond[i] + scale * (cond[i] - uncond[i]);
  return out;
}

/** Logits divided by `temperature` (> 0). */
export function applyTemperature(logits: Logits, temperature: number): Float64Array {
  if (!(temperature > 0)) throw new Error(`temperature must be > 0, got ${temperature}`);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < out.length; i++) out[i] = logits[i] / temperature;
  return out;
}

/** Indices of `logits` from the largest to the smallest (ties: lower index first). */
export function argsortDescending(logits: Logits): number[] {
  const idx = Array.from({ length: logits.length }, (_, i) => i);
  return idx.sort((a, b) => logits[b] - logits[a] || a - b);
}

/**
 * Keeps the `k` largest logits (exactly k: ties broken towards the lower id) and sets the rest to
 * -Infinity. k >= length keeps everything. One native numeric sort finds the k-th value.
 */
export function topKFilter(logits: Logits, k: number): Float64Array {
  if (!Number.isInteger(k) || k < 1) throw new Error(`topK must be an integer >= 1, got ${k}`);
  const out = Float64Array.from(logits);
  const n = out.length;
  if (k >= n) return out;
  const threshold = Float64Array.from(out).sort()[n - k]; // the k-th largest value
  let ties = k;
  for (let i = 0; i < n; i++) if (out[i] > threshold) ties--; // ties at the threshold still to keep
  for (let i = 0; i < n; i++) {
    if (out[i] > threshold) continue;
    if (out[i] === threshold && ties > 0) ties--;
    else out[i] = -Infinity;
  }
  return out;
}

/** Softmax in float64 (max-subtracted); -Infinity logits get probability 0. */
export function softmax(logits: Logits): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  const out = new Float64Array(logits.length);
  if (max === -Infinity) throw new Error('softmax: every logit is -Infinity');
  let sum = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = Math.exp(logits[i] - max);
    sum += out[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/** log softmax(logits)[id], computed stably in float64. */
export function logProbOf(logits: Logits, id: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return logits[id] - max - Math.log(sum);
}

/**
 * Nucleus filter: keeps the smallest set of the most likely ids whose total probability is
 * >= p (at least one id) and sets the rest to -Infinity. p = 1 keeps everything. Only finite
 * logits are sorted, so after top-k this costs O(k log k).
 */
export function topPFilter(logits: Logits, p: number): Float64Array {
  if (!(p > 0 && p <= 1)) throw new Error(`topP must be in (0, 1], got ${p}`);
  const out = Float64Array.from(logits);
  if (p === 1) return out;
  const probs = softmax(out);
  const live: number[] = [];
  for (let i = 0; i < out.length; i++) if (out[i] > -Infinity) live.push(i);
  live.sort((a, b) => out[b] - out[a] || a - b); // most likely first, ties towards the lower id
  let mass = 0;
  let r = 0;
  // Add ids in order of probability until the kept mass reaches p.
  while (r < live.length && mass < p) mass += probs[live[r++]];
  for (; r < live.length; r++) out[live[r]] = -Infinity;
  return out;
}

/** Draws one id from `probs` (non-negative, summing to ~1) with one uniform draw from `rng`. */
export function sampleCategorical(probs: ArrayLike<number>, rng: Rng): number {
  const u = rng.next();
  let acc = 0;
  let last = -1;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] <= 0) continue;
    acc += probs[i];
    last = i;
    if (u < acc) return i;
  }
  if (last < 0) throw new Error('sampleCategorical: no id has positive probability');
  return last; // rounding left u just above the total mass
}

export interface SamplingFilters {
  temperature: number;
  topK: number;
  topP: number;
}

/** The distribution one step samples from: temperature, then top-k, then top-p, then softmax. */
export function samplingDistribution(logits: Logits, f: SamplingFilters): Float64Array {
  return softmax(topPFilter(topKFilter(applyTemperature(logits, f.temperature), f.topK), f.topP));
}

/** Shannon entropy (nats) of a probability vector. */
export function entropy(probs: ArrayLike<number>): number {
  let h = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i] > 0) h -= probs[i] * Math.log(probs[i]);
  return h;
}
