// Configuration of our small CLIP (Radford et al. 2021, "Learning Transferable Visual Models From
// Natural Language Supervision"): a causal text transformer and a ViT image encoder projected to a
// shared embedding space. One config type, its defaults, presets and validation live here.
import { UsageError } from '@dalle/core';

export interface ClipConfig {
  /** Square input image side in pixels. */
  imageSize: number;
  /** ViT patch side in pixels; must divide imageSize. */
  patchSize: number;
  /** Text length in tokens (ids padded with padId / truncated to this). */
  textSeqLen: number;
  /** Number of text token ids (the tokenizer's vocabulary size). */
  textVocabSize: number;
  /** Id of the padding token; padded positions are left out of the text pooling. */
  padId: number;
  textWidth: number;
  textLayers: number;
  textHeads: number;
  visionWidth: number;
  visionLayers: number;
  visionHeads: number;
  /** Hidden width of each MLP as a multiple of the block width. */
  mlpRatio: number;
  /** Size of the shared (projected) embedding space. */
  embedDim: number;
  /** Initial temperature as a logit scale (CLIP starts at 1/0.07). */
  initLogitScale: number;
  /** Upper clamp on the learned logit scale (CLIP clamps at 100 to keep training stable). */
  maxLogitScale: number;
  /** Per-channel mean and std that images in [0, 1] are normalised with before the ViT. */
  imageMean: [number, number, number];
  imageStd: [number, number, number];
  layerNormEps: number;
}

export const CLIP_DEFAULTS: ClipConfig = {
  imageSize: 64, // the emoji dataset's size
  patchSize: 8, // 8x8 patches: 64 tokens per 64x64 image, cheap attention on 2 CPU cores
  textSeqLen: 32, // captions are short; matches the transformer's text length
  textVocabSize: 4096, // placeholder: clip-train replaces it with the tokenizer's vocabulary size
  padId: 0, // the project's tokenizer convention ([PAD] = 0)
  textWidth: 128,
  textLayers: 2,
  textHeads: 4,
  visionWidth: 128,
  visionLayers: 3,
  visionHeads: 4,
  mlpRatio: 4, // the usual transformer MLP expansion
  embedDim: 128,
  initLogitScale: 1 / 0.07, // CLIP's initial temperature 0.07
  maxLogitScale: 100, // CLIP's clamp
  imageMean: [0.5, 0.5, 0.5], // maps [0, 1] to [-1, 1]; simple and exactly reproducible by CLIPImageProcessor
  imageStd: [0.5, 0.5, 0.5],
  layerNormEps: 1e-5, // as in CLIP
};

export const CLIP_PRESETS = {
  /** Tests: about 24 K parameters with textVocabSize 64; trains in seconds. */
  tiny: {
    imageSize: 16,
    patchSize: 4,
    textSeqLen: 8,
    textVocabSize: 64,
    textWidth: 32,
    textLayers: 1,
    textHeads: 2,
    visionWidth: 32,
    visionLayers: 1,
    visionHeads: 2,
    mlpRatio: 2,
    embedDim: 32,
  },
  /**
   * The shipped model: 64x64 images, patch 8, text 32, width 128; about 1.6 M parameters with a
   * 4096-token vocabulary. Few layers so that ~1000 steps of batch 64 fit in well under an hour on
   * 2 CPU cores (wasm backend).
   */
  'emoji-64': {
    imageSize: 64,
    patchSize: 8,
    textSeqLen: 32,
    textWidth: 128,
    textLayers: 2,
    textHeads: 4,
    visionWidth: 128,
    visionLayers: 3,
    visionHeads: 4,
    mlpRatio: 4,
    embedDim: 128,
  },
} satisfies Record<string, Partial<ClipConfig>>;

export type ClipPresetName = keyof typeof CLIP_PRESETS;
export const CLIP_PRESET_NAMES = Object.keys(CLIP_PRESETS) as ClipPresetName[];

export function clipPreset(name: string): Partial<ClipConfig> {
  if (!(name in CLIP_PRESETS)) throw new UsageError(`unknown CLIP preset "${name}": choose one of ${CLIP_PRESET_NAMES.join(', ')}`);
  return { ...CLIP_PRESETS[name as ClipPresetName] };
}

/** Patches per side of the image grid. */
export function patchGridSize(cfg: ClipConfig): number {
  return cfg.imageSize / cfg.patchSize;
}

/** Patch tokens per image. */
export function numPatches(cfg: ClipConfig): number {
  return patchGridSize(cfg) ** 2;
}

/** Values in one flattened patch (patch x patch x RGB). */
export function patchDim(cfg: ClipConfig): number {
  return cfg.patchSize * cfg.patchSize * 3;
}

function int(name: string, v: unknown, min: number, max = 1 << 24): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new UsageError(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return v;
}

function num(name: string, v: unknown, ok: (x: number) => boolean, rule: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new UsageError(`${name} must be ${rule}, got ${JSON.stringify(v)}`);
  return v;
}

function triple(name: string, v: unknown, positive: boolean): [number, number, number] {
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0))) {
    throw new UsageError(`${name} must be 3 ${positive ? 'positive ' : ''}numbers (R, G, B), got ${JSON.stringify(v)}`);
  }
  return [v[0], v[1], v[2]];
}

/** Copies `partial` over the defaults and validates every field. */
export function resolveClipConfig(partial: Partial<ClipConfig> = {}): ClipConfig {
  const known = new Set(Object.keys(CLIP_DEFAULTS));
  for (const k of Object.keys(partial)) if (!known.has(k)) throw new UsageError(`unknown CLIP config field "${k}" (known: ${[...known].join(', ')})`);
  const c: ClipConfig = { ...CLIP_DEFAULTS, ...partial };
  int('imageSize', c.imageSize, 1, 4096);
  int('patchSize', c.patchSize, 1, c.imageSize);
  if (c.imageSize % c.patchSize !== 0) throw new UsageError(`patchSize must divide imageSize, got patchSize ${c.patchSize} for imageSize ${c.imageSize}`);
  int('textSeqLen', c.textSeqLen, 1, 4096);
  int('textVocabSize', c.textVocabSize, 2);
  int('padId', c.padId, 0, c.textVocabSize - 1);
  for (const tower of ['text', 'vision'] as const) {
    const width = int(`${tower}Width`, c[`${tower}Width`], 1, 1 << 16);
    const heads = int(`${tower}Heads`, c[`${tower}Heads`], 1, width);
    if (width % heads !== 0) throw new UsageError(`${tower}Width must be a multiple of ${tower}Heads, got ${tower}Width ${width} with ${heads} heads`);
    int(`${tower}Layers`, c[`${tower}Layers`], 0, 256);
  }
  int('mlpRatio', c.mlpRatio, 1, 64);
  int('embedDim', c.embedDim, 1, 1 << 16);
  num('initLogitScale', c.initLogitScale, (x) => x > 0, 'a positive number');
  num('maxLogitScale', c.maxLogitScale, (x) => x >= c.initLogitScale, `a number >= initLogitScale (${c.initLogitScale})`);
  c.imageMean = triple('imageMean', c.imageMean, false);
  c.imageStd = triple('imageStd', c.imageStd, true);
  num('layerNormEps', c.layerNormEps, (x) => x > 0 && x < 1, 'in (0, 1)');
  return c;
}
