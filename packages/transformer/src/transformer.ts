// The decoder-only text-to-image transformer (DALL-E, Ramesh et al. 2021): embeddings, a stack of
// pre-LN blocks with per-layer attention patterns, and text / image output heads.
//
// Sequence: position 0 holds a learned start token and predicts text token 0; position t (1..T)
// holds text token t-1; position T therefore predicts image token 0 from the whole caption, and
// position T+1+j holds image token j and predicts image token j+1. Output position p predicts
// stream token p, so the input is the stream shifted right by one behind the start token.
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '@dalle/core';
import { attentionMask } from './attention-mask.ts';
import { dropoutMasks, dropoutSites, type DropoutPlan } from './dropout.ts';
import type { KeyValue } from './attention.ts';
import { transformerBlock } from './block.ts';
import { imageSeqLen, sequenceLength, transformerLayout, type TransformerConfig } from './config.ts';
import { layerNorm } from './layer-norm.ts';
import { logitsMask, modelBatch, type ModelBatch } from './layout.ts';
import { crossEntropy, targetLogProbs } from './loss.ts';
import { blockParams, disposeParams, initTransformerParams, type TransformerParams } from './params.ts';

/** A model: its config and weights, plus free-form facts saved beside them (e.g. dvaeId, tokenizerId). */
export interface TransformerModel {
  config: TransformerConfig;
  params: TransformerParams;
  info: Record<string, unknown>;
}

/** A model with fresh weights from `seed` (null: zeros where the init is random, before a load). */
export function createTransformer(cfg: TransformerConfig, seed: number | null = 0): TransformerModel {
  return { config: cfg, params: initTransformerParams(cfg, seed), info: {} };
}

export function disposeTransformer(model: TransformerModel): void {
  disposeParams(model.params);
}

/** Position embeddings for all L input positions: text positions, then row + column of image tokens 0..N-2. */
function positionTable(params: TransformerParams, cfg: TransformerConfig): tf.Tensor2D {
  const C = cfg.dModel;
  const G = cfg.gridSize;
  const N = imageSeqLen(cfg);
  const grid = tf.add(tf.reshape(params['pos.row'], [G, 1, C]), tf.reshape(params['pos.col'], [1, G, C])); // [G, G, C]
  const image = tf.slice(tf.reshape(grid, [N, C]), [0, 0], [N - 1, C]); // [N-1, C]: the last image token is never an input
  return tf.concat([params['pos.text'], image], 0) as tf.Tensor2D; // [L, C]
}

/**
 * Runs S input positions starting at position P through the blocks.
 * inputIds: int32 [B, S] input ids (see layout.ts modelBatch); caches: each block's keys and values of
 * positions 0..P-1 (undefined when P = 0); dropout: training-time residual dropout (one seed per
 * sequence, see dropout.ts; none when undefined or its rate is 0). Returns the final-LayerNorm
 * hidden states [B, S, C] and every block's cache for positions 0..P+S-1.
 */
export function hiddenStates(params: TransformerParams, cfg: TransformerConfig, inputIds: tf.Tensor2D, P = 0, caches?: KeyValue[], dropout?: DropoutPlan): { h: tf.Tensor3D; present: KeyValue[] } {
  const [B, S] = inputIds.shape; // batch, new positions
  const C = cfg.dModel;
  const L = sequenceLength(cfg);
  if (P + S > L) throw new UsageError(`positions ${P}..${P + S - 1} run past the sequence length ${L}`);
  if (dropout && dropout.seeds.length !== B) throw new UsageError(`dropout: expected ${B} seeds (one per sequence), got ${dropout.seeds.length}`);
  const drop = dropout && dropout.rate > 0 ? dropoutMasks(dropout, dropoutSites(cfg.numLayers), S, C).map((m) => tf.tensor3d(m, [B, S, C])) : undefined; // [B, S, C] each
  const tokens = tf.reshape(tf.gather(params['embed.tokens'], tf.reshape(inputIds, [B * S])), [B, S, C]); // [B, S, C]
  const pos = tf.slice(positionTable(params, cfg), [P, 0], [S, C]); // [S, C]
  let x = tf.add(tokens, pos) as tf.Tensor3D; // [B, S, C]
  if (drop) x = tf.mul(x, drop[0]);
  const present: KeyValue[] = [];
  for (let i = 0; i < cfg.numLayers; i++) {
    const fullMask = attentionMask(cfg, cfg.attentionPatterns[i]); // [L, L], built once
    const mask = P === 0 && S === L ? fullMask : tf.slice(fullMask, [P, 0], [S, P + S]); // [S, P+S]
    const out = transformerBlock(x, blockParams(params, i), cfg.numHeads, mask, caches?.[i], drop && { attn: drop[1 + 2 * i], mlp: drop[2 + 2 * i] });
    x = out.y;
    present.push(out.present);
  }
  const lnFinal = { gamma: params['lnFinal.gamma'] as tf.Tensor1D, beta: params['lnFinal.beta'] as tf.Tensor1D };
  return { h: layerNorm(x, lnFinal), present };
}

/** Text-head logits: h [M, C] -> [M, textVocabSize + numTextPadTokens]. */
export function textHead(params: TransformerParams, h: tf.Tensor2D): tf.Tensor2D {
  return tf.add(tf.matMul(h, params['head.text.kernel']), params['head.text.bias']);
}

/** Image-head logits: h [M, C] -> [M, K]. */
export function imageHead(params: TransformerParams, h: tf.Tensor2D): tf.Tensor2D {
  return tf.add(tf.matMul(h, params['head.image.kernel']), params['head.image.bias']);
}

function readIds(t: tf.Tensor, shape: number[], what: string): Int32Array {
  if (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw new UsageError(`${what}: expected shape [${shape}], got [${t.shape}]`);
  if (t.dtype !== 'int32') throw new UsageError(`${what}: expected int32 ids, got ${t.dtype}`);
  return t.dataSync() as Int32Array;
}

/** Checks id tensors and turns them into the model's inputs and targets. */
export function batchFromTensors(cfg: TransformerConfig, textIds: tf.Tensor2D, imageIds: tf.Tensor2D): ModelBatch {
  const B = textIds.shape[0];
  const text = readIds(textIds, [B, cfg.textSeqLen], 'text ids');
  const image = readIds(imageIds, [B, imageSeqLen(cfg)], 'image codes');
  return modelBatch(transformerLayout(cfg), text, image, B);
}

/**
 * Logits over the whole stream vocabulary for every position, with the logits mask applied
 * (text positions can only emit text ids or pad tokens, image positions only image codes).
 * textIds: int32 [B, T] padded with textPadId; imageIds: int32 [B, N] codes in [0, K).
 * Returns [B, T+N, streamVocabSize]; position p scores stream token p.
 */
export function forward(params: TransformerParams, cfg: TransformerConfig, textIds: tf.Tensor2D, imageIds: tf.Tensor2D): tf.Tensor3D {
  const batch = batchFromTensors(cfg, textIds, imageIds);
  return tf.tidy(() => {
    const B = batch.batchSize;
    const L = sequenceLength(cfg);
    const { h } = hiddenStates(params, cfg, tf.tensor2d(batch.inputIds, [B, L], 'int32'));
    const h2 = tf.reshape(h, [B * L, cfg.dModel]) as tf.Tensor2D; // [B*L, C]
    const logits = tf.concat([textHead(params, h2), imageHead(params, h2)], 1); // [B*L, V]: text ids, pad tokens, image codes
    return tf.add(tf.reshape(logits, [B, L, -1]), logitsMask(transformerLayout(cfg))) as tf.Tensor3D; // [B, L, V]
  });
}

/** The text and image parts of the hidden states, flattened for the heads. */
function splitHidden(cfg: TransformerConfig, h: tf.Tensor3D): { text: tf.Tensor2D; image: tf.Tensor2D } {
  const [B, , C] = h.shape; // batch, positions, channels
  const T = cfg.textSeqLen;
  const N = imageSeqLen(cfg);
  return {
    text: tf.reshape(tf.slice(h, [0, 0, 0], [B, T, C]), [B * T, C]) as tf.Tensor2D, // [B*T, C]
    image: tf.reshape(tf.slice(h, [0, T, 0], [B, N, C]), [B * N, C]) as tf.Tensor2D, // [B*N, C]
  };
}

export interface LossParts {
  /** textLossWeight * text + (1 - textLossWeight) * image. */
  loss: tf.Scalar;
  /** Mean cross-entropy per text token (pad tokens included), nats. */
  text: tf.Scalar;
  /** Mean cross-entropy per image token, nats. */
  image: tf.Scalar;
}

/**
 * The training loss. Each head only scores the ids its positions may emit, which equals
 * cross-entropy under the masked logits of forward() (masked ids get probability 0) at a
 * fraction of the cost. The batch's dropout plan, if any, applies. Not tidied: callers run it
 * under tf.variableGrads or tf.tidy.
 */
export function transformerLoss(params: TransformerParams, cfg: TransformerConfig, batch: ModelBatch): LossParts {
  const B = batch.batchSize;
  const { h } = hiddenStates(params, cfg, tf.tensor2d(batch.inputIds, [B, sequenceLength(cfg)], 'int32'), 0, undefined, batch.dropout);
  const parts = splitHidden(cfg, h);
  const text = crossEntropy(textHead(params, parts.text), tf.tensor1d(batch.textTargets, 'int32'));
  const image = crossEntropy(imageHead(params, parts.image), tf.tensor1d(batch.imageTargets, 'int32'));
  const loss = tf.add(tf.mul(text, cfg.textLossWeight), tf.mul(image, 1 - cfg.textLossWeight)) as tf.Scalar;
  return { loss, text, image };
}

/**
 * Per-item mean log-probability of the image tokens given the caption (nats per token, <= 0):
 * textIds int32 [B, T], imageIds int32 [B, N] -> [B]. The sampler's self-score.
 */
export function imageLogLikelihood(model: TransformerModel, textIds: tf.Tensor2D, imageIds: tf.Tensor2D): tf.Tensor1D {
  const cfg = model.config;
  const batch = batchFromTensors(cfg, textIds, imageIds);
  return tf.tidy(() => {
    const B = batch.batchSize;
    const { h } = hiddenStates(model.params, cfg, tf.tensor2d(batch.inputIds, [B, sequenceLength(cfg)], 'int32'));
    const logp = targetLogProbs(imageHead(model.params, splitHidden(cfg, h).image), tf.tensor1d(batch.imageTargets, 'int32')); // [B*N]
    return tf.mean(tf.reshape(logp, [B, imageSeqLen(cfg)]), 1) as tf.Tensor1D; // [B]
  });
}
