// The narrow contracts the sampler composes (STYLE.md #9): an autoregressive image-code prior
// with a key/value-cache decoder, an image tokenizer (dVAE), a prompt encoder and a reranker.
// The adapters in pipeline.ts wrap the concrete packages behind these.
import type * as tf from '@tensorflow/tfjs-core';

/** An incremental decoder over one batch: the text once, then one image position per call. */
export interface TokenDecoder {
  /** Feeds text ids [B, textSeqLen] int32; returns the image-code logits [B, K] for image position 0. */
  prefill(textIds: tf.Tensor2D): tf.Tensor2D;
  /** Feeds the image codes [B] int32 chosen at the current position; returns logits [B, K] for the next. */
  step(imageIds: tf.Tensor1D): tf.Tensor2D;
  /** Frees the cache. */
  dispose(): void;
}

/** The text-then-image transformer as the sampler sees it. */
export interface ImagePrior {
  readonly textSeqLen: number;
  /** Image positions (gridSize^2). */
  readonly imageSeqLen: number;
  /** Image codebook size K. */
  readonly codebookSize: number;
  createDecoder(batchSize: number): TokenDecoder;
}

/** The dVAE as the sampler sees it: the contract @dalle/dvae defines and Dvae implements. */
export type { ImageTokenizer } from '@dalle/dvae';

/** Scores how well each image matches the prompt (higher is better), e.g. CLIP cosine similarity. */
export interface Reranker {
  score(prompt: string, images: tf.Tensor4D): Promise<number[]>;
  dispose?(): void | Promise<void>;
}

/** Prompt -> padded text ids. */
export interface PromptEncoder {
  readonly textSeqLen: number;
  readonly padId: number;
  /** ids padded with padId / truncated to textSeqLen. */
  encode(prompt: string): { ids: Int32Array; truncated: boolean };
}
