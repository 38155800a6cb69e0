// @dalle/transformer: public API (explicit named exports only).
//
// A decoder-only, pre-LayerNorm transformer over one stream: T text tokens then G x G image codes
// (DALL-E). Layout decisions (see layout.ts and transformer.ts):
// - position 0 holds a learned start token and predicts text token 0; position t holds text token
//   t-1, so the last text position (T) predicts image token 0, and image token j sits at T+1+j;
// - a pad at text position i is its own token pad_i (TokenLayout.numTextPadTokens = T);
// - text positions can only emit text ids / pad tokens, image positions only image codes
//   (logitsMask; training uses one head per part, which is the same distribution);
// - loss = textLossWeight * text + (1 - textLossWeight) * image; caption dropout trains on the
//   empty (all-pad) caption, which is what classifier-free guidance feeds as the unconditional row.
export {
  ATTENTION_PATTERNS,
  TRANSFORMER_DEFAULTS,
  TRANSFORMER_PRESETS,
  defaultAttentionPatterns,
  headDim,
  imageSeqLen,
  mlpHidden,
  parseAttentionPatterns,
  resolveTransformerConfig,
  sequenceLength,
  transformerLayout,
  transformerPreset,
  type AttentionPattern,
  type TransformerConfig,
  type TransformerPresetName,
} from './config.ts';
export {
  MASKED_LOGIT,
  imageToStreamId,
  imageTokenOffset,
  inputVocabSize,
  logitRange,
  logitsMask,
  makeLayout,
  modelBatch,
  splitStream,
  startTokenId,
  streamLength,
  streamVocabSize,
  textPadTokenOffset,
  textStreamVocabSize,
  textToStreamId,
  toStreamIds,
  type ModelBatch,
  type TokenLayout,
} from './layout.ts';
export { attentionMask, isVisible } from './attention-mask.ts';
export { layerNorm, type LayerNormParams } from './layer-norm.ts';
export { cacheTensors, cachedSelfAttention, causalSelfAttention, dense, type AttentionParams, type DenseParams, type KeyValue } from './attention.ts';
export { gelu, mlp, type MlpParams } from './mlp.ts';
export { transformerBlock, type BlockParams } from './block.ts';
export { dropoutMasks, dropoutSites, type DropoutPlan } from './dropout.ts';
export { crossEntropy, targetLogProbs } from './loss.ts';
export { codeCooccurrence, remapImageParams, type CodeCooccurrence } from './remap.ts';
export { blockParams, countParams, disposeParams, INIT_STD, initTransformerParams, paramSpecs, reinitImageParams, type TransformerParamKey, type TransformerParams } from './params.ts';
export {
  batchFromTensors,
  createTransformer,
  disposeTransformer,
  forward,
  hiddenStates,
  imageHead,
  imageLogLikelihood,
  textHead,
  transformerLoss,
  type LossParts,
  type TransformerModel,
} from './transformer.ts';
/**
 * Incremental decoding for samplers: `createDecoder(model, B)`, then `prefill(textIds int32 [B, T])`
 * -> logits [B, K] for image token 0, then `step(codes int32 [B])` (code i in [0, K)) -> logits
 * [B, K] for image token i + 1, at most N - 1 times; `dispose()` at the end. Callers dispose
 * returned logits. Empty caption for classifier-free guidance: all textPadId.
 */
export { createDecoder, type TransformerDecoder } from './decoder.ts';
export { GradientWorkers, MAX_TRAIN_WORKERS, splitBatch, type ShardResult } from './data-parallel.ts';
export { TRANSFORMER_FORMAT_VERSION, TRANSFORMER_KIND, loadTransformer, saveTransformer } from './persistence.ts';
// The optimizer moved to @dalle/core; the old names stay for callers of this package.
export { AdamW, type AdamWConfig } from '@dalle/core';
export { TRAIN_DEFAULTS, decays, learningRateAt, resolveTrainConfig, type TrainConfig } from './train-config.ts';
export { checkDatasetFits, concatSources, tokensPerSequence, type BatchOrder, type CreateOrder, type OrderState, type TokenBatchSource, type TokenDatasetIdentity } from './dataset.ts';
export { conditionalGain, evaluateLoss, type ConditionalGain, type EvalLosses, type EvalOptions } from './evaluate.ts';
export { FOCUS_FILE, FOCUS_FLOOR, FOCUS_RECORDS_PER_GROUP, focusWeights, groupLosses, parseGroupFocus, type GroupFocus } from './focus.ts';
export {
  CHECKPOINTS_DIR,
  LOG_FILE,
  NonFiniteLossError,
  TransformerTrainer,
  checkpointDir,
  latestCheckpoint,
  loadCheckpoint,
  trainTransformer,
  type LoadedCheckpoint,
  type StepStats,
  type TrainOptions,
  type TrainResult,
  type TrainerState,
} from './trainer.ts';
export { RUN_LOCK_FILE, createEpochOrder, runTraining, type TrainRunOptions, type TrainRunResult } from './train-run.ts';
