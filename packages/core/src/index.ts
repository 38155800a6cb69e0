// @dalle/core: backend choice, weights I/O, the AdamW optimizer, image I/O, RNG, progress and CLI helpers.
export { selectBackend, wasmThreadsFromEnv, currentBackend, parseBackendName, BACKEND_NAMES, type BackendName, type BackendInfo } from './backend.ts';
export { registerWasmKernels, WASM_PATCHED_KERNELS } from './wasm-kernels.ts';
export { useThreadedWasm, wasmThreadsCount } from './wasm/threads.ts';
export { UsageError, check } from './errors.ts';
export { ensureGradients } from './gradients.ts';
export { writeFileAtomic, writeDirAtomic } from './fs-atomic.ts';
export { sha256, sha256File, fnv1a32 } from './hash.ts';
export { Rng, type RngState } from './rng.ts';
export { float32ToFloat16Bits, float16BitsToFloat32, toFloat16Array, fromFloat16Array } from './float16.ts';
export { encodeSafetensors, decodeSafetensors, readSafetensors, writeSafetensors, type TensorData, type NamedTensors, type StorageDtype, type DecodedSafetensors } from './safetensors.ts';
export {
  CONFIG_FILE,
  WEIGHTS_FILE,
  tensorToData,
  tensorsToData,
  dataToTensor,
  checkTensorSet,
  assignVariables,
  saveModelDir,
  loadModelDir,
  readModelConfig,
  type ModelConfigFile,
  type SaveModelOptions,
} from './weights.ts';
export { AdamW, ADAM_DEFAULTS, decaysMatrices, type AdamWConfig, type AdamWState, type DecayPredicate } from './adamw.ts';
export { loadImageRgb, imagesToTensor, floatsToRgbBytes, encodePng, tensorToPngs, contactSheet, writePng, type FitMode, type LoadImageOptions } from './image-io.ts';
export { Progress, formatDuration, formatMetrics, type ProgressOptions } from './progress.ts';
export { createCommand, setupBackend, parseIntOption, parseFloatOption, runCli, interruptOnSigint, type CommonOptions } from './cli.ts';
export { promptSlug, imageFileName } from './output-names.ts';
export { yieldToEventLoop } from './event-loop.ts';
