// Gumbel-softmax relaxation of categorical codes (Jang et al. 2017; Maddison et al. 2017), as
// DALL-E's dVAE trains with: softmax((logits + g) / tau), g ~ Gumbel(0, 1), and the
// straight-through variant (one-hot forward, relaxed gradient backward).
import * as tf from '@tensorflow/tfjs-core';

/** Passes x forward and blocks its gradient (tfjs has no stop_gradient op). */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [a, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([]);
    return { value: tf.clone(a), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
  });
  return f(x) as T;
}

/**
 * log softmax over the last axis. The wasm backend has no LogSoftmax kernel, and logSumExp's
 * gradient goes through Max's (an Equal mask, slow there); the shift by the max does not change
 * the value, so blocking its gradient keeps the result and its gradient exact.
 */
export function logSoftmaxLast(logits: tf.Tensor): tf.Tensor {
  const shifted = tf.sub(logits, maxNoGrad(logits));
  return tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), -1, true)));
}

/** max over the last axis (keepDims) as one taped op with a zero gradient, so Max's own gradient never runs. */
const maxNoGrad = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  save([]);
  return { value: tf.max(x, -1, true), gradFunc: () => tf.zerosLike(x) };
}) as (x: tf.Tensor) => tf.Tensor;

export interface GumbelOptions {
  /** tau: divides the noisy logits; small tau approaches one-hot samples. */
  temperature: number;
  /** Straight-through: forward the one-hot argmax, backpropagate through the relaxed sample. */
  hard: boolean;
  /** Seed of the Gumbel noise (one per training step, drawn from the trainer's Rng). */
  seed: number;
}

/** Relaxed one-hot samples over the last axis: [..., K] logits -> [..., K] weights summing to 1. */
export function gumbelSoftmax<T extends tf.Tensor>(logits: T, opts: GumbelOptions): T {
  return tf.tidy(() => gumbelSoftmaxUntidied(logits, opts));
}

function gumbelSoftmaxUntidied<T extends tf.Tensor>(logits: T, opts: GumbelOptions): T {
  // u in (0, 1) strictly, so that -log(-log(u)) stays finite.
  const u = tf.randomUniform(logits.shape, 1e-6, 1 - 1e-6, 'float32', opts.seed);
  const g = tf.neg(tf.log(tf.neg(tf.log(u))));
  const soft = tf.softmax(tf.div(tf.add(logits, g), opts.temperature));
  if (!opts.hard) return soft as T;
  const K = logits.shape[logits.shape.length - 1];
  const hardOneHot = tf.reshape(tf.oneHot(tf.reshape(tf.argMax(soft, -1), [-1]), K), soft.shape);
  // hard in the forward pass, d(soft) in the backward pass.
  return tf.add(soft, stopGradient(tf.sub(hardOneHot, soft))) as T;
}
