// CLIP's contrastive objective (Radford et al. 2021, Figure 3): scaled cosine similarities of every
// image with every text in the batch, and a symmetric cross-entropy whose targets are the diagonal.
import * as tf from '@tensorflow/tfjs-core';

/** exp(logLogitScale) clamped at maxLogitScale (the clamp keeps the temperature from running away). */
export function logitScaleValue(logLogitScale: tf.Scalar, maxLogitScale: number): tf.Scalar {
  return tf.exp(tf.minimum(logLogitScale, Math.log(maxLogitScale))) as tf.Scalar;
}

/** [B_img, B_txt] scaled similarities of L2-normalised embeddings. */
export function similarityLogits(imageEmbeds: tf.Tensor2D, textEmbeds: tf.Tensor2D, scale: tf.Scalar | number): tf.Tensor2D {
  return tf.mul(tf.matMul(imageEmbeds, textEmbeds, false, true), scale);
}

/**
 * Mean of the image->text and text->image cross-entropies over a square logits matrix whose
 * matching pairs lie on the diagonal. Written with logSumExp (no LogSoftmax kernel needed).
 */
export function contrastiveLoss(logits: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [B, B2] = logits.shape;
    if (B !== B2) throw new Error(`contrastive loss needs a square logits matrix, got [${logits.shape}]`);
    const diag = tf.sum(tf.mul(logits, tf.eye(B)), 1); // [B] logits of the matching pairs
    const imageToText = tf.mean(tf.sub(tf.logSumExp(logits, 1), diag)); // rows: each image over all texts
    const textToImage = tf.mean(tf.sub(tf.logSumExp(logits, 0), diag)); // columns: each text over all images
    return tf.div(tf.add(imageToText, textToImage), 2) as tf.Scalar;
  });
}

/** Fraction of rows and columns whose largest logit is the diagonal one (mean of both directions). */
export async function inBatchAccuracy(logits: tf.Tensor2D): Promise<number> {
  const [B] = logits.shape;
  const values = (await logits.data()) as Float32Array;
  let hits = 0;
  for (let i = 0; i < B; i++) {
    let bestRow = 0;
    let bestCol = 0;
    for (let j = 1; j < B; j++) {
      if (values[i * B + j] > values[i * B + bestRow]) bestRow = j;
      if (values[j * B + i] > values[bestCol * B + i]) bestCol = j;
    }
    if (bestRow === i) hits++;
    if (bestCol === i) hits++;
  }
  return hits / (2 * B);
}
