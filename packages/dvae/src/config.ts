// The discrete VAE's one config: defaults, named presets and validation in one place.
// Follows DALL-E's dVAE (Ramesh et al. 2021, "Zero-Shot Text-to-Image Generation", sec. 2.1):
// a conv encoder to logits over K codes per grid cell, Gumbel-softmax codes, a conv decoder.
import { UsageError } from '@dalle/core';

/** Reconstruction likelihood; see README of this package for the measured comparison. */
export const RECON_LOSSES = ['logit-laplace', 'l1', 'mse'] as const;
export type ReconLoss = (typeof RECON_LOSSES)[number];

export const DOWNSAMPLE_FACTORS = [4, 8, 16] as const;

export interface DvaeConfig {
  /** Side of the square RGB input, in pixels. */
  imageSize: number;
  /** Image side / grid side; each halving is one max-pool in the encoder and one upsample in the decoder. */
  downsampleFactor: number;
  /** K: number of discrete codes (the image vocabulary the transformer predicts). */
  codebookSize: number;
  /** D: width of each codebook embedding, which is also the decoder's first width. */
  codebookDim: number;
  /** Width of the full-resolution group; group g (g halvings down) is hiddenChannels * 2^g wide. */
  hiddenChannels: number;
  /** Residual blocks per resolution group, in the encoder and in the decoder. */
  resBlocks: number;
  /** Reconstruction loss; 'logit-laplace' gives the decoder a second head for the per-pixel log-scale. */
  reconLoss: ReconLoss;
  /**
   * The decoder's full-resolution width when it differs from the encoder's (hiddenChannels), e.g.
   * a wider decoder trained on a trained encoder's codes (dvae-train --decoder-only). Absent:
   * the same; a model without it keeps the config, and so the identity, it always had.
   */
  decoderHiddenChannels?: number;
  /** Residual blocks per decoder group when they differ from resBlocks; absent: the same. */
  decoderResBlocks?: number;
}

/** The optional fields: absent unless set, so that older configs (and identities) stay unchanged. */
const OPTIONAL_FIELDS = ['decoderHiddenChannels', 'decoderResBlocks'] as const;

export const DVAE_DEFAULTS: DvaeConfig = {
  imageSize: 64, // the shipped emoji model's resolution
  downsampleFactor: 8, // 64 / 8 = an 8x8 grid: 64 image tokens keeps the transformer cheap on CPU
  codebookSize: 512, // enough codes for flat-shaded emoji; DALL-E's 8192 is for photos at 256 px
  codebookDim: 128, // equal to the coarsest encoder width (hiddenChannels * 8), so no extra projection is needed
  // Measured on wasm, batch 16, 64 px: 8 -> 1.4 s/step (11.5 img/s), 16 -> 3.2 s/step (5 img/s).
  // 16 with KL weight 1, 1,600 steps: 18.01 dB held-out PSNR, 348 codes in use, perplexity 165;
  // 8 with KL weight 0 (the first shipped dVAE): 17.52 dB, 14 codes, perplexity 9.7 (dvae README).
  hiddenChannels: 16,
  resBlocks: 1, // one block per group; DALL-E's 2 doubles the cost for a small gain at 64 px
  // Measured, hard-code PSNR (see README): 64 train / 16 held-out 32 px images, 200 steps:
  // mse 16.9 / 17.4 dB, l1 15.9 / 15.2 dB, logit-laplace (DALL-E's) 10.8 / 11.6 dB with 4 codes
  // in use; 4-image overfit, 300 steps: mse 27.5, l1 20.3, logit-laplace 19.1 dB.
  reconLoss: 'mse',
};

/** Named presets. Parameter counts are from initDvaeParams (see test/dvae/config.test.ts). */
export const DVAE_PRESETS = {
  /** Tests: 16x16 images, 4x4 grid, K=32; 49,411 parameters. */
  tiny: { imageSize: 16, downsampleFactor: 4, codebookSize: 32, codebookDim: 32, hiddenChannels: 8, resBlocks: 1, reconLoss: 'mse' },
  /** The shipped emoji model: 64x64, 8x8 grid, K=512; 889,859 parameters (hiddenChannels 16). */
  'emoji-64': { ...DVAE_DEFAULTS },
} as const satisfies Record<string, DvaeConfig>;

export type DvaePresetName = keyof typeof DVAE_PRESETS;

export function dvaePreset(name: string): DvaeConfig {
  const preset = (DVAE_PRESETS as Record<string, DvaeConfig>)[name];
  if (!preset) throw new UsageError(`unknown dVAE preset "${name}": choose one of ${Object.keys(DVAE_PRESETS).join(', ')}`);
  return { ...preset };
}

function isPowerOf2(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

function checkInt(name: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
}

/** Copies `partial`, fills defaults and checks every range; throws a UsageError naming the field. */
export function resolveDvaeConfig(partial: Partial<DvaeConfig> = {}): DvaeConfig {
  const known = new Set([...Object.keys(DVAE_DEFAULTS), ...OPTIONAL_FIELDS]);
  for (const k of Object.keys(partial)) {
    if (!known.has(k)) throw new UsageError(`unknown dVAE config field "${k}" (known: ${[...known].join(', ')})`);
  }
  const cfg: DvaeConfig = { ...DVAE_DEFAULTS };
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) (cfg as unknown as Record<string, unknown>)[k] = v;
  checkInt('imageSize', cfg.imageSize, 8, 4096);
  if (!isPowerOf2(cfg.imageSize)) throw new UsageError(`imageSize must be a power of 2, got ${cfg.imageSize}`);
  if (!(DOWNSAMPLE_FACTORS as readonly number[]).includes(cfg.downsampleFactor)) {
    throw new UsageError(`downsampleFactor must be one of ${DOWNSAMPLE_FACTORS.join(', ')}, got ${cfg.downsampleFactor}`);
  }
  if (cfg.imageSize / cfg.downsampleFactor < 2) {
    throw new UsageError(`imageSize / downsampleFactor must leave a grid of at least 2x2, got ${cfg.imageSize} / ${cfg.downsampleFactor}`);
  }
  // Codes are stored as uint16 in token datasets.
  checkInt('codebookSize', cfg.codebookSize, 2, 65536);
  checkInt('codebookDim', cfg.codebookDim, 1, 4096);
  checkInt('hiddenChannels', cfg.hiddenChannels, 1, 1024);
  checkInt('resBlocks', cfg.resBlocks, 0, 8);
  if (cfg.decoderHiddenChannels !== undefined) checkInt('decoderHiddenChannels', cfg.decoderHiddenChannels, 1, 1024);
  if (cfg.decoderResBlocks !== undefined) checkInt('decoderResBlocks', cfg.decoderResBlocks, 0, 8);
  // A decoder field equal to the encoder's says nothing: drop it, so equal models hash alike.
  if (cfg.decoderHiddenChannels === cfg.hiddenChannels) delete cfg.decoderHiddenChannels;
  if (cfg.decoderResBlocks === cfg.resBlocks) delete cfg.decoderResBlocks;
  if (!(RECON_LOSSES as readonly string[]).includes(cfg.reconLoss)) {
    throw new UsageError(`reconLoss must be one of ${RECON_LOSSES.join(', ')}, got ${String(cfg.reconLoss)}`);
  }
  return cfg;
}

/** G: side of the code grid. */
export function gridSize(cfg: DvaeConfig): number {
  return cfg.imageSize / cfg.downsampleFactor;
}

/** G*G: image tokens per image. */
export function imageSeqLen(cfg: DvaeConfig): number {
  return gridSize(cfg) ** 2;
}

/** Number of 2x halvings between the image and the grid (2, 3 or 4). */
export function numDownsamples(cfg: DvaeConfig): number {
  return Math.log2(cfg.downsampleFactor);
}

/** Width of encoder resolution group g (g = 0 at full resolution, numDownsamples at the grid). */
export function groupWidth(cfg: DvaeConfig, g: number): number {
  return cfg.hiddenChannels * 2 ** g;
}

/** Width of decoder resolution group g. */
export function decoderGroupWidth(cfg: DvaeConfig, g: number): number {
  return (cfg.decoderHiddenChannels ?? cfg.hiddenChannels) * 2 ** g;
}

/** Residual blocks per decoder group. */
export function decoderResBlocks(cfg: DvaeConfig): number {
  return cfg.decoderResBlocks ?? cfg.resBlocks;
}

/** True when two configs differ only in their decoder (what a decoder-only fine-tune may change). */
export function sameEncoder(a: DvaeConfig, b: DvaeConfig): boolean {
  return (Object.keys(DVAE_DEFAULTS) as (keyof DvaeConfig)[]).every((k) => a[k] === b[k]);
}
