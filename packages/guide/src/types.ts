// The narrow contracts guided generation needs from its two models: a dVAE that can also decode
// code distributions differentiably, and a CLIP whose embeddings are differentiable. Dvae and
// ClipModel satisfy them (the latter through clipEmbedder); tests may pass anything else that does.
import type * as tf from '@tensorflow/tfjs-core';
import { embedImages, embedTexts, type ClipModel } from '@dalle/clip';
import type { ImageTokenizer } from '@dalle/dvae';

export interface SoftDecoder extends ImageTokenizer {
  /** [B, G*G, K] code probabilities (rows sum to 1) -> [B, H, W, 3] in [0, 1], differentiable. */
  decodeSoft(codeDist: tf.Tensor3D): tf.Tensor4D;
}

export interface ClipEmbedder {
  /** Side of the square images the image tower takes. */
  readonly imageSize: number;
  /** Text length in tokens; ids are padded with padId / truncated to it. */
  readonly textSeqLen: number;
  readonly textVocabSize: number;
  readonly padId: number;
  /** L2-normalised embeddings [B, D] of images [B, imageSize, imageSize, 3] in [0, 1]; differentiable. */
  embedImages(images: tf.Tensor4D): tf.Tensor2D;
  /** L2-normalised embeddings [B, D] of int32 ids [B, textSeqLen]. */
  embedTexts(ids: tf.Tensor2D): tf.Tensor2D;
}

/** Our CLIP seen through the ClipEmbedder contract. */
export function clipEmbedder(model: ClipModel): ClipEmbedder {
  const c = model.config;
  return {
    imageSize: c.imageSize,
    textSeqLen: c.textSeqLen,
    textVocabSize: c.textVocabSize,
    padId: c.padId,
    embedImages: (images) => embedImages(model, images),
    embedTexts: (ids) => embedTexts(model, ids),
  };
}
