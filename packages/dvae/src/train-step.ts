// One dVAE training step: encode, Gumbel-softmax relax, decode, loss = reconstruction NLL +
// beta * KL(q || uniform) (KL summed over cells, NLL over pixel values, as DALL-E's ELB
// weights them), gradients of every variable, one Adam update. Returns the step's metrics.
// A decoder-only step instead decodes the frozen encoder's hard codes and trains the codebook
// and decoder on the reconstruction loss alone.
import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients, type AdamW } from '@dalle/core';
import { imageSeqLen } from './config.ts';
import { decoderOutput } from './decoder.ts';
import type { Dvae } from './dvae.ts';
import { encoderLogits } from './encoder.ts';
import { gumbelSoftmax } from './gumbel.ts';
import { codePerplexity, klToUniform, meanPerplexity, outputToImage, psnr, reconstructionLoss } from './loss.ts';
import { isEncoderKey } from './params.ts';

export interface StepSettings {
  lr: number;
  temperature: number;
  klWeight: number;
  hard: boolean;
  /** Seed of this step's Gumbel noise. */
  noiseSeed: number;
  /** Train the codebook and decoder on the frozen encoder's hard codes (temperature, KL and noise unused). */
  decoderOnly?: boolean;
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

/**
 * The decoder-only loss for a batch and its hard codes [B, G*G] (the frozen encoder's): the
 * reconstruction loss, with KL 0 and the PSNR and code perplexity of those codes in `parts`.
 */
export function decoderLoss(dvae: Dvae, images: tf.Tensor4D, codes: tf.Tensor2D): { loss: tf.Scalar; parts: tf.Tensor1D } {
  const cfg = dvae.config;
  const [B] = images.shape; // batch
  const G = dvae.gridSize;
  const oneHot = tf.cast(tf.oneHot(tf.reshape(codes, [B, G, G]), cfg.codebookSize), 'float32') as tf.Tensor4D; // [B, G, G, K]
  const out = decoderOutput(oneHot, dvae.params, cfg); // [B, H, W, 3] (+ log-scale)
  const recon = reconstructionLoss(out, images, cfg);
  const parts = tf.stack([recon, recon, tf.scalar(0), psnr(outputToImage(out, cfg), images), meanPerplexity(oneHot)]) as tf.Tensor1D;
  return { loss: recon, parts };
}

/** The variables a step trains: all, or the codebook and decoder for a decoder-only fine-tune. */
export function trainableParams(dvae: Dvae, decoderOnly: boolean): Record<string, tf.Variable> {
  return decoderOnly ? Object.fromEntries(Object.entries(dvae.params).filter(([key]) => !isEncoderKey(key))) : dvae.params;
}

/** Computes gradients for the trained variables and applies one Adam update; returns the metrics. */
export async function trainStep(dvae: Dvae, adam: AdamW, images: tf.Tensor4D, s: StepSettings): Promise<StepMetrics> {
  ensureGradients(); // a no-op after the first call (selectBackend also does it)
  const vars = trainableParams(dvae, s.decoderOnly ?? false);
  const codes = s.decoderOnly ? dvae.encode(images) : undefined; // [B, G*G], outside the tape
  let parts: tf.Tensor1D | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const r = codes ? decoderLoss(dvae, images, codes) : dvaeLoss(dvae, images, s);
    parts = tf.keep(r.parts);
    return r.loss;
  }, Object.values(vars));
  try {
    // variableGrads keys gradients by variable name; map them back to our dotted keys.
    const byKey: Record<string, tf.Tensor> = {};
    for (const [key, v] of Object.entries(vars)) byKey[key] = grads[v.name];
    adam.apply(byKey, s.lr);
    const [loss, recon, kl, p, perplexity] = Array.from(await parts!.data());
    return { loss, recon, kl, psnr: p, perplexity };
  } finally {
    tf.dispose([value, parts!, ...Object.values(grads), ...(codes ? [codes] : [])]);
  }
}
