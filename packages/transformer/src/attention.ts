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
 * Positions appended one at a time collect in a short `recent` part, merged into the settled part
 * every RECENT_LIMIT positions: appending to the whole cache each step would copy all of it every
 * time (quadratic in the length). The parts share no tensors with any earlier cache except the
 * settled part, which a step passes on unchanged until the next merge.
 */
export interface KeyValue {
  keys: tf.Tensor4D; // [B, numHeads, P0, headDim]
  valuesT: tf.Tensor4D; // [B, numHeads, headDim, P0]
  recentKeys?: tf.Tensor4D; // [B, numHeads, P1, headDim]: the P1 positions after the settled P0
  recentValuesT?: tf.Tensor4D; // [B, numHeads, headDim, P1]
}

/** Positions the recent part of a cache holds before it is merged into the settled part. */
const RECENT_LIMIT = 16;

/** The cache as one settled part [B, H, P, hd] / [B, H, hd, P]. */
function settled(kv: KeyValue): { keys: tf.Tensor4D; valuesT: tf.Tensor4D } {
  if (!kv.recentKeys || !kv.recentValuesT) return { keys: kv.keys, valuesT: kv.valuesT };
  return { keys: tf.concat([kv.keys, kv.recentKeys], 2), valuesT: tf.concat([kv.valuesT, kv.recentValuesT], 3) };
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
  let heads: tf.Tensor4D; // [B, H, S, hd]
  let present: KeyValue;
  if (S === 1 && past) {
    const recentKeys = past.recentKeys ? tf.concat([past.recentKeys, newKeys], 2) : newKeys; // [B, H, P1+1, hd]
    const recentValuesT = past.recentValuesT ? tf.concat([past.recentValuesT, newValuesT], 3) : newValuesT; // [B, H, hd, P1+1]
    heads = attendOne(q, [past.keys, recentKeys], [past.valuesT, recentValuesT], mask);
    present = recentKeys.shape[2] >= RECENT_LIMIT ? settled({ keys: past.keys, valuesT: past.valuesT, recentKeys, recentValuesT }) : { keys: past.keys, valuesT: past.valuesT, recentKeys, recentValuesT };
  } else {
    const old = past ? settled(past) : undefined;
    const keys = old ? tf.concat([old.keys, newKeys], 2) : newKeys; // [B, H, P+S, hd]
    const valuesT = old ? tf.concat([old.valuesT, newValuesT], 3) : newValuesT; // [B, H, hd, P+S]
    heads = attendMany(q, k2, v2, keys, valuesT, mask, past === undefined);
    present = { keys, valuesT };
  }
  const merged = tf.reshape(tf.transpose(heads, [0, 2, 1, 3]), [B * S, C]) as tf.Tensor2D; // [B, S, H, hd] -> [B*S, C]
  const y = tf.reshape(dense(merged, p.proj), [B, S, C]) as tf.Tensor3D; // [B, S, C]
  return { y, present };
}

/** The tensors a cache holds (to keep or free them as a whole). */
export function cacheTensors(kv: KeyValue): tf.Tensor[] {
  return [kv.keys, kv.valuesT, kv.recentKeys, kv.recentValuesT].filter((t): t is tf.Tensor4D => t !== undefined);
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
 * One query per sequence (a decoding step) as broadcast products and sums over the cache parts
 * (keys [B, H, Pi, hd], valuesT [B, H, hd, Pi], in position order): the same math as attendMany,
 * but on wasm a batched [1, hd] x [hd, P] product pays a fixed setup per head and sequence, while a
 * multiply and an innermost-axis sum per part run as single kernels.
 */
function attendOne(q: tf.Tensor4D, keys: tf.Tensor4D[], valuesT: tf.Tensor4D[], mask: tf.Tensor2D): tf.Tensor4D {
  const [B, H, , hd] = q.shape; // batch, heads, 1, head size
  const used = keys.map((_, i) => i).filter((i) => keys[i].shape[2] > 0);
  const lengths = used.map((i) => keys[i].shape[2]);
  const P = lengths.reduce((a, b) => a + b, 0); // all cached positions, the new one included
  const parts = used.map((i) => tf.sum(tf.mul(q, keys[i]), 3)); // each [B, H, Pi]
  const scores = tf.add(tf.reshape(parts.length === 1 ? parts[0] : tf.concat(parts, 2), [B, H, 1, P]), mask); // [B, H, 1, P]
  const probs = tf.softmax(scores); // [B, H, 1, P]
  const weights = used.length === 1 ? [probs] : (tf.split(probs, lengths, 3) as tf.Tensor4D[]); // each [B, H, 1, Pi]
  const mixed = used.map((i, j) => tf.sum(tf.mul(weights[j], valuesT[i]), 3)); // each [B, H, hd]
  return tf.reshape(mixed.length === 1 ? mixed[0] : tf.addN(mixed), [B, H, 1, hd]) as tf.Tensor4D; // [B, H, 1, hd]
}

/** Masked self-attention over a whole sequence: x [B, T, C], mask additive [T, T] -> [B, T, C]. */
export function causalSelfAttention(x: tf.Tensor3D, p: AttentionParams, numHeads: number, mask: tf.Tensor2D): tf.Tensor3D {
  return cachedSelfAttention(x, p, numHeads, mask).y;
}
