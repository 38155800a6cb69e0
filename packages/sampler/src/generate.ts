// generate(): prompt -> text ids -> candidates sampled in batches -> dVAE decode -> rerank ->
// the best n, best first, with per-image CLIP score, self-score and seed, PNG bytes and the
// time spent in each phase. The pipeline (models) can be loaded once and reused across prompts.
import { encodePng, loadImageRgb, UsageError } from '@dalle/core';
import * as tf from '@tensorflow/tfjs-core';
import { candidateSeed, resolveSamplerConfig, type ModelSampling, type SamplerConfig } from './config.ts';
import { rankCandidates, scoreImages } from './rerank.ts';
import { sampleImageBatch } from './sample.ts';
import type { ImagePrior, ImageTokenizer, PromptEncoder, Reranker } from './types.ts';

/** Loaded models, ready for many prompts (see loadPipeline). */
export interface Pipeline {
  /** Where it was loaded from (a weights folder, or a description for injected parts). */
  readonly source: string;
  readonly prior: ImagePrior;
  readonly imageTokenizer: ImageTokenizer;
  readonly promptEncoder: PromptEncoder;
  /** null: rank by self-score only. */
  readonly reranker: Reranker | null;
  /** The reranker's name for results.json ('none' when null). */
  readonly rerankerName: string;
  /** Milliseconds spent loading. */
  readonly loadMs: number;
  /** Sampler settings the weights recommend for this model (manifest.json "sampling"); options override them. */
  readonly sampling?: ModelSampling;
  dispose(): Promise<void>;
}

export interface PrimeOptions {
  /** An image file, or HWC floats in [0, 1] of the dVAE's image size. */
  image: string | Float32Array;
  /** Grid rows of the image's codes to keep (1..gridSize); default half the grid. */
  rows?: number;
}

export interface GenerateOptions extends Partial<SamplerConfig> {
  /** Loaded models (loadPipeline); without one, generate loads `weights` and frees it afterwards. */
  pipeline?: Pipeline;
  /** Weights folder to load when no pipeline is given (default: the repository weights/). */
  weights?: string;
  /** Reranker when loading here: 'none', a CLIP folder / hub id, or a Reranker (see LoadPipelineOptions). */
  clip?: string | Reranker;
  allowRemote?: boolean;
  prime?: PrimeOptions;
  /** Called with (tokens done, tokens total) as image codes are produced. */
  onProgress?: (done: number, total: number) => void;
  /** Non-fatal notes for the user (e.g. a truncated prompt). */
  onWarning?: (message: string) => void;
}

export interface CandidateInfo {
  /** Index among the candidates (sampling order). */
  candidate: number;
  /** Sampling seed: `--seed <it> -n 1 --candidates 1` regenerates this image alone. */
  seed: number;
  /** Reranker score (e.g. CLIP cosine similarity); null without a reranker. */
  clipScore: number | null;
  /** Mean log-likelihood of the image codes under the transformer given the prompt. */
  selfScore: number;
}

export interface GeneratedImage extends CandidateInfo {
  /** 1 = best. */
  rank: number;
  /** Image codes, gridSize^2. */
  codes: Int32Array;
  /** HWC floats in [0, 1], imageSize x imageSize x 3. */
  pixels: Float32Array;
  png: Buffer;
}

export interface PhaseTimings {
  loadMs: number;
  primeMs: number;
  sampleMs: number;
  decodeMs: number;
  rerankMs: number;
  pngMs: number;
}

export interface GenerateResult {
  prompt: string;
  config: SamplerConfig;
  /** The prompt was longer than the text length and was cut. */
  truncated: boolean;
  textIds: number[];
  primeRows: number;
  imageSize: number;
  gridSize: number;
  reranker: string;
  backend: string;
  /** The best n, best first. */
  images: GeneratedImage[];
  /** Every candidate, in sampling order. */
  candidates: CandidateInfo[];
  timings: PhaseTimings;
}

/** The priming rows to keep (default half the grid); throws unless in [1, gridSize]. */
export function resolvePrimeRows(rows: number | undefined, gridSize: number): number {
  const r = rows ?? Math.max(1, Math.floor(gridSize / 2));
  if (!Number.isInteger(r) || r < 1 || r > gridSize) throw new UsageError(`primeRows must be an integer in [1, ${gridSize}] (the grid has ${gridSize} rows), got ${r}`);
  return r;
}

/** Codes of the first `rows` grid rows of the priming image. */
async function primeCodes(tok: ImageTokenizer, prime: PrimeOptions): Promise<{ codes: Int32Array; rows: number }> {
  const G = tok.gridSize;
  const rows = resolvePrimeRows(prime.rows, G);
  const size = tok.imageSize;
  let pixels: Float32Array;
  if (typeof prime.image === 'string') {
    try {
      pixels = await loadImageRgb(prime.image, size);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new UsageError(`cannot read the priming image ${prime.image}: ${(err as Error).message.split('\n')[0]}`);
    }
  } else {
    pixels = prime.image;
    if (pixels.length !== size * size * 3) throw new UsageError(`priming image has ${pixels.length} floats, expected ${size}x${size}x3 = ${size * size * 3}`);
  }
  const codesT = tf.tidy(() => tok.encode(tf.tensor4d(pixels, [1, size, size, 3])));
  try {
    const all = (await codesT.data()) as Int32Array;
    return { codes: Int32Array.from(all.subarray(0, rows * G)), rows };
  } finally {
    codesT.dispose();
  }
}

async function decodeCodes(tok: ImageTokenizer, codes: Int32Array, B: number): Promise<Float32Array[]> {
  const S = tok.gridSize * tok.gridSize;
  const imagesT = tf.tidy(() => tok.decode(tf.tensor2d(codes, [B, S], 'int32')));
  try {
    const [, H, W, C] = imagesT.shape;
    if (H !== tok.imageSize || W !== tok.imageSize || C !== 3) throw new Error(`dVAE decoded [${imagesT.shape}], expected [${B}, ${tok.imageSize}, ${tok.imageSize}, 3]`);
    const data = (await imagesT.data()) as Float32Array;
    const n = H * W * 3;
    return Array.from({ length: B }, (_, b) => Float32Array.from(data.subarray(b * n, (b + 1) * n)));
  } finally {
    imagesT.dispose();
  }
}

/**
 * Generates images for `prompt`: samples `numCandidates` candidates `batchSize` at a time,
 * decodes them, scores them with the pipeline's reranker, keeps the best `n`.
 */
export async function generate(prompt: string, options: GenerateOptions = {}): Promise<GenerateResult> {
  if (prompt.trim() === '') throw new UsageError('the prompt is empty: describe the image to generate, e.g. "a red heart"');
  if (options.pipeline) return generateWith(options.pipeline, prompt, options);
  resolveSamplerConfig(options); // fail fast, before loading
  const { loadPipeline } = await import('./pipeline.ts');
  const p = await loadPipeline(options.weights, { clip: options.clip, allowRemote: options.allowRemote });
  try {
    return await generateWith(p, prompt, options);
  } finally {
    await p.dispose();
  }
}

async function generateWith(p: Pipeline, prompt: string, options: GenerateOptions): Promise<GenerateResult> {
  const cfg = resolveSamplerConfig(options, { codebookSize: p.prior.codebookSize }, p.sampling);
  const timings: PhaseTimings = { loadMs: p.loadMs, primeMs: 0, sampleMs: 0, decodeMs: 0, rerankMs: 0, pngMs: 0 };
  const tok = p.imageTokenizer;
  const S = p.prior.imageSeqLen;

  const { ids, truncated } = p.promptEncoder.encode(prompt);
  if (truncated) options.onWarning?.(`the prompt is longer than the model's ${p.promptEncoder.textSeqLen} text tokens and was truncated`);

  let prime: Int32Array = new Int32Array(0);
  let primeRows = 0;
  if (options.prime) {
    const t0 = performance.now();
    const pc = await primeCodes(tok, options.prime);
    prime = pc.codes;
    primeRows = pc.rows;
    timings.primeMs = performance.now() - t0;
  }

  const total = cfg.numCandidates * S;
  let done = 0;
  const codes: Int32Array[] = [];
  const pixels: Float32Array[] = [];
  const selfScores: number[] = [];
  const seeds: number[] = [];
  for (let start = 0; start < cfg.numCandidates; start += cfg.batchSize) {
    const B = Math.min(cfg.batchSize, cfg.numCandidates - start);
    const batchSeeds = Array.from({ length: B }, (_, i) => candidateSeed(cfg, start + i));
    let t0 = performance.now();
    const batch = await sampleImageBatch(p.prior, {
      temperature: cfg.temperature,
      topK: cfg.topK,
      topP: cfg.topP,
      condScale: cfg.condScale,
      textIds: ids,
      padId: p.promptEncoder.padId,
      seeds: batchSeeds,
      prime,
      onPosition: (rows) => {
        done += rows;
        options.onProgress?.(done, total);
      },
    });
    timings.sampleMs += performance.now() - t0;
    t0 = performance.now();
    pixels.push(...(await decodeCodes(tok, batch.codes, B)));
    timings.decodeMs += performance.now() - t0;
    for (let b = 0; b < B; b++) codes.push(batch.codes.slice(b * S, (b + 1) * S));
    selfScores.push(...batch.selfScores);
    seeds.push(...batchSeeds);
  }

  let t0 = performance.now();
  const clip = p.reranker ? await scoreImages(p.reranker, prompt, pixels, tok.imageSize, cfg.batchSize) : null;
  const order = rankCandidates(clip, selfScores);
  timings.rerankMs = performance.now() - t0;

  const candidates: CandidateInfo[] = seeds.map((seed, c) => ({ candidate: c, seed, clipScore: clip ? clip[c] : null, selfScore: selfScores[c] }));
  t0 = performance.now();
  const images: GeneratedImage[] = [];
  for (const [r, c] of order.slice(0, cfg.n).entries()) {
    const png = await encodePng(pixels[c], tok.imageSize, tok.imageSize);
    images.push({ ...candidates[c], rank: r + 1, codes: codes[c], pixels: pixels[c], png });
  }
  timings.pngMs = performance.now() - t0;

  return {
    prompt,
    config: cfg,
    truncated,
    textIds: Array.from(ids),
    primeRows,
    imageSize: tok.imageSize,
    gridSize: tok.gridSize,
    reranker: p.rerankerName,
    backend: tf.getBackend(),
    images,
    candidates,
    timings,
  };
}

/** A pipeline from parts already in memory (tests, custom models); dispose() frees nothing it did not make. */
export function pipelineFromParts(parts: { prior: ImagePrior; imageTokenizer: ImageTokenizer; promptEncoder: PromptEncoder; reranker?: Reranker | null; rerankerName?: string; source?: string; sampling?: ModelSampling }): Pipeline {
  return {
    source: parts.source ?? '(in-memory parts)',
    prior: parts.prior,
    imageTokenizer: parts.imageTokenizer,
    promptEncoder: parts.promptEncoder,
    reranker: parts.reranker ?? null,
    rerankerName: parts.reranker ? (parts.rerankerName ?? 'custom') : 'none',
    loadMs: 0,
    sampling: parts.sampling,
    async dispose() {},
  };
}
