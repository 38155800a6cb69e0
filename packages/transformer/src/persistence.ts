// Saving and loading a transformer as a model folder (config.json + model.safetensors) through
// core's model-folder I/O, which checks kind, version, key set and shapes before assigning.
import { assignVariables, loadModelDir, saveModelDir, tensorsToData, type SaveModelOptions } from '@dalle/core';
import { resolveTransformerConfig, type TransformerConfig } from './config.ts';
import { createTransformer, type TransformerModel } from './transformer.ts';

export const TRANSFORMER_KIND = 'dalle-transformer';
export const TRANSFORMER_FORMAT_VERSION = 1;

/**
 * Writes `dir` atomically. `info` (merged over model.info) is free-form; the trainer records
 * dvaeId and tokenizerId there so datasets from another dVAE or tokenizer can be refused.
 */
export async function saveTransformer(dir: string, model: TransformerModel, info: Record<string, unknown> = {}, options: SaveModelOptions = {}): Promise<void> {
  const file = { kind: TRANSFORMER_KIND, formatVersion: TRANSFORMER_FORMAT_VERSION, config: model.config, info: { ...model.info, ...info } };
  await saveModelDir(dir, file, tensorsToData(model.params), options);
}

/** Rebuilds the model from config.json alone, then assigns the checked weights. */
export async function loadTransformer(dir: string): Promise<TransformerModel> {
  const { file, tensors } = await loadModelDir<TransformerConfig>(dir, { kind: TRANSFORMER_KIND, formatVersion: TRANSFORMER_FORMAT_VERSION });
  const config = resolveTransformerConfig(file.config);
  const model = createTransformer(config, null); // every weight is assigned below
  try {
    assignVariables(model.params, tensors, dir);
  } catch (err) {
    for (const v of Object.values(model.params)) v.dispose();
    throw err;
  }
  model.info = { ...(file.info ?? {}) };
  return model;
}
