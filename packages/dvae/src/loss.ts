// The dVAE's training objective: reconstruction NLL (logit-Laplace as in DALL-E, or L1 / MSE)
// plus beta times the KL from the code posterior to the uniform prior over K codes
// (Ramesh et al. 2021, sec. 2.1 and appendix A.3), and the metrics the trainer reports.
import * as tf from '@tensorflow/tfjs-core';
import type { DvaeConfig } from './config.ts';
import type { DecoderOutput } from './decoder.ts';
import { logSoftmaxLast } from './gumbel.ts';

/** DALL-E maps pixels into [eps, 1 - eps] so that their logits stay bounded. */
export const LOGIT_LAPLACE_EPS = 0.1;

/** Decoder output -> image [B, H, W, 3] in [0, 1] (for logit-Laplace: its mode, mapped back). */
export function outputToImage(out: DecoderOutput, cfg: DvaeConfig): tf.Tensor4D {
  if (cfg.reconLoss !== 'logit-laplace') return tf.sigmoid(out.loc);
  const e = LOGIT_LAPLACE_EPS;
  return tf.clipByValue(tf.div(tf.sub(tf.sigmoid(out.loc), e), 1 - 2 * e), 0, 1) as tf.Tensor4D;
}

/** Mean reconstruction loss per pixel value (a scalar) of decoder output vs target in [0, 1]. */
export function reconstructionLoss(out: DecoderOutput, target: tf.Tensor4D, cfg: DvaeConfig): tf.Scalar {
  if (cfg.reconLoss === 'l1') return tf.mean(tf.abs(tf.sub(tf.sigmoid(out.loc), target)));
  if (cfg.reconLoss === 'mse') return tf.mean(tf.squaredDifference(tf.sigmoid(out.loc), target));
  const mu = out.loc; // [B, H, W, 3] location in logit space
  const lnB = out.logScale!; // [B, H, W, 3] log scale
  const e = LOGIT_LAPLACE_EPS;
  const x = tf.add(tf.mul(target, 1 - 2 * e), e); // [B, H, W, 3] in [eps, 1 - eps]
  const logitX = tf.sub(tf.log(x), tf.log(tf.sub(1, x)));
  // -log f(x) with f(x) = exp(-|logit(x) - mu| / b) / (2 b x (1 - x)).
  const nll = tf.addN([tf.add(lnB, Math.log(2)), tf.log(tf.mul(x, tf.sub(1, x))), tf.mul(tf.abs(tf.sub(logitX, mu)), tf.exp(tf.neg(lnB)))]);
  return tf.mean(nll);
}

/** Mean over cells of KL(q || uniform) = sum_k q log q + log K, for logits [..., K]. */
export function klToUniform(logits: tf.Tensor): tf.Scalar {
  const K = logits.shape[logits.shape.length - 1];
  const logQ = logSoftmaxLast(logits);
  return tf.add(tf.mean(tf.sum(tf.mul(tf.exp(logQ), logQ), -1)), Math.log(K)) as tf.Scalar;
}

/** exp(entropy) of the batch-average code distribution: how many codes are in use (1..K). */
export function codePerplexity(logits: tf.Tensor): tf.Scalar {
  return meanPerplexity(tf.softmax(logits));
}

/** exp(entropy) of the mean of code distributions [..., K] (probabilities or one-hot codes). */
export function meanPerplexity(probs: tf.Tensor): tf.Scalar {
  const K = probs.shape[probs.shape.length - 1];
  const avg = tf.mean(tf.reshape(probs, [-1, K]), 0); // [K]
  return tf.exp(tf.neg(tf.sum(tf.mul(avg, tf.log(tf.add(avg, 1e-10)))))) as tf.Scalar;
}

/** Peak signal-to-noise ratio in dB of images in [0, 1] (mean over the whole batch). */
export function psnr(a: tf.Tensor4D, b: tf.Tensor4D): tf.Scalar {
  const mse = tf.maximum(tf.mean(tf.squaredDifference(a, b)), 1e-10);
  return tf.mul(tf.log(mse), -10 / Math.LN10);
}
