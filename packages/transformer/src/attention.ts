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

/**
 * Cached keys and values of earlier positions. A decoding step reduces keys over headDim and
 * values over positions; each is stored with the reduced axis last, where wasm sums it in place.
 */
export interface KeyValue {
  keys: tf.Tensor4D; // [B, numHeads, P, headDim]
  valuesT: tf.Tensor4D; // [B, numHeads, headDim, P]
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
  const q = tf.transpose(tf.reshape(tf.mul(q2, 1 / Math.sqrt(hd)), [B, S, numHeads, hd]), [0, 2, 1, 3]) as tf.Tensor4D; // [B, H, S, hd]
  const newKeys = tf.transpose(tf.reshape(k2, [B, S, numHeads, hd]), [0, 2, 1, 3]) as tf.Tensor4D; // [B, H, S, hd]
  const newValuesT = tf.transpose(tf.reshape(v2, [B, S, numHeads, hd]), [0, 2, 3, 1]) as tf.Tensor4D; // [B, H, hd, S]
  const keys = past ? tf.concat([past.keys, newKeys], 2) : newKeys; // [B, H, P+S, hd]
  const valuesT = past ? tf.concat([past.valuesT, newValuesT], 3) : newValuesT; // [B, H, hd, P+S]
  const heads = S === 1 && past ? attendOne(q, keys, valuesT, mask) : attendMany(q, k2, v2, keys, valuesT, mask, past === undefined); // [B, H, S, hd]
  const merged = tf.reshape(tf.transpose(heads, [0, 2, 1, 3]), [B * S, C]) as tf.Tensor2D; // [B, S, H, hd] -> [B*S, C]
  const y = tf.reshape(dense(merged, p.proj), [B, S, C]) as tf.Tensor3D; // [B, S, C]
  return { y, present: { keys, valuesT } };
}

/**
 * Softmax attention of S queries as batched products: q [B, H, S, hd] against keys [B, H, P+S, hd]
 * and values (valuesT [B, H, hd, P+S]). Without a cache (training, prefill) both operands come
 * straight from the projections k2, v2 [B*S, C], one layout change each.
 */
function attendMany(q: tf.Tensor4D, k2: tf.Tensor2D, v2: tf.Tensor2D, keys: tf.Tensor4D, valuesT: tf.Tensor4D, mask: tf.Tensor2D, fresh: boolean): tf.Tensor4D {
  const [B, H, S, hd] = q.shape; // batch, heads, new positions, head size
  const keysT = fresh ? tf.transpose(tf.reshape(k2, [B, S, H, hd]), [0, 2, 3, 1]) : tf.transpose(keys, [0, 1, 3, 2]); // [B, H, hd, P+S]
  const values = fresh ? tf.transpose(tf.reshape(v2, [B, S, H, hd]), [0, 2, 1, 3]) : tf.transpose(valuesT, [0, 1, 3, 2]); // [B, H, P+S, hd]
  const scores = tf.add(tf.matMul(q, keysT), mask); // [B, H, S, P+S]
  return tf.matMul(tf.softmax(scores), values) as tf.Tensor4D; // [B, H, S, hd]
}

/**
 * One query per sequence (a decoding step) as broadcast products and sums over the cache: the
 * same math as attendMany, but on wasm a batched [1, hd] x [hd, P] product pays a fixed setup per
 * head and sequence, while one multiply and one innermost-axis sum run as single kernels.
 */
function attendOne(q: tf.Tensor4D, keys: tf.Tensor4D, valuesT: tf.Tensor4D, mask: tf.Tensor2D): tf.Tensor4D {
  const [B, H, P, hd] = keys.shape; // batch, heads, cached positions (the new one included), head size
  const scores = tf.add(tf.reshape(tf.sum(tf.mul(q, keys), 3), [B, H, 1, P]), mask); // [B, H, 1, P]
  const weights = tf.softmax(scores); // [B, H, 1, P]
  return tf.reshape(tf.sum(tf.mul(weights, valuesT), 3), [B, H, 1, hd]) as tf.Tensor4D; // [B, H, hd] -> [B, H, 1, hd]
}

/** Masked self-attention over a whole sequence: x [B, T, C], mask additive [T, T] -> [B, T, C]. */
export function causalSelfAttention(x: tf.Tensor3D, p: AttentionParams, numHeads: number, mask: tf.Tensor2D): tf.Tensor3D {
  return cachedSelfAttention(x, p, numHeads, mask).y;
}
