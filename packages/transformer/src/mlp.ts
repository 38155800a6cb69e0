// The position-wise feed-forward block: dense -> GELU -> dense (GPT-2's MLP, 4x hidden width).
import * as tf from '@tensorflow/tfjs-core';
import { dense, type DenseParams } from './attention.ts';

export interface MlpParams {
  fc: DenseParams; // [C, 4C]
  proj: DenseParams; // [4C, C]
}

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/**
 * GELU, tanh approximation (Hendrycks & Gimpel 2016), as GPT-2 uses. Its gradient is written out
 * (d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3a x^2), t = tanh(c (x + a x^3))) so the backward
 * pass is a few elementwise ops instead of differentiating pow and tanh step by step.
 */
export function gelu<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const x2 = tf.square(input);
    const t = tf.tanh(tf.mul(input, tf.add(tf.mul(x2, GELU_A * GELU_C), GELU_C))); // tanh(c (x + a x^3))
    save([input, x2, t]);
    const value = tf.mul(tf.mul(input, 0.5), tf.add(t, 1));
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, xsq, ts] = saved;
      const dInner = tf.add(tf.mul(xsq, 3 * GELU_A * GELU_C), GELU_C); // c (1 + 3a x^2)
      const d = tf.add(tf.mul(tf.add(ts, 1), 0.5), tf.mul(tf.mul(tf.mul(xs, 0.5), tf.sub(1, tf.square(ts))), dInner));
      return tf.mul(dy, d);
    };
    return { value, gradFunc };
  });
  return f(x) as T;
}

/** x: [B, T, C] -> [B, T, C]. */
export function mlp(x: tf.Tensor3D, p: MlpParams): tf.Tensor3D {
  const [B, T, C] = x.shape; // batch, time, channels
  const h = gelu(dense(tf.reshape(x, [B * T, C]), p.fc)); // [B*T, 4C]
  return tf.reshape(dense(h, p.proj), [B, T, C]) as tf.Tensor3D;
}
