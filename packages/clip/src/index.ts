// @dalle/clip: public API (explicit named exports only).
export { CLIP_DEFAULTS, CLIP_PRESETS, CLIP_PRESET_NAMES, clipPreset, resolveClipConfig, numPatches, patchDim, patchGridSize, type ClipConfig, type ClipPresetName } from './config.ts';
export { initClipParams, flattenParams, unflattenParams, countParams, type ClipParams, type TextTowerParams, type VisionTowerParams, type BlockParams, type LinearParams, type LayerNormParams } from './params.ts';
export { layerNorm, linear3d, quickGelu, selfAttention, block, causalMaskBias, l2Normalize, MASKED } from './layers.ts';
export { textTower, visionTower, patchify } from './towers.ts';
export { contrastiveLoss, similarityLogits, logitScaleValue, inBatchAccuracy } from './loss.ts';
export { ClipModel, embedTexts, embedImages, clipLogits, logitScale, saveClip, loadClip, CLIP_KIND, CLIP_FORMAT_VERSION } from './model.ts';
// The optimizer moved to @dalle/core; the old names stay for callers of this package.
export { AdamW, type AdamWConfig, type AdamWState } from '@dalle/core';
export { ADAMW_DEFAULTS, clipGradients, clipTrainStep, learningRateAt, type StepResult } from './trainer.ts';
export { exportTransformersJs, transformersConfig, preprocessorConfig, TOKENIZER_FILES, ONNX_FILES } from './export.ts';
export { textModelOnnx, visionModelOnnx } from './onnx/clip-onnx.ts';
export { ClipScorer, loadClipScorer, DEFAULT_LOGIT_SCALE, type Reranker, type ClipScorerOptions, type HwcImage } from './clip-scorer.ts';
export { listImages, parseLabels, classifyImages, searchImages, type LabelProbability, type SearchHit } from './image-search.ts';
export { trainClipRun, latestCheckpoint, shiftImageInto, type ClipTrainOptions, type ClipTrainResult } from './train-run.ts';
