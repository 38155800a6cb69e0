// @dalle/dvae: the discrete VAE image tokenizer (public API; explicit named exports only).
export {
  DVAE_DEFAULTS,
  DVAE_PRESETS,
  DOWNSAMPLE_FACTORS,
  RECON_LOSSES,
  dvaePreset,
  resolveDvaeConfig,
  gridSize,
  imageSeqLen,
  numDownsamples,
  groupWidth,
  decoderGroupWidth,
  decoderResBlocks,
  sameEncoder,
  type DvaeConfig,
  type DvaePresetName,
  type ReconLoss,
} from './config.ts';
export { initDvaeParams, dvaeParamShapes, countParams, isEncoderKey, type DvaeParams } from './params.ts';
export { Dvae, type ImageTokenizer } from './dvae.ts';
export { saveDvae, loadDvae, dvaeIdentity, dvaeCodesId, encoderIdentity, checkDvaeConfigMatch, DVAE_KIND, DVAE_FORMAT_VERSION } from './io.ts';
export { gumbelSoftmax, type GumbelOptions } from './gumbel.ts';
export { reconstructionLoss, klToUniform, codePerplexity, psnr } from './loss.ts';
// The optimizer moved to @dalle/core; the old names stay for callers of this package.
export { AdamW as Adam, type AdamWConfig as AdamOptions } from '@dalle/core';
export {
  DVAE_TRAIN_DEFAULTS,
  DVAE_ADAM,
  resolveDvaeTrainConfig,
  learningRateAt,
  temperatureAt,
  klWeightAt,
  type DvaeTrainConfig,
} from './train-config.ts';
export { dvaeLoss, decoderLoss, trainableParams, trainStep, type StepSettings, type StepMetrics } from './train-step.ts';
export {
  trainDvae,
  evaluateDvae,
  reconstructionSheet,
  latestCheckpoint,
  batchTensor,
  psnrOf,
  type TrainImages,
  type TrainDvaeArgs,
  type TrainDvaeResult,
  type TrainerState,
  type DataCursor,
  type StepLog,
  type ValLog,
} from './trainer.ts';
export { loadImageArray, type LoadedImages } from './image-data.ts';
