// One dVAE training step: encode, Gumbel-softmax relax, decode, loss = reconstruction NLL +
// beta * KL(q || uniform) (KL summed over cells, NLL over pixel values, as DALL-E's ELB
// weights them), gradients of every variable, one Adam update. Returns the step's metrics.
import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients, type AdamW } from '@dalle/core';
import { imageSeqLen } from './config.ts';
import { decoderOutput } from './decoder.ts';
import type { Dvae } from './dvae.ts';
import { encoderLogits } from './encoder.ts';
import { gumbelSoftmax } from './gumbel.ts';
import { codePerplexity, klToUniform, outputToImage, psnr, reconstructionLoss } from './loss.ts';

export interface StepSettings {
  lr: number;
  temperature: number;
  klWeight: number;
  hard: boolean;
  /** Seed of this step's Gumbel noise. */
  noiseSeed: number;
}

export interface StepMetrics {
  loss: number;
  recon: number;
  kl: number;
  /** PSNR (dB) of the relaxed reconstruction against the batch. */
  psnr: number;
  /** exp(entropy) of the batch-average code distribution. */
  perplexity: number;
}

/** The scalar loss and its parts for a batch; callers run it under tidy or variableGrads. */
export function dvaeLoss(dvae: Dvae, images: tf.Tensor4D, s: Omit<StepSettings, 'lr'>): { loss: tf.Scalar; parts: tf.Tensor1D } {
  const cfg = dvae.config;
  const logits = encoderLogits(images, dvae.params, cfg); // [B, G, G, K]
  const codes = gumbelSoftmax(logits, { temperature: s.temperature, hard: s.hard, seed: s.noiseSeed }); // [B, G, G, K]
  const out = decoderOutput(codes, dvae.params, cfg); // [B, H, W, 3] (+ log-scale)
  const recon = reconstructionLoss(out, images, cfg);
  const kl = klToUniform(logits);
  // Per-value NLL + beta * (KL per cell) * cells / values = (DALL-E's ELB with beta) / values.
  const cellsPerValue = imageSeqLen(cfg) / (cfg.imageSize * cfg.imageSize * 3);
  const loss = tf.add(recon, tf.mul(kl, s.klWeight * cellsPerValue)) as tf.Scalar;
  const parts = tf.stack([loss, recon, kl, psnr(outputToImage(out, cfg), images), codePerplexity(logits)]) as tf.Tensor1D;
  return { loss, parts };
}

/** Computes gradients for every variable and applies one Adam update; returns the metrics. */
export async function trainStep(dvae: Dvae, adam: AdamW, images: tf.Tensor4D, s: StepSettings): Promise<StepMetrics> {
  ensureGradients(); // a no-op after the first call (selectBackend also does it)
  let parts: tf.Tensor1D | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const r = dvaeLoss(dvae, images, s);
    parts = tf.keep(r.parts);
    return r.loss;
  }, Object.values(dvae.params));
  try {
    // variableGrads keys gradients by variable name; map them back to our dotted keys.
    const byKey: Record<string, tf.Tensor> = {};
    for (const [key, v] of Object.entries(dvae.params)) byKey[key] = grads[v.name];
    adam.apply(byKey, s.lr);
    const [loss, recon, kl, p, perplexity] = Array.from(await parts!.data());
    return { loss, recon, kl, psnr: p, perplexity };
  } finally {
    tf.dispose([value, parts!, ...Object.values(grads)]);
  }
}
