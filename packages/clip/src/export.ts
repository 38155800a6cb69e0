// Writes our CLIP as a folder that transformers.js loads like any Hugging Face CLIP:
// config.json (model_type "clip"), tokenizer.json + tokenizer_config.json, preprocessor_config.json
// (CLIPImageProcessor settings that reproduce our preprocessing) and onnx/{text,vision}_model.onnx.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { CONFIG_FILE, encodeSafetensors, tensorsToData, UsageError, WEIGHTS_FILE, writeDirAtomic } from '@dalle/core';
import { logitScale, CLIP_FORMAT_VERSION, CLIP_KIND, type ClipModel } from './model.ts';
import { textModelOnnx, visionModelOnnx } from './onnx/clip-onnx.ts';

export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'] as const;

/**
 * The ONNX files transformers.js may ask for. The `_quantized` names (its default) hold the same
 * float32 graphs: the models are small, and one file set keeps parity exact whichever is loaded.
 */
export const ONNX_FILES = ['text_model.onnx', 'text_model_quantized.onnx', 'vision_model.onnx', 'vision_model_quantized.onnx'] as const;

/** transformers.js / Hugging Face config.json for our CLIP, merged with our own kind/formatVersion/config fields. */
export function transformersConfig(model: ClipModel, info: Record<string, unknown> = {}): Record<string, unknown> {
  const c = model.config;
  const scale = logitScale(model);
  return {
    model_type: 'clip',
    architectures: ['CLIPModel'],
    projection_dim: c.embedDim,
    logit_scale_init_value: Math.log(scale), // the trained value (HF stores the log of the scale)
    text_config: {
      model_type: 'clip_text_model',
      vocab_size: c.textVocabSize,
      hidden_size: c.textWidth,
      intermediate_size: c.textWidth * c.mlpRatio,
      num_hidden_layers: c.textLayers,
      num_attention_heads: c.textHeads,
      max_position_embeddings: c.textSeqLen,
      hidden_act: 'quick_gelu',
      layer_norm_eps: c.layerNormEps,
      pad_token_id: c.padId,
      projection_dim: c.embedDim,
    },
    vision_config: {
      model_type: 'clip_vision_model',
      image_size: c.imageSize,
      patch_size: c.patchSize,
      num_channels: 3,
      hidden_size: c.visionWidth,
      intermediate_size: c.visionWidth * c.mlpRatio,
      num_hidden_layers: c.visionLayers,
      num_attention_heads: c.visionHeads,
      hidden_act: 'quick_gelu',
      layer_norm_eps: c.layerNormEps,
      projection_dim: c.embedDim,
    },
    // The same file is also our own model-folder config (core's ModelConfigFile), so one folder
    // serves both transformers.js (ONNX) and loadClip (model.safetensors, for gradients).
    kind: CLIP_KIND,
    formatVersion: CLIP_FORMAT_VERSION,
    config: c,
    info: { logitScale: scale, note: 'mean-pooled causal text tower and mean-pooled ViT; embeddings are L2-normalised inside the ONNX graphs', ...info },
  };
}

/** CLIPImageProcessor settings: resize + centre-crop to imageSize (as core's `cover` loader), [0, 255] -> [0, 1], then (x - mean) / std. */
export function preprocessorConfig(model: ClipModel): Record<string, unknown> {
  const c = model.config;
  return {
    feature_extractor_type: 'CLIPFeatureExtractor',
    image_processor_type: 'CLIPImageProcessor',
    do_convert_rgb: true,
    do_resize: true,
    size: { shortest_edge: c.imageSize },
    resample: 1, // lanczos, as core's loadImageRgb (sharp lanczos3)
    do_center_crop: true,
    crop_size: { height: c.imageSize, width: c.imageSize },
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: c.imageMean,
    image_std: c.imageStd,
  };
}

/** tokenizer_config.json adjusted so transformers.js pads with our pad id and truncates at textSeqLen. */
async function tokenizerConfig(model: ClipModel, tokenizerDir: string): Promise<Record<string, unknown>> {
  const tokFile = path.join(tokenizerDir, 'tokenizer.json');
  let tokenizer: { model?: { vocab?: Record<string, number> | [string, number][] }; added_tokens?: { id: number; content: string }[] };
  try {
    tokenizer = JSON.parse(await fsp.readFile(tokFile, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read ${tokFile}: ${(err as Error).message}`);
  }
  let config: Record<string, unknown> = {};
  try {
    config = JSON.parse(await fsp.readFile(path.join(tokenizerDir, 'tokenizer_config.json'), 'utf8'));
  } catch {
    // a tokenizer.json alone is enough; the fields below are what transformers.js needs
  }
  const padToken = tokenizer.added_tokens?.find((t) => t.id === model.config.padId)?.content ?? (config.pad_token as string | undefined);
  if (!padToken) throw new UsageError(`${tokFile}: no token with the model's pad id ${model.config.padId} among added_tokens, and tokenizer_config.json names no pad_token`);
  return { tokenizer_class: 'PreTrainedTokenizerFast', ...config, pad_token: padToken, model_max_length: model.config.textSeqLen };
}

/**
 * Writes the transformers.js folder atomically into `outDir` (replacing it). `tokenizerDir` holds
 * tokenizer.json (+ tokenizer_config.json). The folder also holds model.safetensors, so loadClip
 * reads it too.
 */
export async function exportTransformersJs(model: ClipModel, tokenizerDir: string, outDir: string, info: Record<string, unknown> = {}): Promise<void> {
  const tokConfig = await tokenizerConfig(model, tokenizerDir);
  const tokenizerJson = await fsp.readFile(path.join(tokenizerDir, 'tokenizer.json'));
  const text = textModelOnnx(model);
  const vision = visionModelOnnx(model);
  const weights = encodeSafetensors(tensorsToData(model.variables()), { metadata: { kind: CLIP_KIND, formatVersion: String(CLIP_FORMAT_VERSION) } });
  await writeDirAtomic(outDir, async (tmp) => {
    await fsp.writeFile(path.join(tmp, CONFIG_FILE), JSON.stringify(transformersConfig(model, info), null, 2) + '\n');
    await fsp.writeFile(path.join(tmp, WEIGHTS_FILE), weights);
    await fsp.writeFile(path.join(tmp, 'preprocessor_config.json'), JSON.stringify(preprocessorConfig(model), null, 2) + '\n');
    await fsp.writeFile(path.join(tmp, 'tokenizer.json'), tokenizerJson);
    await fsp.writeFile(path.join(tmp, 'tokenizer_config.json'), JSON.stringify(tokConfig, null, 2) + '\n');
    await fsp.mkdir(path.join(tmp, 'onnx'));
    for (const name of ONNX_FILES) await fsp.writeFile(path.join(tmp, 'onnx', name), name.startsWith('text') ? text : vision);
  });
}
