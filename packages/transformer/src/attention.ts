// Masked multi-head self-attention (Vaswani et al. 2017) in 4-D head layout [B, heads, T, headDim],
// with an optional key/value cache for incremental decoding (as in GPT-2 / nanoGPT).
import * as tf from '@tensorflow/tfjs-core';

export interface DenseParams {
  kernel: tf.Tensor2D; // [in, out]
  bias: tf.Tensor1D; // [out]
}

export interface AttentionParams {
  qkv: DenseParams; // [C, 3C]: queries, keys, values side by side
  proj: DenseParams; // [C, C]
}

/** Cached keys (stored transposed, so scores need no transposed matMul) and values of earlier positions. */
export interface KeyValue {
  keysT: tf.Tensor4D; // [B, numHeads, headDim, P]
  values: tf.Tensor4D; // [B, numHeads, P, headDim]
}

/** x @ kernel + bias on rows: [M, in] -> [M, out] (one fused kernel: no separate bias pass). */
export function dense(x: tf.Tensor2D, p: DenseParams): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: p.kernel, bias: p.bias }) as tf.Tensor2D;
}

/**
 * Attention of S new positions over P cached ones plus themselves.
 * x: [B, S, C]; mask: additive [S, P + S] (rows of the layer's mask for the new positions);
 * past: the P earlier positions' keys and values, or undefined when P = 0.
 * Returns the output [B, S, C] and the keys/values of all P + S positions.
 */
export function cachedSelfAttention(x: tf.Tensor3D, p: AttentionParams, numHeads: number, mask: tf.Tensor2D, past?: KeyValue): { y: tf.Tensor3D; present: KeyValue } {
  const [B, S, C] = x.shape; // batch, new positions, channels
  const hd = C / numHeads; // head size
  const qkv = dense(tf.reshape(x, [B * S, C]), p.qkv); // [B*S, 3C]
  const [q2, k2, v2] = tf.split(qkv, 3, 1) as tf.Tensor2D[]; // each [B*S, C]
  // Fold 1/sqrt(hd) into the queries: cheaper than scaling [B, H, S, P+S] scores.
  const q = tf.transpose(tf.reshape(tf.mul(q2, 1 / Math.sqrt(hd)), [B, S, numHeads, hd]), [0, 2, 1, 3]); // [B, H, S, hd]
  let keysT = tf.transpose(tf.reshape(k2, [B, S, numHeads, hd]), [0, 2, 3, 1]) as tf.Tensor4D; // [B, H, hd, S]
  let values = tf.transpose(tf.reshape(v2, [B, S, numHeads, hd]), [0, 2, 1, 3]) as tf.Tensor4D; // [B, H, S, hd]
  if (past) {
    keysT = tf.concat([past.keysT, keysT], 3); // [B, H, hd, P+S]
    values = tf.concat([past.values, values], 2); // [B, H, P+S, hd]
  }
  const scores = tf.add(tf.matMul(q, keysT), mask); // [B, H, S, P+S]
  const weights = tf.softmax(scores); // [B, H, S, P+S]
  const heads = tf.matMul(weights, values); // [B, H, S, hd]
  const merged = tf.reshape(tf.transpose(heads, [0, 2, 1, 3]), [B * S, C]) as tf.Tensor2D; // [B, S, H, hd] -> [B*S, C]
  const y = tf.reshape(dense(merged, p.proj), [B, S, C]) as tf.Tensor3D; // [B, S, C]
  return { y, present: { keysT, values } };
}

/** Masked self-attention over a whole sequence: x [B, T, C], mask additive [T, T] -> [B, T, C]. */
export function causalSelfAttention(x: tf.Tensor3D, p: AttentionParams, numHeads: number, mask: tf.Tensor2D): tf.Tensor3D {
  return cachedSelfAttention(x, p, numHeads, mask).y;
}
