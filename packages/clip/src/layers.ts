// Transformer building blocks shared by both CLIP towers: layer norm, linear, quick-GELU MLP,
// multi-head self-attention with an optional additive mask, and the pre-LN block (Radford et al.
// 2019/2021). Pure functions of (input, params); the ONNX exporter mirrors them op for op.
import * as tf from '@tensorflow/tfjs-core';
import type { BlockParams, LayerNormParams, LinearParams } from './params.ts';

/** Normalises over the last axis (population variance, as torch.nn.LayerNorm). */
export function layerNorm<T extends tf.Tensor>(x: T, p: LayerNormParams, eps: number): T {
  const mean = tf.mean(x, -1, true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), -1, true);
  return tf.add(tf.mul(tf.div(centred, tf.sqrt(tf.add(variance, eps))), p.gamma), p.beta) as T;
}

/** x @ kernel + bias over the last axis of a [B, T, C] tensor. */
export function linear3d(x: tf.Tensor3D, p: LinearParams): tf.Tensor3D {
  const [B, T, C] = x.shape; // batch, time, channels
  const out = p.kernel.shape[1];
  const y = tf.add(tf.matMul(tf.reshape(x, [B * T, C]), p.kernel), p.bias); // [B*T, out]
  return tf.reshape(y, [B, T, out]);
}

/** CLIP's activation: x * sigmoid(1.702 x), a cheap GELU approximation that ONNX opset 17 can express. */
export function quickGelu<T extends tf.Tensor>(x: T): T {
  return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702))) as T;
}

export function mlp(x: tf.Tensor3D, p: BlockParams['mlp']): tf.Tensor3D {
  return linear3d(quickGelu(linear3d(x, p.fc)), p.proj);
}

/** [B, T, C] -> [B, numHeads, T, headDim] */
function splitHeads(x: tf.Tensor3D, numHeads: number): tf.Tensor4D {
  const [B, T, C] = x.shape;
  return tf.transpose(tf.reshape(x, [B, T, numHeads, C / numHeads]), [0, 2, 1, 3]); // [B, H, T, hd]
}

/**
 * Multi-head self-attention. `maskBias` is an additive [T, T] bias (0 = attend, large negative =
 * blocked), e.g. the causal mask of the text tower; the vision tower passes none.
 */
export function selfAttention(x: tf.Tensor3D, p: BlockParams['attn'], numHeads: number, maskBias?: tf.Tensor2D): tf.Tensor3D {
  const [B, T, C] = x.shape; // batch, time, channels
  const headDim = C / numHeads;
  const [q, k, v] = tf.split(linear3d(x, p.qkv), 3, 2) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D]; // each [B, T, C]
  const qh = splitHeads(q, numHeads); // [B, H, T, hd]
  const kt = tf.transpose(tf.reshape(k, [B, T, numHeads, headDim]), [0, 2, 3, 1]); // [B, H, hd, T]: avoids transposeB
  const vh = splitHeads(v, numHeads); // [B, H, T, hd]
  let scores = tf.mul(tf.matMul(qh, kt), 1 / Math.sqrt(headDim)) as tf.Tensor4D; // [B, H, T, T]
  if (maskBias) scores = tf.add(scores, maskBias);
  const att = tf.softmax(scores); // over the keys (last axis)
  const out = tf.matMul(att, vh); // [B, H, T, hd]
  const merged = tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [B, T, C]) as tf.Tensor3D; // [B, T, C]
  return linear3d(merged, p.proj);
}

/** Pre-LN transformer block: x + attn(ln1(x)), then + mlp(ln2(.)). */
export function block(x: tf.Tensor3D, p: BlockParams, numHeads: number, eps: number, maskBias?: tf.Tensor2D): tf.Tensor3D {
  const h = tf.add(x, selfAttention(layerNorm(x, p.ln1, eps), p.attn, numHeads, maskBias)) as tf.Tensor3D;
  return tf.add(h, mlp(layerNorm(h, p.ln2, eps), p.mlp)) as tf.Tensor3D;
}

/** The bias value that blocks attention: exp(-1e9 - max) is exactly 0 in float32. */
export const MASKED = -1e9;

/** [T, T] causal bias: 0 on and below the diagonal, MASKED above (position t sees 0..t). */
export function causalMaskBias(T: number): tf.Tensor2D {
  const data = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) data[i * T + j] = MASKED;
  return tf.tensor2d(data, [T, T]);
}

/** Scales each row of a [B, D] tensor to unit L2 norm (rows of zeros stay zero). */
export function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  const norm = tf.sqrt(tf.sum(tf.square(x), -1, true)); // [B, 1]
  return tf.div(x, tf.maximum(norm, 1e-12));
}
