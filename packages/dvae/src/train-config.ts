// Training settings of the dVAE (schedules, batch, checkpoints), kept apart from the model config
// because they do not change the weights' shapes. Defaults follow DALL-E's dVAE recipe scaled
// down (Ramesh et al. 2021, appendix A.2): Adam, cosine lr decay, tau annealed 1 -> 1/16, KL weight ramped up.
import { UsageError, type AdamWConfig } from '@dalle/core';

export interface DvaeTrainConfig {
  /** Optimisation steps in the whole run (the schedules are laid out over these). */
  steps: number;
  /** Images per step. */
  batchSize: number;
  /** Peak Adam learning rate (after warmup). */
  lr: number;
  /** Learning rate at the last step (cosine decay from lr). */
  lrMin: number;
  /** Steps of linear learning-rate warmup from 0. */
  warmupSteps: number;
  /** Gumbel-softmax temperature at step 0. */
  temperatureStart: number;
  /** Temperature at the end of the anneal (DALL-E: 1/16). */
  temperatureEnd: number;
  /** Fraction of the run over which tau decays geometrically from start to end (then stays). */
  temperatureAnnealFraction: number;
  /** Straight-through codes: one-hot in the forward pass, relaxed gradient. */
  hard: boolean;
  /**
   * Train only the codebook and decoder on the frozen encoder's hard codes (no Gumbel noise, no
   * KL): every image keeps its codes, so a transformer trained on them still fits the model.
   */
  decoderOnly: boolean;
  /** beta: KL weight, relative to the reconstruction NLL summed over pixel values (DALL-E: 6.6). */
  klWeight: number;
  /** Fraction of the run over which beta rises from 0 (cosine ramp). */
  klWarmupFraction: number;
  /** Seed of the data order and of the Gumbel noise. */
  seed: number;
  /** Steps between log.jsonl lines. */
  logEvery: number;
  /** Steps between checkpoints (0: only at the end and on interruption). */
  checkpointEvery: number;
  /** Steps between validations and sample sheets (0: only at the end). */
  valEvery: number;
  /** Checkpoints kept on disk (older ones are deleted). */
  keepCheckpoints: number;
}

export const DVAE_TRAIN_DEFAULTS: DvaeTrainConfig = {
  steps: 3000, // emoji-64 at batch 16 measured 1.4 s/step on wasm (shared 2-core machine): about 70 minutes
  batchSize: 16, // small batches update more often; the wasm backend gains little from larger ones
  lr: 2e-3, // small conv nets tolerate a larger step than DALL-E's 1e-4; 5e-3 overfit the tiny test set fastest
  lrMin: 1e-5, // cosine decay to 1% of peak
  warmupSteps: 100, // keeps the first Adam steps, with noisy moment estimates, small
  temperatureStart: 1, // DALL-E's start
  temperatureEnd: 1 / 16, // DALL-E's end: close to one-hot, so decoding hard codes matches training
  temperatureAnnealFraction: 0.8, // leaves the last 20% of steps at the final tau to settle
  hard: false, // DALL-E trains with soft relaxed codes
  decoderOnly: false, // a new dVAE learns its codes; the decoder-only fine-tune is for a trained one
  // DALL-E's final beta is 6.6 with its logit-Laplace NLL. With mse on emoji-64 (val-images), beta 0
  // collapsed onto 14 of 512 codes (perplexity 9.7, 17.5 dB after 1,600 steps), while beta 1 used
  // 46 codes (perplexity 32) at 17.3 dB after 800 steps; on a 4-image overfit, where a few codes
  // suffice, the KL term costs PSNR (beta 0.5: 17.4 vs 25.9 dB), so tiny runs may set it to 0.
  klWeight: 1,
  klWarmupFraction: 0.2, // DALL-E increases beta over its first 5000 of 3 M updates; a short ramp lets codes form first
  seed: 0, // deterministic by default
  logEvery: 10,
  checkpointEvery: 250, // about 6 minutes of emoji-64 training lost at most
  valEvery: 250,
  keepCheckpoints: 3, // bounds disk use; the latest is what --resume needs
};

/** The dVAE's optimizer settings: plain Adam, as this trainer has always used (no weight decay). */
export const DVAE_ADAM: Readonly<AdamWConfig> = Object.freeze({
  beta1: 0.9, // Kingma & Ba's default
  beta2: 0.999, // Kingma & Ba's default
  epsilon: 1e-8, // Kingma & Ba's default
  weightDecay: 0, // unchanged from the earlier dVAE-only Adam, so existing runs resume on the same trajectory
});

function checkNumber(name: string, v: unknown, min: number, max: number, integer: boolean, minExclusive = false): void {
  const ok = typeof v === 'number' && Number.isFinite(v) && (minExclusive ? v > min : v >= min) && v <= max && (!integer || Number.isInteger(v));
  if (!ok) throw new UsageError(`${name} must be ${integer ? 'an integer' : 'a number'} in ${minExclusive ? '(' : '['}${min}, ${max}], got ${String(v)}`);
}

export function resolveDvaeTrainConfig(partial: Partial<DvaeTrainConfig> = {}): DvaeTrainConfig {
  const known = new Set(Object.keys(DVAE_TRAIN_DEFAULTS));
  for (const k of Object.keys(partial)) if (!known.has(k)) throw new UsageError(`unknown dVAE training field "${k}"`);
  const c: DvaeTrainConfig = { ...DVAE_TRAIN_DEFAULTS };
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) (c as unknown as Record<string, unknown>)[k] = v;
  checkNumber('steps', c.steps, 1, 1e9, true);
  checkNumber('batchSize', c.batchSize, 1, 4096, true);
  checkNumber('lr', c.lr, 0, 1, false, true);
  checkNumber('lrMin', c.lrMin, 0, c.lr, false);
  checkNumber('warmupSteps', c.warmupSteps, 0, 1e9, true); // may exceed steps: a short run then only warms up
  checkNumber('temperatureStart', c.temperatureStart, 0, 100, false, true);
  checkNumber('temperatureEnd', c.temperatureEnd, 0, c.temperatureStart, false, true);
  checkNumber('temperatureAnnealFraction', c.temperatureAnnealFraction, 0, 1, false);
  if (typeof c.hard !== 'boolean') throw new UsageError(`hard must be true or false, got ${String(c.hard)}`);
  if (typeof c.decoderOnly !== 'boolean') throw new UsageError(`decoderOnly must be true or false, got ${String(c.decoderOnly)}`);
  checkNumber('klWeight', c.klWeight, 0, 1e6, false);
  checkNumber('klWarmupFraction', c.klWarmupFraction, 0, 1, false);
  checkNumber('seed', c.seed, 0, 2 ** 32 - 1, true);
  checkNumber('logEvery', c.logEvery, 1, 1e9, true);
  checkNumber('checkpointEvery', c.checkpointEvery, 0, 1e9, true);
  checkNumber('valEvery', c.valEvery, 0, 1e9, true);
  checkNumber('keepCheckpoints', c.keepCheckpoints, 1, 1000, true);
  return c;
}

/** Learning rate at `step` (0-based): linear warmup, then cosine decay to lrMin at the last step. */
export function learningRateAt(c: DvaeTrainConfig, step: number): number {
  if (step < c.warmupSteps) return (c.lr * (step + 1)) / c.warmupSteps;
  const span = Math.max(1, c.steps - c.warmupSteps);
  const t = Math.min(1, (step - c.warmupSteps) / span);
  return c.lrMin + 0.5 * (c.lr - c.lrMin) * (1 + Math.cos(Math.PI * t));
}

/** Gumbel temperature at `step`: geometric from start to end over the anneal fraction. */
export function temperatureAt(c: DvaeTrainConfig, step: number): number {
  const span = c.temperatureAnnealFraction * c.steps;
  const t = span > 0 ? Math.min(1, step / span) : 1;
  return c.temperatureStart * (c.temperatureEnd / c.temperatureStart) ** t;
}

/** KL weight at `step`: cosine ramp from 0 to klWeight over the warmup fraction. */
export function klWeightAt(c: DvaeTrainConfig, step: number): number {
  const span = c.klWarmupFraction * c.steps;
  const t = span > 0 ? Math.min(1, step / span) : 1;
  return c.klWeight * 0.5 * (1 - Math.cos(Math.PI * t));
}
