// Layer normalisation over the channel axis (Ba et al. 2016), as used before each sub-layer in
// pre-LN transformers (GPT-2, DALL-E).
import * as tf from '@tensorflow/tfjs-core';

export interface LayerNormParams {
  gamma: tf.Tensor1D; // [C]
  beta: tf.Tensor1D; // [C]
}

/** Small constant that keeps rsqrt finite for constant rows (GPT-2's value). */
export const LAYER_NORM_EPS = 1e-5;

/** y = (x - mean) / sqrt(var + eps) * gamma + beta over the last axis; any rank. */
export function layerNorm<T extends tf.Tensor>(x: T, p: LayerNormParams): T {
  const axis = x.rank - 1;
  const mean = tf.mean(x, axis, true); // [..., 1]
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), axis, true); // [..., 1]
  const normed = tf.mul(centred, tf.rsqrt(tf.add(variance, LAYER_NORM_EPS)));
  return tf.add(tf.mul(normed, p.gamma), p.beta) as T;
}
