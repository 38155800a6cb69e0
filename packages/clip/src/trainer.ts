// One contrastive training step (forward, symmetric cross-entropy, gradients of every variable,
// global-norm clipping, AdamW) and the learning-rate schedule (linear warm-up, cosine decay).
import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients, type AdamW, type AdamWConfig } from '@dalle/core';
import { contrastiveLoss, inBatchAccuracy } from './loss.ts';
import { clipLogits, type ClipModel } from './model.ts';

/**
 * CLIP's AdamW settings (Radford et al. 2021). Decay applies to matrices only (the shared optimizer's
 * default rule): never to biases, norms or the logit scale.
 */
export const ADAMW_DEFAULTS: Readonly<AdamWConfig> = Object.freeze({
  beta1: 0.9, // CLIP's value
  beta2: 0.98, // CLIP's value: below 0.999 for transformer stability
  epsilon: 1e-6, // CLIP's value for its transformer towers
  weightDecay: 0.1, // CLIP uses 0.2; 0.1 for our small data
});

export interface StepResult {
  loss: number;
  /** In-batch retrieval accuracy (mean of image->text and text->image). */
  accuracy: number;
  /** Gradient global norm before clipping. */
  gradNorm: number;
  logitScale: number;
}

/** Gradients of the contrastive loss for every variable (by key) plus the loss and logits. Caller disposes. */
export function clipGradients(model: ClipModel, images: tf.Tensor4D, ids: tf.Tensor2D): { loss: tf.Scalar; logits: tf.Tensor2D; grads: Record<string, tf.Tensor> } {
  ensureGradients(); // registered on first use: sampling-only commands skip their load time
  const vars = model.variables();
  const keyOf = new Map(Object.entries(vars).map(([k, v]) => [v.name, k]));
  let logits: tf.Tensor2D | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const l = clipLogits(model, images, ids);
    logits = tf.keep(l);
    return contrastiveLoss(l);
  }, Object.values(vars));
  const byKey: Record<string, tf.Tensor> = {};
  for (const [name, g] of Object.entries(grads)) byKey[keyOf.get(name)!] = g;
  return { loss: value, logits: logits!, grads: byKey };
}

/** One optimisation step on a batch of matching (image, text) pairs. */
export async function clipTrainStep(model: ClipModel, optimizer: AdamW, images: tf.Tensor4D, ids: tf.Tensor2D, lr: number, maxGradNorm = 1): Promise<StepResult> {
  const { loss, logits, grads } = clipGradients(model, images, ids);
  try {
    const norm = tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))));
    const gradNorm = (await norm.data())[0];
    norm.dispose();
    const factor = maxGradNorm > 0 && gradNorm > maxGradNorm ? maxGradNorm / gradNorm : 1;
    if (factor !== 1) {
      for (const k of Object.keys(grads)) {
        const scaled = tf.mul(grads[k], factor);
        grads[k].dispose();
        grads[k] = scaled;
      }
    }
    optimizer.apply(grads, lr);
    const accuracy = await inBatchAccuracy(logits);
    const lossValue = (await loss.data())[0];
    const scale = Math.exp(Math.min((await model.params.logitScale.data())[0], Math.log(model.config.maxLogitScale)));
    return { loss: lossValue, accuracy, gradNorm, logitScale: scale };
  } finally {
    tf.dispose([loss, logits, ...Object.values(grads)]);
  }
}

/** Linear warm-up over `warmupSteps`, then cosine decay to 10% of `peak` at `totalSteps`. */
export function learningRateAt(step: number, peak: number, warmupSteps: number, totalSteps: number): number {
  if (warmupSteps > 0 && step < warmupSteps) return (peak * (step + 1)) / warmupSteps;
  const span = Math.max(1, totalSteps - warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - warmupSteps) / span));
  return peak * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * progress)));
}
