// The CLIP scorer over transformers.js: loads CLIPTextModelWithProjection /
// CLIPVisionModelWithProjection with their tokenizer and processor from a local folder (or, only
// when asked, a Hugging Face hub id) and scores images against texts. The one module that converts
// between transformers.js tensors ({dims, data}) and tf.Tensor, and that touches its `env`.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '@dalle/core';
import { AutoProcessor, AutoTokenizer, CLIPTextModelWithProjection, CLIPVisionModelWithProjection, RawImage, env } from '@xenova/transformers';

/** What the sampler needs: one cosine similarity per image for a prompt. */
export interface Reranker {
  score(prompt: string, images: tf.Tensor4D): Promise<number[]>;
}

export interface ClipScorerOptions {
  /** Allow downloading a hub id (e.g. Xenova/clip-vit-base-patch32). Off by default: nothing is fetched unless asked. */
  allowRemote?: boolean;
  /** Load onnx/*_quantized.onnx (transformers.js's default) or the float graphs. */
  quantized?: boolean;
  /** Images per vision-model call. */
  batchSize?: number;
}

/** An HWC float image in [0, 1]. */
export interface HwcImage {
  data: Float32Array;
  width: number;
  height: number;
}

/** OpenAI CLIP's trained logit scale; HF configs store only the initial value, so it is the fallback. */
export const DEFAULT_LOGIT_SCALE = 100;

// Offline by default, set once: a model id is a path below the filesystem root, i.e. an absolute folder.
const FS_ROOT = path.parse(process.cwd()).root;
env.allowLocalModels = true;
env.allowRemoteModels = false;
env.localModelPath = FS_ROOT;

interface TjsTensor {
  dims: number[];
  data: ArrayLike<number>;
}

/** A transformers.js tensor as a float32 tf.Tensor2D. */
function toTf2d(t: TjsTensor): tf.Tensor2D {
  if (t.dims.length !== 2) throw new Error(`expected a 2-D embedding tensor, got dims [${t.dims}]`);
  return tf.tensor2d(Float32Array.from(t.data as ArrayLike<number>), [t.dims[0], t.dims[1]]);
}

/** HWC floats in [0, 1] -> an 8-bit RGB RawImage (what CLIPImageProcessor reads). */
function toRawImage(img: HwcImage): RawImage {
  if (img.data.length !== img.width * img.height * 3) throw new UsageError(`image data has ${img.data.length} values, expected ${img.width}x${img.height}x3`);
  const bytes = new Uint8ClampedArray(img.data.length);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.round(Math.min(1, Math.max(0, img.data[i])) * 255);
  return new RawImage(bytes, img.width, img.height, 3);
}

/** Splits a [B, H, W, 3] tensor (floats in [0, 1]) into HWC images. */
async function tensorToImages(images: tf.Tensor4D): Promise<HwcImage[]> {
  const [B, H, W, C] = images.shape;
  if (C !== 3) throw new UsageError(`images must be [B, H, W, 3], got [${images.shape}]`);
  const data = (await images.data()) as Float32Array;
  return Array.from({ length: B }, (_, b) => ({ data: data.subarray(b * H * W * 3, (b + 1) * H * W * 3), width: W, height: H }));
}

type Loaded = [any, any, any, any]; // tokenizer, processor, text model, vision model (transformers.js has loose types)

export class ClipScorer implements Reranker {
  constructor(
    /** The folder or hub id it was loaded from. */
    readonly source: string,
    /** Scale applied to cosine similarities before a softmax (classification). */
    readonly logitScale: number,
    private readonly parts: Loaded,
    private readonly batchSize: number,
  ) {}

  /** The square side the processor crops to: load images at this size to skip its resampling. */
  get imageSize(): number {
    const fe = this.parts[1].feature_extractor ?? {};
    const crop = fe.crop_size;
    if (typeof crop === 'number') return crop;
    if (crop && typeof crop.height === 'number') return crop.height;
    const size = fe.size;
    if (typeof size === 'number') return size;
    return size?.shortest_edge ?? size?.height ?? 224;
  }

  /** L2-normalised text embeddings [N, D]. */
  async embedTexts(texts: string[]): Promise<tf.Tensor2D> {
    if (texts.length === 0) throw new UsageError('embedTexts needs at least one text');
    const [tokenizer, , textModel] = this.parts;
    const inputs = tokenizer(texts, { padding: true, truncation: true });
    const { text_embeds } = await textModel(inputs);
    return normalizeRows(toTf2d(text_embeds));
  }

  /** L2-normalised image embeddings [B, D] of a [B, H, W, 3] tensor or HWC float images in [0, 1]. */
  async embedImages(images: tf.Tensor4D | HwcImage[]): Promise<tf.Tensor2D> {
    const list = images instanceof tf.Tensor ? await tensorToImages(images) : images;
    if (list.length === 0) throw new UsageError('embedImages needs at least one image');
    const [, processor, , visionModel] = this.parts;
    const chunks: tf.Tensor2D[] = [];
    try {
      for (let i = 0; i < list.length; i += this.batchSize) {
        const { pixel_values } = await processor(list.slice(i, i + this.batchSize).map(toRawImage));
        const { image_embeds } = await visionModel({ pixel_values });
        chunks.push(toTf2d(image_embeds));
      }
      return tf.tidy(() => normalizeRows(chunks.length === 1 ? chunks[0] : (tf.concat(chunks, 0) as tf.Tensor2D)));
    } finally {
      tf.dispose(chunks);
    }
  }

  /** Cosine similarities [B_images, N_texts]. */
  async similarity(images: tf.Tensor4D | HwcImage[], texts: string[]): Promise<tf.Tensor2D> {
    const img = await this.embedImages(images);
    const txt = await this.embedTexts(texts);
    try {
      return tf.matMul(img, txt, false, true) as tf.Tensor2D;
    } finally {
      tf.dispose([img, txt]);
    }
  }

  /** Reranker: the cosine similarity of each image with the prompt. */
  async score(prompt: string, images: tf.Tensor4D | HwcImage[]): Promise<number[]> {
    const sims = await this.similarity(images, [prompt]);
    try {
      return Array.from(await sims.data());
    } finally {
      sims.dispose();
    }
  }

  /** Per image, the softmax over labels of logitScale x cosine similarity. */
  async classify(images: tf.Tensor4D | HwcImage[], labels: string[]): Promise<number[][]> {
    const sims = await this.similarity(images, labels);
    try {
      const probs = tf.tidy(() => tf.softmax(tf.mul(sims, this.logitScale)));
      const rows = (await probs.array()) as number[][];
      probs.dispose();
      return rows;
    } finally {
      sims.dispose();
    }
  }

  async dispose(): Promise<void> {
    await Promise.all([this.parts[2].dispose?.(), this.parts[3].dispose?.()]);
  }
}

function normalizeRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const out = tf.div(x, tf.maximum(tf.sqrt(tf.sum(tf.square(x), 1, true)), 1e-12)) as tf.Tensor2D;
    x.dispose();
    return out;
  });
}

/**
 * Loads a CLIP from a local folder in the transformers.js layout (config.json, tokenizer files,
 * preprocessor_config.json, onnx/{text,vision}_model[_quantized].onnx) or, with allowRemote, a hub id.
 */
export async function loadClipScorer(modelIdOrDir: string, options: ClipScorerOptions = {}): Promise<ClipScorer> {
  const abs = path.resolve(modelIdOrDir);
  const local = existsSync(abs) && statSync(abs).isDirectory();
  let id: string;
  if (local) {
    if (!existsSync(path.join(abs, 'config.json'))) throw new UsageError(`${modelIdOrDir} has no config.json: expected a CLIP folder in the transformers.js layout (run clip-export)`);
    const onnx = path.join(abs, 'onnx', `text_model${options.quantized === false ? '' : '_quantized'}.onnx`);
    if (!existsSync(onnx)) {
      const hint = existsSync(path.join(abs, 'model.safetensors')) ? '; it looks like a TensorFlow.js CLIP folder: run clip-export on it' : options.quantized === false ? '' : ' (pass quantized: false / --no-quantized for the float files)';
      throw new UsageError(`${modelIdOrDir} has no ${path.relative(abs, onnx)}${hint}`);
    }
    id = path.relative(FS_ROOT, abs);
  } else if (options.allowRemote) {
    id = modelIdOrDir;
  } else {
    throw new UsageError(`no CLIP folder at ${abs} (make one with clip-train --export or clip-export); to download "${modelIdOrDir}" from the Hugging Face hub instead, pass --allow-remote (allowRemote: true)`);
  }
  const loadOptions = { quantized: options.quantized ?? true };
  env.allowRemoteModels = !local && Boolean(options.allowRemote);
  try {
    const parts = (await Promise.all([
      AutoTokenizer.from_pretrained(id),
      AutoProcessor.from_pretrained(id),
      CLIPTextModelWithProjection.from_pretrained(id, { ...loadOptions }), // a copy each: from_pretrained writes model_file_name into it
      CLIPVisionModelWithProjection.from_pretrained(id, { ...loadOptions }),
    ])) as Loaded;
    const cfg = parts[2].config as { info?: { logitScale?: unknown } };
    const scale = typeof cfg.info?.logitScale === 'number' && cfg.info.logitScale > 0 ? cfg.info.logitScale : DEFAULT_LOGIT_SCALE;
    return new ClipScorer(modelIdOrDir, scale, parts, Math.max(1, options.batchSize ?? 16));
  } finally {
    env.allowRemoteModels = false;
  }
}
