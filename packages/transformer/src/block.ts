// One pre-LayerNorm transformer block (GPT-2 / DALL-E): x + attn(ln1(x)), then + mlp(ln2(x)).
import * as tf from '@tensorflow/tfjs-core';
import { cachedSelfAttention, type AttentionParams, type KeyValue } from './attention.ts';
import { layerNorm, type LayerNormParams } from './layer-norm.ts';
import { mlp, type MlpParams } from './mlp.ts';

export interface BlockParams {
  ln1: LayerNormParams;
  attn: AttentionParams;
  ln2: LayerNormParams;
  mlp: MlpParams;
}

/**
 * x: [B, S, C] for S new positions; mask: additive [S, P + S]; past: the block's cache of P earlier
 * positions (undefined for a whole sequence). Returns [B, S, C] and the block's updated cache.
 */
export function transformerBlock(x: tf.Tensor3D, p: BlockParams, numHeads: number, mask: tf.Tensor2D, past?: KeyValue): { y: tf.Tensor3D; present: KeyValue } {
  const { y: a, present } = cachedSelfAttention(layerNorm(x, p.ln1), p.attn, numHeads, mask, past);
  const h = tf.add(x, a) as tf.Tensor3D;
  return { y: tf.add(h, mlp(layerNorm(h, p.ln2), p.mlp)) as tf.Tensor3D, present };
}
