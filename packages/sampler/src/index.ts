// @dalle/sampler: public API (explicit named exports only).
export {
  SAMPLER_DEFAULTS,
  MAX_IMAGES,
  MODEL_SAMPLING_KEYS,
  resolveSamplerConfig,
  parseModelSampling,
  isGuided,
  candidateSeed,
  type SamplerConfig,
  type SamplerLimits,
  type ModelSampling,
} from './config.ts';
export {
  guideLogits,
  applyTemperature,
  argsortDescending,
  topKFilter,
  topPFilter,
  softmax,
  logProbOf,
  sampleCategorical,
  samplingDistribution,
  entropy,
  type Logits,
  type SamplingFilters,
} from './filters.ts';
export { transformerPrior } from './transformer-prior.ts';
export { loadPipeline, tokenizerPromptEncoder, type LoadPipelineOptions } from './pipeline.ts';
export { sampleImageBatch, type SampleBatchOptions, type SampledBatch } from './sample.ts';
export { promptSlug, imageFileName, checkOutputFolder, resultsJson, writeOutputFolder } from './output-folder.ts';
export { rankCandidates, scoreImages } from './rerank.ts';
export { clipScorerAdapter } from './clip-adapter.ts';
export { DEFAULT_WEIGHTS_DIR, MANIFEST_FILE, PART_DIRS, readWeightsManifest, checkPartsAgree, type WeightsManifest, type PartFacts } from './weights-folder.ts';
export type { TokenDecoder, ImagePrior, ImageTokenizer, Reranker, PromptEncoder } from './types.ts';
export {
  generate,
  pipelineFromParts,
  resolvePrimeRows,
  type Pipeline,
  type PrimeOptions,
  type GenerateOptions,
  type GenerateResult,
  type GeneratedImage,
  type CandidateInfo,
  type PhaseTimings,
} from './generate.ts';
export {
  recallAtK,
  retrievalRecall,
  meanRecall,
  consecutiveGroups,
  transposeMatrix,
  rPrecision,
  histogramPerplexity,
  psnrFromMse,
  conditionalGainOf,
  type SimilarityMatrix,
  type RecallAtK,
  type RetrievalRecall,
} from './eval/metrics.ts';
export { EVAL_PHASES, EVAL_DEFAULTS, DEFAULT_SHEET_PROMPTS, resolveEvalConfig, parseSkip, runsPhase, type EvalConfig, type EvalPhase } from './eval/eval-config.ts';
export { readHeldOut, encodeHeldOut, memoryTokenSource, shuffledCaptions, type HeldOutImages, type DvaeMetrics } from './eval/held-out.ts';
export {
  evaluateModel,
  SHEET_FILE,
  type EvaluateModelOptions,
  type EvalReport,
  type EvalResult,
  type TransformerMetrics,
  type ClipMetrics,
  type GenerationMetrics,
  type SheetInfo,
  type PhaseProgress,
  type ProgressFactory,
} from './eval/run-eval.ts';
export { checkEvalInputs, displayPath, needsHeldOutImages, DEFAULT_HELD_OUT, type EvalInputs } from './eval/eval-inputs.ts';
export { evalMarkdown, writeEvalFolder, checkEvalOutFolder, EVAL_JSON_FILE, EVAL_MD_FILE } from './eval/report.ts';
