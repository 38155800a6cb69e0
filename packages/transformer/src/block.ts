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
 * positions (undefined for a whole sequence); drop: training-time dropout masks [B, S, C] for the
 * attention and the MLP outputs (see dropout.ts). Returns [B, S, C] and the block's updated cache.
 */
export function transformerBlock(x: tf.Tensor3D, p: BlockParams, numHeads: number, mask: tf.Tensor2D, past?: KeyValue, drop?: { attn: tf.Tensor3D; mlp: tf.Tensor3D }): { y: tf.Tensor3D; present: KeyValue } {
  const { y: a, present } = cachedSelfAttention(layerNorm(x, p.ln1), p.attn, numHeads, mask, past);
  const h = tf.add(x, drop ? tf.mul(a, drop.attn) : a) as tf.Tensor3D;
  const m = mlp(layerNorm(h, p.ln2), p.mlp);
  return { y: tf.add(h, drop ? tf.mul(m, drop.mlp) : m) as tf.Tensor3D, present };
}
