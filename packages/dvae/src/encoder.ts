// The dVAE encoder: image [B, H, W, 3] in [0, 1] -> logits [B, G, G, K] over the codebook.
// Stem conv, then one residual group per resolution with max-pool between, then a 1x1 conv
// to K logits (DALL-E dVAE encoder, Ramesh et al. 2021, appendix A.1).
import * as tf from '@tensorflow/tfjs-core';
import { numDownsamples, type DvaeConfig } from './config.ts';
import { conv, downsample, resBlock } from './layers.ts';
import type { DvaeParams } from './params.ts';

export function encoderLogits(images: tf.Tensor4D, params: DvaeParams, cfg: DvaeConfig): tf.Tensor4D {
  const L = numDownsamples(cfg);
  const gain = 1 / Math.max(1, (L + 1) * cfg.resBlocks);
  // Centre the pixels: [0, 1] -> [-1, 1] so the first layer sees zero-mean input.
  let h = conv(tf.sub(tf.mul(images, 2), 1), params, 'enc.stem'); // [B, H, W, hidden]
  for (let g = 0; g <= L; g++) {
    for (let b = 0; b < cfg.resBlocks; b++) h = resBlock(h, params, `enc.groups.${g}.blocks.${b}`, gain);
    if (params[`enc.groups.${g}.proj.kernel`]) h = conv(h, params, `enc.groups.${g}.proj`);
    if (g < L) h = downsample(h); // [B, H / 2^(g+1), W / 2^(g+1), width]
  }
  return conv(tf.relu(h), params, 'enc.logits'); // [B, G, G, K]
}
