// TrainConfig: optimisation settings for dalle-train (AdamW, warm-up then cosine decay, clipping,
// accumulation, checkpoints), with defaults, validation and the learning-rate schedule.
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '@dalle/core';

export interface TrainConfig {
  /** Optimizer steps in the whole run. */
  steps: number;
  /** Sequences per micro-batch. */
  batchSize: number;
  /** Micro-batches whose gradients are summed into one optimizer step. */
  gradAccumSteps: number;
  /** Peak learning rate, reached at the end of warm-up. */
  learningRate: number;
  /** Steps of linear warm-up from 0. */
  warmupSteps: number;
  /** The cosine decay ends at learningRate * minLearningRateFraction on the last step. */
  minLearningRateFraction: number;
  /** Decoupled weight decay on matrices (AdamW). */
  weightDecay: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Gradients are scaled down when their global L2 norm exceeds this (0 = no clipping). */
  clipNorm: number;
  /** Residual dropout rate on the embeddings and the blocks' attention and MLP outputs, in [0, 1). */
  dropout: number;
  /** Seed of the data order, caption dropout and dropout masks (the model's init seed is separate). */
  seed: number;
  /** Data order: sample the datasets' record groups (dvae-encode --group-by) evenly instead of the records. */
  balanceGroups: boolean;
  /**
   * With balanceGroups: draw each group in proportion to its image loss under the starting model
   * raised to this power (focus.ts; 0 = evenly). The weights are measured once, when the run
   * starts, and kept in the run folder.
   */
  focus: number;
  /** Steps between checkpoints (a checkpoint is also written at the end and on Ctrl-C). */
  checkpointEvery: number;
  /** Steps between log.jsonl lines. */
  logEvery: number;
  /** Steps between validation passes (0 = only at the end). */
  valEvery: number;
  /** Validation batches per pass (0 = the whole validation set). */
  valBatches: number;
}

export const TRAIN_DEFAULTS: Readonly<TrainConfig> = Object.freeze({
  steps: 20_000, // about 4 h on 2 CPU cores for emoji-64 at ~1,000 tokens/s
  batchSize: 16, // 16 x 96 tokens per micro-batch fits caches comfortably
  gradAccumSteps: 1, // raise it to emulate larger batches without more memory
  learningRate: 1e-3, // small models tolerate a high peak with warm-up and clipping
  warmupSteps: 500, // AdamW's second moments need a few hundred steps to settle
  minLearningRateFraction: 0.1, // nanoGPT / Chinchilla practice
  weightDecay: 0.01, // light: the dataset is small and the model smaller
  beta1: 0.9,
  beta2: 0.95, // GPT-3 / DALL-E (0.96) choose < 0.999 for stability with large batches of tokens
  epsilon: 1e-8,
  clipNorm: 1.0, // the usual global-norm clip for transformers
  dropout: 0, // off: it slows fitting; minGPT uses 0.1 against memorising small data
  seed: 0,
  balanceGroups: false, // every record once per epoch, as the data has them
  focus: 0, // groups drawn evenly
  checkpointEvery: 500, // a few minutes of work lost at most
  logEvery: 10,
  valEvery: 1000,
  valBatches: 0,
});

/** AdamW decays matrices (kernels, embeddings), not biases or LayerNorm gains (as GPT-2 / nanoGPT do). */
export function decays(key: string, v: tf.Tensor): boolean {
  return v.rank >= 2 && !key.endsWith('.bias');
}

type NumberField = { [K in keyof TrainConfig]: TrainConfig[K] extends number ? K : never }[keyof TrainConfig];

function checkInt(cfg: TrainConfig, key: NumberField, min: number): void {
  const v = cfg[key];
  if (!Number.isInteger(v) || v < min) throw new UsageError(`${key} must be an integer >= ${min}, got ${v}`);
}

function checkNumber(cfg: TrainConfig, key: NumberField, min: number, max: number, minExclusive = false): void {
  const v = cfg[key];
  if (!Number.isFinite(v) || (minExclusive ? v <= min : v < min) || v > max) throw new UsageError(`${key} must be a number in ${minExclusive ? '(' : '['}${min}, ${max}], got ${v}`);
}

export function resolveTrainConfig(partial: Partial<TrainConfig> = {}): TrainConfig {
  for (const key of Object.keys(partial)) {
    if (!Object.hasOwn(TRAIN_DEFAULTS, key)) throw new UsageError(`unknown train config field "${key}"; valid fields: ${Object.keys(TRAIN_DEFAULTS).join(', ')}`);
  }
  const cfg: TrainConfig = { ...TRAIN_DEFAULTS, ...partial };
  checkInt(cfg, 'steps', 1);
  checkInt(cfg, 'batchSize', 1);
  checkInt(cfg, 'gradAccumSteps', 1);
  checkNumber(cfg, 'learningRate', 0, 1, true);
  checkInt(cfg, 'warmupSteps', 0);
  checkNumber(cfg, 'minLearningRateFraction', 0, 1);
  checkNumber(cfg, 'weightDecay', 0, 1);
  checkNumber(cfg, 'beta1', 0, 1);
  checkNumber(cfg, 'beta2', 0, 1);
  if (cfg.beta1 >= 1 || cfg.beta2 >= 1) throw new UsageError(`beta1 and beta2 must be below 1, got ${cfg.beta1} and ${cfg.beta2}`);
  checkNumber(cfg, 'epsilon', 0, 1, true);
  checkNumber(cfg, 'clipNorm', 0, Number.MAX_VALUE);
  checkNumber(cfg, 'dropout', 0, 1);
  if (cfg.dropout >= 1) throw new UsageError(`dropout must be below 1 (it is the probability of zeroing an activation), got ${cfg.dropout}`);
  checkInt(cfg, 'seed', 0);
  if (typeof cfg.balanceGroups !== 'boolean') throw new UsageError(`balanceGroups must be true or false, got ${JSON.stringify(cfg.balanceGroups)}`);
  checkNumber(cfg, 'focus', 0, 16);
  if (cfg.focus > 0 && !cfg.balanceGroups) throw new UsageError(`focus weighs record groups: it needs balanceGroups (dalle-train --balance), got focus ${cfg.focus} without it`);
  checkInt(cfg, 'checkpointEvery', 1);
  checkInt(cfg, 'logEvery', 1);
  checkInt(cfg, 'valEvery', 0);
  checkInt(cfg, 'valBatches', 0);
  return cfg;
}

/** Learning rate for optimizer step `step` (1-based): linear warm-up, then cosine decay to the floor. */
export function learningRateAt(cfg: TrainConfig, step: number): number {
  const peak = cfg.learningRate;
  if (step <= cfg.warmupSteps) return (peak * step) / cfg.warmupSteps;
  const decaySteps = Math.max(1, cfg.steps - cfg.warmupSteps);
  const progress = Math.min(1, (step - cfg.warmupSteps) / decaySteps);
  const floor = peak * cfg.minLearningRateFraction;
  return floor + 0.5 * (peak - floor) * (1 + Math.cos(Math.PI * progress));
}
