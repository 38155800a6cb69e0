// TransformerConfig: the decoder-only text-to-image transformer's settings, defaults, presets and
// validation (DALL-E, Ramesh et al. 2021; sizes scaled to what trains on a laptop CPU).
import { UsageError } from '@dalle/core';
import { makeLayout, type TokenLayout } from './layout.ts';

/** DALL-E's attention patterns (appendix B.1); all are causal and let every position see the whole caption. */
export const ATTENTION_PATTERNS = ['full', 'row', 'column', 'conv'] as const;
export type AttentionPattern = (typeof ATTENTION_PATTERNS)[number];

export interface TransformerConfig {
  /** Text tokens per caption (T); captions are padded / truncated to this. */
  textSeqLen: number;
  /** The text tokenizer's vocabulary size, pad id included. */
  textVocabSize: number;
  /** The tokenizer's pad id; at text position i it is embedded as its own token pad_i. */
  textPadId: number;
  /** Image tokens per side (G); the image part is G*G codes in row-major order. */
  gridSize: number;
  /** The dVAE's codebook size (K). */
  imageVocabSize: number;
  /** Width of the residual stream. */
  dModel: number;
  /** Attention heads; dModel must divide evenly. */
  numHeads: number;
  /** Transformer blocks. */
  numLayers: number;
  /** One attention pattern per block. */
  attentionPatterns: AttentionPattern[];
  /** Side of the square neighbourhood that a 'conv' layer sees around the predicted image token (odd). */
  convKernelSize: number;
  /** Share of the loss given to the text part; the image part gets the rest (DALL-E: 1/8 and 7/8). */
  textLossWeight: number;
  /** Probability that training replaces a caption with the empty (all-pad) caption, for classifier-free guidance. */
  captionDropout: number;
}

/** Row, column and conv layers in turn, ending with a full layer, as DALL-E does (its last layer is dense). */
export function defaultAttentionPatterns(numLayers: number): AttentionPattern[] {
  const cycle: AttentionPattern[] = ['row', 'column', 'conv'];
  return Array.from({ length: numLayers }, (_, i) => (i === numLayers - 1 ? 'full' : cycle[i % cycle.length]));
}

/** Defaults: the shipped emoji-64 model. */
export const TRANSFORMER_DEFAULTS: Readonly<TransformerConfig> = Object.freeze({
  textSeqLen: 32, // emoji captions are short: 32 BPE tokens cover almost all of them
  textVocabSize: 4096, // the emoji tokenizer's vocabulary
  textPadId: 0, // the project tokenizer's "[PAD]"
  gridSize: 8, // 64x64 images through a dVAE with 8x downsampling
  imageVocabSize: 512, // the emoji dVAE's codebook
  dModel: 256, // enough for 64x64 emoji; one step stays under a few seconds on 2 CPU cores
  numHeads: 4, // head size 64, the usual choice
  numLayers: 6,
  attentionPatterns: defaultAttentionPatterns(6), // row, column, conv, row, column, full
  convKernelSize: 5, // a 5x5 neighbourhood is most of an 8x8 grid's local structure (DALL-E: 11 on 32x32)
  textLossWeight: 1 / 8, // DALL-E's weighting: the image is what we want to model
  captionDropout: 0.1, // lets the sampler use classifier-free guidance at a small cost in conditional loss
});

/** Named presets; parameter counts in the comments. */
export const TRANSFORMER_PRESETS = Object.freeze({
  /** Tests: runs in milliseconds. 3x3 grid so row / column / conv masks differ. ~53 K parameters. */
  tiny: {
    textSeqLen: 4,
    textVocabSize: 16,
    gridSize: 3,
    imageVocabSize: 8,
    dModel: 32,
    numHeads: 2,
    numLayers: 4,
    attentionPatterns: ['row', 'column', 'conv', 'full'],
    convKernelSize: 3,
  },
  /** The shipped model: 64x64 emoji, 8x8 grid, K=512. ~7.1 M parameters. */
  'emoji-64': {},
  /** For GPU users: 256x256 images through a 16x16 grid, K=8192. ~123 M parameters. */
  large: {
    textSeqLen: 64,
    textVocabSize: 16384,
    gridSize: 16,
    imageVocabSize: 8192,
    dModel: 768,
    numHeads: 12,
    numLayers: 12,
    attentionPatterns: defaultAttentionPatterns(12),
    convKernelSize: 11,
  },
} satisfies Record<string, Partial<TransformerConfig>>);

export type TransformerPresetName = keyof typeof TRANSFORMER_PRESETS;

/** The preset's full config; throws listing the valid names. */
export function transformerPreset(name: string): TransformerConfig {
  if (!Object.hasOwn(TRANSFORMER_PRESETS, name)) {
    throw new UsageError(`unknown transformer preset "${name}": choose one of ${Object.keys(TRANSFORMER_PRESETS).join(', ')}`);
  }
  return resolveTransformerConfig(TRANSFORMER_PRESETS[name as TransformerPresetName] as Partial<TransformerConfig>);
}

function intInRange(cfg: TransformerConfig, key: keyof TransformerConfig, min: number, max: number): void {
  const v = cfg[key] as number;
  if (!Number.isInteger(v) || v < min || v > max) throw new UsageError(`${key} must be an integer in [${min}, ${max}], got ${v}`);
}

function numberInRange(cfg: TransformerConfig, key: keyof TransformerConfig, min: number, max: number): void {
  const v = cfg[key] as number;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new UsageError(`${key} must be a number in [${min}, ${max}], got ${v}`);
}

/**
 * A complete, checked config: copies `partial`, fills defaults and checks ranges. When numLayers is
 * given without attentionPatterns, the default pattern for that depth is used.
 */
export function resolveTransformerConfig(partial: Partial<TransformerConfig> = {}): TransformerConfig {
  for (const key of Object.keys(partial)) {
    if (!Object.hasOwn(TRANSFORMER_DEFAULTS, key)) throw new UsageError(`unknown transformer config field "${key}"; valid fields: ${Object.keys(TRANSFORMER_DEFAULTS).join(', ')}`);
  }
  const numLayers = partial.numLayers ?? TRANSFORMER_DEFAULTS.numLayers;
  const cfg: TransformerConfig = {
    ...TRANSFORMER_DEFAULTS,
    ...partial,
    attentionPatterns: [...(partial.attentionPatterns ?? (partial.numLayers === undefined ? TRANSFORMER_DEFAULTS.attentionPatterns : defaultAttentionPatterns(numLayers)))],
  };
  intInRange(cfg, 'textSeqLen', 1, 4096);
  intInRange(cfg, 'textVocabSize', 2, 1 << 20);
  intInRange(cfg, 'textPadId', 0, cfg.textVocabSize - 1);
  intInRange(cfg, 'gridSize', 1, 256);
  intInRange(cfg, 'imageVocabSize', 2, 1 << 20);
  intInRange(cfg, 'dModel', 1, 1 << 16);
  intInRange(cfg, 'numHeads', 1, cfg.dModel);
  if (cfg.dModel % cfg.numHeads !== 0) throw new UsageError(`dModel must be a multiple of numHeads, got dModel ${cfg.dModel} and numHeads ${cfg.numHeads}`);
  intInRange(cfg, 'numLayers', 1, 1024);
  if (!Array.isArray(cfg.attentionPatterns) || cfg.attentionPatterns.length !== cfg.numLayers) {
    throw new UsageError(`attentionPatterns must list one pattern per layer (${cfg.numLayers}), got ${Array.isArray(cfg.attentionPatterns) ? cfg.attentionPatterns.length : typeof cfg.attentionPatterns}`);
  }
  cfg.attentionPatterns.forEach((p, i) => {
    if (!(ATTENTION_PATTERNS as readonly string[]).includes(p)) throw new UsageError(`attentionPatterns[${i}] must be one of ${ATTENTION_PATTERNS.join(', ')}, got "${p}"`);
  });
  intInRange(cfg, 'convKernelSize', 1, 2 * cfg.gridSize + 1);
  if (cfg.convKernelSize % 2 !== 1) throw new UsageError(`convKernelSize must be odd, got ${cfg.convKernelSize}`);
  numberInRange(cfg, 'textLossWeight', 0, 1);
  numberInRange(cfg, 'captionDropout', 0, 1);
  return cfg;
}

/** Parses "row,column,conv,full" (as the CLI takes it). */
export function parseAttentionPatterns(text: string): AttentionPattern[] {
  return text.split(',').map((s) => s.trim()) as AttentionPattern[];
}

// Derived values: functions, never stored fields.
export function imageSeqLen(cfg: TransformerConfig): number {
  return cfg.gridSize * cfg.gridSize;
}

export function headDim(cfg: TransformerConfig): number {
  return cfg.dModel / cfg.numHeads;
}

/** Hidden width of each MLP (GPT's 4x). */
export function mlpHidden(cfg: TransformerConfig): number {
  return 4 * cfg.dModel;
}

/** Positions the model runs over: the start token, T text tokens and the first N-1 image tokens. */
export function sequenceLength(cfg: TransformerConfig): number {
  return cfg.textSeqLen + imageSeqLen(cfg);
}

export function transformerLayout(cfg: TransformerConfig): TokenLayout {
  return makeLayout({ textSeqLen: cfg.textSeqLen, textVocabSize: cfg.textVocabSize, imageSeqLen: imageSeqLen(cfg), imageVocabSize: cfg.imageVocabSize, textPadId: cfg.textPadId });
}
