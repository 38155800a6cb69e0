// The dVAE decoder: code weights [B, G, G, K] (one-hot or relaxed) -> per-pixel outputs
// [B, H, W, 3] (and a log-scale for logit-Laplace). Codes pick (or mix) codebook embeddings [K, D]; residual groups with
// nearest 2x upsampling between them climb back to full resolution (DALL-E dVAE decoder).
import * as tf from '@tensorflow/tfjs-core';
import { decoderResBlocks, numDownsamples, type DvaeConfig } from './config.ts';
import { conv, resBlock, upsample } from './layers.ts';
import type { DvaeParams } from './params.ts';

/** Soft codes times codebook: [B, G, G, K] x [K, D] -> [B, G, G, D]. */
export function embedCodes(codeWeights: tf.Tensor4D, params: DvaeParams, cfg: DvaeConfig): tf.Tensor4D {
  const [B, G, G2, K] = codeWeights.shape; // batch, grid, grid, codebook size
  const flat = tf.reshape(codeWeights, [B * G * G2, K]); // [B*G*G, K]
  const emb = tf.matMul(flat, params['codebook'] as tf.Variable<tf.Rank.R2>); // [B*G*G, D]
  return tf.reshape(emb, [B, G, G2, cfg.codebookDim]);
}

export interface DecoderOutput {
  /** [B, H, W, 3] pre-sigmoid: RGB logits (l1 / mse) or the logit-Laplace location mu. */
  loc: tf.Tensor4D;
  /** [B, H, W, 3] logit-Laplace ln b; absent for l1 / mse. */
  logScale?: tf.Tensor4D;
}

export function decoderOutput(codeWeights: tf.Tensor4D, params: DvaeParams, cfg: DvaeConfig): DecoderOutput {
  const L = numDownsamples(cfg);
  const blocks = decoderResBlocks(cfg);
  const gain = 1 / Math.max(1, (L + 1) * blocks);
  let h = embedCodes(codeWeights, params, cfg); // [B, G, G, D]
  for (let g = L; g >= 0; g--) {
    for (let b = 0; b < blocks; b++) h = resBlock(h, params, `dec.groups.${g}.blocks.${b}`, gain);
    if (params[`dec.groups.${g}.proj.kernel`]) h = conv(h, params, `dec.groups.${g}.proj`);
    if (g > 0) h = upsample(h); // [B, H / 2^(g-1), W / 2^(g-1), width]
  }
  const act = tf.relu(h);
  const loc = conv(act, params, 'dec.out'); // [B, H, W, 3]
  return params['dec.outScale.kernel'] ? { loc, logScale: conv(act, params, 'dec.outScale') } : { loc };
}
