// The position-wise feed-forward block: dense -> GELU -> dense (GPT-2's MLP, 4x hidden width).
import * as tf from '@tensorflow/tfjs-core';
import { dense, type DenseParams } from './attention.ts';

export interface MlpParams {
  fc: DenseParams; // [C, 4C]
  proj: DenseParams; // [4C, C]
}

const GELU_C = Math.sqrt(2 / Math.PI);

/** GELU, tanh approximation (Hendrycks & Gimpel 2016), as GPT-2 uses. */
export function gelu<T extends tf.Tensor>(x: T): T {
  const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), GELU_C);
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1)) as T;
}

/** x: [B, T, C] -> [B, T, C]. */
export function mlp(x: tf.Tensor3D, p: MlpParams): tf.Tensor3D {
  const [B, T, C] = x.shape; // batch, time, channels
  const h = gelu(dense(tf.reshape(x, [B * T, C]), p.fc)); // [B*T, 4C]
  return tf.reshape(dense(h, p.proj), [B, T, C]) as tf.Tensor3D;
}
