// The text-then-image token layout (DALL-E, Ramesh et al. 2021, sec. 2.2): the one place that
// knows the stream id offsets, the per-position text pad tokens and which ids each position may predict.
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '@dalle/core';
import type { DropoutPlan } from './dropout.ts';

/**
 * Stream ids (the model's single vocabulary) are laid out as
 *   [0, textVocabSize)                                   text ids from the tokenizer
 *   [textVocabSize, textVocabSize + numTextPadTokens)    "pad_i": the pad id seen at text position i
 *   [imageTokenOffset, imageTokenOffset + imageVocabSize) image codes
 * A caption shorter than textSeqLen is padded with textPadId; at position i the pad becomes
 * pad_i, so the model always knows where the caption ended (as DALL-E does).
 */
export interface TokenLayout {
  /** Text tokens per caption (T). */
  textSeqLen: number;
  /** Size of the tokenizer's vocabulary, pad id included. */
  textVocabSize: number;
  /** Image tokens per image (N = gridSize^2). */
  imageSeqLen: number;
  /** Codebook size of the dVAE (K). */
  imageVocabSize: number;
  /** Distinct pad tokens, one per text position (always textSeqLen); a field of its own so textVocabSize keeps its meaning. */
  numTextPadTokens: number;
  /** The tokenizer's pad id (0, "[PAD]"), remapped to pad_i at text position i. */
  textPadId: number;
}

export function makeLayout(fields: Omit<TokenLayout, 'numTextPadTokens'>): TokenLayout {
  return { ...fields, numTextPadTokens: fields.textSeqLen };
}

/** First stream id of the text part's pad tokens. */
export function textPadTokenOffset(layout: TokenLayout): number {
  return layout.textVocabSize;
}

/** Number of stream ids a text position may predict (text ids and the pad tokens). */
export function textStreamVocabSize(layout: TokenLayout): number {
  return layout.textVocabSize + layout.numTextPadTokens;
}

/** First stream id of the image codes. */
export function imageTokenOffset(layout: TokenLayout): number {
  return textStreamVocabSize(layout);
}

/** Size of the whole stream vocabulary. */
export function streamVocabSize(layout: TokenLayout): number {
  return imageTokenOffset(layout) + layout.imageVocabSize;
}

/** Length of the predicted stream: T text tokens then N image tokens. */
export function streamLength(layout: TokenLayout): number {
  return layout.textSeqLen + layout.imageSeqLen;
}

/** Stream id of one text token at position `pos`. */
export function textToStreamId(layout: TokenLayout, id: number, pos: number): number {
  return id === layout.textPadId ? textPadTokenOffset(layout) + pos : id;
}

/** Stream id of one image code. */
export function imageToStreamId(layout: TokenLayout, code: number): number {
  return imageTokenOffset(layout) + code;
}

function checkIds(what: string, ids: ArrayLike<number>, count: number, lo: number, hi: number): void {
  if (ids.length !== count) throw new UsageError(`${what}: expected ${count} ids per item, got ${ids.length}`);
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i];
    if (!Number.isInteger(v) || v < lo || v >= hi) throw new UsageError(`${what}: id ${v} at index ${i} is outside [${lo}, ${hi})`);
  }
}

/**
 * Converts a batch of captions and codes ([B*T] text ids, [B*N] codes, row-major) into stream ids
 * [B*(T+N)]: pads become pad_i and codes are shifted past the text part.
 */
export function toStreamIds(layout: TokenLayout, textIds: ArrayLike<number>, imageIds: ArrayLike<number>, batchSize = 1): Int32Array {
  const T = layout.textSeqLen;
  const N = layout.imageSeqLen;
  checkIds('text ids', textIds, batchSize * T, 0, layout.textVocabSize);
  checkIds('image codes', imageIds, batchSize * N, 0, layout.imageVocabSize);
  const out = new Int32Array(batchSize * (T + N));
  for (let b = 0; b < batchSize; b++) {
    for (let t = 0; t < T; t++) out[b * (T + N) + t] = textToStreamId(layout, textIds[b * T + t], t);
    for (let n = 0; n < N; n++) out[b * (T + N) + T + n] = imageToStreamId(layout, imageIds[b * N + n]);
  }
  return out;
}

/** The inverse of toStreamIds: pad_i back to textPadId, image ids back to codes in [0, K). */
export function splitStream(layout: TokenLayout, streamIds: ArrayLike<number>, batchSize = 1): { textIds: Int32Array; imageIds: Int32Array } {
  const T = layout.textSeqLen;
  const N = layout.imageSeqLen;
  if (streamIds.length !== batchSize * (T + N)) throw new UsageError(`stream ids: expected ${batchSize * (T + N)} ids, got ${streamIds.length}`);
  const textIds = new Int32Array(batchSize * T);
  const imageIds = new Int32Array(batchSize * N);
  const padLo = textPadTokenOffset(layout);
  const imgLo = imageTokenOffset(layout);
  for (let b = 0; b < batchSize; b++) {
    for (let t = 0; t < T; t++) {
      const s = streamIds[b * (T + N) + t];
      if (s < 0 || s >= imgLo) throw new UsageError(`stream id ${s} at text position ${t} is not a text token`);
      textIds[b * T + t] = s >= padLo ? layout.textPadId : s;
    }
    for (let n = 0; n < N; n++) {
      const s = streamIds[b * (T + N) + T + n];
      if (s < imgLo || s >= streamVocabSize(layout)) throw new UsageError(`stream id ${s} at image position ${n} is not an image token`);
      imageIds[b * N + n] = s - imgLo;
    }
  }
  return { textIds, imageIds };
}

/**
 * The stream ids that output position `pos` (predicting stream token `pos`) may emit:
 * [lo, hi). Text positions predict text ids or pad tokens, image positions image codes.
 */
export function logitRange(layout: TokenLayout, pos: number): [number, number] {
  return pos < layout.textSeqLen ? [0, textStreamVocabSize(layout)] : [imageTokenOffset(layout), streamVocabSize(layout)];
}

/** Additive value for a forbidden logit: large enough to vanish in softmax, finite so no NaN appears. */
export const MASKED_LOGIT = -1e9;

const maskCache = new Map<string, tf.Tensor2D>();

/**
 * The logits mask [T+N, streamVocabSize]: 0 where `logitRange` allows the id, MASKED_LOGIT elsewhere.
 * Built once per layout and kept for the life of the process (not a leak: one tensor per layout).
 */
export function logitsMask(layout: TokenLayout): tf.Tensor2D {
  const key = JSON.stringify(layout);
  let mask = maskCache.get(key);
  if (!mask) {
    const L = streamLength(layout);
    const V = streamVocabSize(layout);
    const data = new Float32Array(L * V).fill(MASKED_LOGIT);
    for (let p = 0; p < L; p++) {
      const [lo, hi] = logitRange(layout, p);
      data.fill(0, p * V + lo, p * V + hi);
    }
    mask = tf.keep(tf.tensor2d(data, [L, V]));
    maskCache.set(key, mask);
  }
  return mask;
}

/** Input id of the learned start token that position 0 holds: one past the stream vocabulary. */
export function startTokenId(layout: TokenLayout): number {
  return streamVocabSize(layout);
}

/** Rows of the input embedding table: every stream id plus the start token. */
export function inputVocabSize(layout: TokenLayout): number {
  return streamVocabSize(layout) + 1;
}

/**
 * What the model reads and predicts for a batch of B captions and images.
 * inputIds [B*(T+N)]: the start token then stream tokens 0..T+N-2 (the last image token is only a target).
 * textTargets [B*T]: stream ids of the text (indices into the text head, [0, textStreamVocabSize)).
 * imageTargets [B*N]: the codes themselves (indices into the image head, [0, K)).
 */
export interface ModelBatch {
  batchSize: number;
  inputIds: Int32Array;
  textTargets: Int32Array;
  imageTargets: Int32Array;
  /** Training-time residual dropout for these sequences (dropout.ts); absent: none. */
  dropout?: DropoutPlan;
}

export function modelBatch(layout: TokenLayout, textIds: ArrayLike<number>, imageIds: ArrayLike<number>, batchSize: number): ModelBatch {
  const T = layout.textSeqLen;
  const L = streamLength(layout);
  const stream = toStreamIds(layout, textIds, imageIds, batchSize);
  const inputIds = new Int32Array(batchSize * L);
  const textTargets = new Int32Array(batchSize * T);
  for (let b = 0; b < batchSize; b++) {
    inputIds[b * L] = startTokenId(layout);
    inputIds.set(stream.subarray(b * L, b * L + L - 1), b * L + 1);
    textTargets.set(stream.subarray(b * L, b * L + T), b * T);
  }
  return { batchSize, inputIds, textTargets, imageTargets: Int32Array.from(imageIds) };
}
