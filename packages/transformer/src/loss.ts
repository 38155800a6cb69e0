// Softmax cross-entropy with a hand-written gradient (softmax - onehot), which keeps the backward
// pass to one elementwise op and avoids LogSoftmax (missing from the stock wasm backend).
import * as tf from '@tensorflow/tfjs-core';

/**
 * One-hot rows as float32. Cast from int32 because the wasm backend's OneHot kernel ignores the
 * dtype argument (tfjs-backend-wasm 4.22 writes int32 data into a float32-labelled tensor).
 */
function oneHotFloat(targets: tf.Tensor1D, V: number): tf.Tensor2D {
  return tf.cast(tf.oneHot(targets, V), 'float32') as tf.Tensor2D;
}

/** Log-probabilities of the targets: logits [M, V], targets int32 [M] -> [M]. */
export function targetLogProbs(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const V = logits.shape[1]; // classes
  const logp = tf.sub(logits, tf.logSumExp(logits, 1, true)); // [M, V]
  return tf.sum(tf.mul(logp, oneHotFloat(targets, V)), 1); // [M]
}

/** Mean cross-entropy (nats per target): logits [M, V], targets int32 [M] -> scalar. */
export function crossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Scalar {
  const [M, V] = logits.shape; // targets, classes
  const onehot = oneHotFloat(targets, V); // [M, V]
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const logp = tf.sub(x, tf.logSumExp(x, 1, true)); // [M, V]
    save([logp, onehot]); // onehot too: it is not a recorded input, so it would be freed before backprop
    const value = tf.div(tf.neg(tf.sum(tf.mul(logp, onehot))), M) as tf.Scalar;
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(tf.sub(tf.exp(saved[0]), saved[1]), tf.div(dy, M));
    return { value, gradFunc };
  });
  return f(logits) as tf.Scalar;
}
