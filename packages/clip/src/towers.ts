// The two CLIP encoders as pure functions of (params, config, input): a causal text transformer
// mean-pooled over non-pad tokens, and a ViT (patch embedding, pre-LN blocks, mean pooling over
// patches; Dosovitskiy et al. 2020). Both end in a linear projection and L2 normalisation.
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '@dalle/core';
import { numPatches, patchDim, patchGridSize, type ClipConfig } from './config.ts';
import { block, causalMaskBias, l2Normalize, layerNorm, linear3d } from './layers.ts';
import type { TextTowerParams, VisionTowerParams } from './params.ts';

/**
 * Text embeddings, L2-normalised: ids int32 [B, T] with T <= textSeqLen, padded with padId at the
 * end. The causal mask keeps trailing pads from influencing real tokens, and the mean pooling skips
 * them, so a text gives the same embedding whatever padding length it arrives with.
 */
export function textTower(p: TextTowerParams, cfg: ClipConfig, ids: tf.Tensor2D): tf.Tensor2D {
  const [B, T] = ids.shape; // batch, text length
  if (T > cfg.textSeqLen || T < 1) throw new UsageError(`text ids must have 1..${cfg.textSeqLen} positions, got [${ids.shape}]`);
  const ids32 = ids.dtype === 'int32' ? ids : tf.cast(ids, 'int32');
  const tokens = tf.reshape(tf.gather(p.tokenEmbedding, tf.reshape(ids32, [B * T])), [B, T, cfg.textWidth]); // [B, T, C]
  let x = tf.add(tokens, tf.slice(p.positionEmbedding, [0, 0], [T, cfg.textWidth])) as tf.Tensor3D; // [B, T, C]
  const mask = causalMaskBias(T);
  for (const b of p.blocks) x = block(x, b, cfg.textHeads, cfg.layerNormEps, mask);
  x = layerNorm(x, p.lnFinal, cfg.layerNormEps);
  const keep = tf.cast(tf.notEqual(ids32, cfg.padId), 'float32'); // [B, T]
  const summed = tf.sum(tf.mul(x, tf.expandDims(keep, 2)), 1); // [B, C]
  const count = tf.maximum(tf.sum(keep, 1, true), 1); // [B, 1]; an all-pad text pools to zeros
  const pooled = tf.div(summed, count) as tf.Tensor2D; // [B, C]
  return l2Normalize(tf.matMul(pooled, p.projection)); // [B, embedDim]
}

/** Normalised pixels -> patch rows: [B, H, W, 3] -> [B, numPatches, patch*patch*3] (row-major grid; py, px, rgb inside a patch). */
export function patchify(x: tf.Tensor4D, cfg: ClipConfig): tf.Tensor3D {
  const B = x.shape[0];
  const g = patchGridSize(cfg);
  const ps = cfg.patchSize;
  const rows = tf.reshape(x, [B * g, ps, g, ps * 3]); // [B*gy, py, gx, px*3]
  const grid = tf.transpose(rows, [0, 2, 1, 3]); // [B*gy, gx, py, px*3]
  return tf.reshape(grid, [B, numPatches(cfg), patchDim(cfg)]);
}

/** Image embeddings, L2-normalised: images [B, imageSize, imageSize, 3] floats in [0, 1]. */
export function visionTower(p: VisionTowerParams, cfg: ClipConfig, images: tf.Tensor4D): tf.Tensor2D {
  const [, H, W, ch] = images.shape;
  if (H !== cfg.imageSize || W !== cfg.imageSize || ch !== 3) throw new UsageError(`images must be [B, ${cfg.imageSize}, ${cfg.imageSize}, 3], got [${images.shape}]`);
  const normed = tf.div(tf.sub(images, tf.tensor1d(cfg.imageMean)), tf.tensor1d(cfg.imageStd)) as tf.Tensor4D;
  let x = tf.add(linear3d(patchify(normed, cfg), p.patchEmbedding), p.positionEmbedding) as tf.Tensor3D; // [B, N, C]
  for (const b of p.blocks) x = block(x, b, cfg.visionHeads, cfg.layerNormEps);
  x = layerNorm(x, p.lnFinal, cfg.layerNormEps);
  const pooled = tf.mean(x, 1) as tf.Tensor2D; // [B, C]
  return l2Normalize(tf.matMul(pooled, p.projection)); // [B, embedDim]
}
