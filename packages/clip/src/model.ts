// Our CLIP as one object: a resolved config plus trainable variables under dotted keys, and the
// differentiable embedding functions other packages use (CLIP-guided generation backpropagates
// through embedImages). Saving and loading go through core's model-folder format.
import * as tf from '@tensorflow/tfjs-core';
import { assignVariables, loadModelDir, saveModelDir, tensorsToData, type SaveModelOptions } from '@dalle/core';
import { resolveClipConfig, type ClipConfig } from './config.ts';
import { logitScaleValue, similarityLogits } from './loss.ts';
import { flattenParams, initClipParams, unflattenParams, type ClipParams } from './params.ts';
import { textTower, visionTower } from './towers.ts';

export const CLIP_KIND = 'dalle-clip';
export const CLIP_FORMAT_VERSION = 1;

export class ClipModel {
  readonly config: ClipConfig;
  /** The typed parameter record; every leaf is a tf.Variable. */
  readonly params: ClipParams;
  private readonly vars: Record<string, tf.Variable>;

  constructor(config: Partial<ClipConfig>, seed = 0) {
    this.config = resolveClipConfig(config);
    const init = initClipParams(this.config, seed);
    const flat = flattenParams(init);
    this.vars = {};
    for (const [k, t] of Object.entries(flat)) {
      this.vars[k] = tf.variable(t, true, `clip/${k}/${variableCounter++}`);
      t.dispose();
    }
    this.params = unflattenParams(init, this.vars);
  }

  /** Trainable variables by dotted key (sorted keys). */
  variables(): Record<string, tf.Variable> {
    return { ...this.vars };
  }

  dispose(): void {
    for (const v of Object.values(this.vars)) v.dispose();
  }
}

let variableCounter = 0;

/** L2-normalised text embeddings [B, embedDim] for int32 ids [B, T] (T <= textSeqLen, padded with padId). Differentiable. */
export function embedTexts(model: ClipModel, ids: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => textTower(model.params.text, model.config, ids));
}

/** L2-normalised image embeddings [B, embedDim] for images [B, imageSize, imageSize, 3] in [0, 1]. Differentiable. */
export function embedImages(model: ClipModel, images: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => visionTower(model.params.vision, model.config, images));
}

/** The learned logit scale (temperature inverse), clamped at maxLogitScale. */
export function logitScale(model: ClipModel): number {
  return tf.tidy(() => logitScaleValue(model.params.logitScale, model.config.maxLogitScale).dataSync()[0]);
}

/** [B_img, B_txt] scaled similarities (the logits of the contrastive loss). */
export function clipLogits(model: ClipModel, images: tf.Tensor4D, ids: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const scale = logitScaleValue(model.params.logitScale, model.config.maxLogitScale);
    return similarityLogits(visionTower(model.params.vision, model.config, images), textTower(model.params.text, model.config, ids), scale);
  });
}

/** Writes config.json + model.safetensors (plus extra files such as the tokenizer) atomically. */
export async function saveClip(model: ClipModel, dir: string, options: SaveModelOptions & { info?: Record<string, unknown> } = {}): Promise<void> {
  await saveModelDir(dir, { kind: CLIP_KIND, formatVersion: CLIP_FORMAT_VERSION, config: model.config, info: options.info }, tensorsToData(model.variables()), options);
}

/** Rebuilds a model from its folder; refuses another kind, version, key set or shape, naming the first mismatch. */
export async function loadClip(dir: string): Promise<ClipModel> {
  const { file, tensors } = await loadModelDir<ClipConfig>(dir, { kind: CLIP_KIND, formatVersion: CLIP_FORMAT_VERSION });
  const model = new ClipModel(file.config);
  try {
    assignVariables(model.variables(), tensors, dir);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}
