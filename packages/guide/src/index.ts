// @dalle/guide: CLIP-guided generation over dVAE latents (public API; explicit named exports only).
export { GUIDE_DEFAULTS, MAX_IMAGES, resolveGuideConfig, temperatureAt, type GuideConfig } from './config.ts';
export { drawCutouts, fullView, resampleMatrix, applyCutouts, type Cutout, type CutoutSettings } from './cutouts.ts';
export { clipEmbedder, type ClipEmbedder, type SoftDecoder } from './types.ts';
export { clipGuide, type GuideOptions, type GuideResult, type GuideFrame, type StepInfo } from './guide.ts';
export { codesOfPixels, codesOfImageFile } from './init-image.ts';
export { loadGuideModels, DEFAULT_WEIGHTS_DIR, type GuideModels } from './models.ts';
export {
  checkOutputFolder,
  writeOutputFolder,
  writeResults,
  writeFrame,
  rankByScore,
  promptSlug,
  imageFileName,
  frameFileName,
  FRAMES_DIR,
} from './output-folder.ts';
