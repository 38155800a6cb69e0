// CLIP weights as a typed record with stable dotted keys (`text.blocks.0.attn.qkv.kernel`), their
// seeded initialisation (normal, std 0.02 as in GPT-2/CLIP), and flattening to/from the key map.
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@dalle/core';
import { numPatches, patchDim, type ClipConfig } from './config.ts';

export interface LinearParams {
  kernel: tf.Tensor2D; // [in, out]
  bias: tf.Tensor1D; // [out]
}

export interface LayerNormParams {
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
}

export interface BlockParams {
  ln1: LayerNormParams;
  attn: { qkv: LinearParams /* [C, 3C]: q | k | v */; proj: LinearParams };
  ln2: LayerNormParams;
  mlp: { fc: LinearParams; proj: LinearParams };
}

export interface TextTowerParams {
  tokenEmbedding: tf.Tensor2D; // [textVocabSize, textWidth]
  positionEmbedding: tf.Tensor2D; // [textSeqLen, textWidth]
  blocks: BlockParams[];
  lnFinal: LayerNormParams;
  projection: tf.Tensor2D; // [textWidth, embedDim], no bias (as in CLIP)
}

export interface VisionTowerParams {
  patchEmbedding: LinearParams; // [patch*patch*3, visionWidth]
  positionEmbedding: tf.Tensor2D; // [numPatches, visionWidth]
  blocks: BlockParams[];
  lnFinal: LayerNormParams;
  projection: tf.Tensor2D; // [visionWidth, embedDim]
}

export interface ClipParams {
  text: TextTowerParams;
  vision: VisionTowerParams;
  /** log of the logit scale (a scalar), learned as in CLIP. */
  logitScale: tf.Scalar;
}

class Init {
  private readonly rng: Rng;
  constructor(seed: number) {
    this.rng = new Rng(seed);
  }
  normal(shape: number[], std: number): tf.Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = this.rng.normal() * std;
    return tf.tensor(data, shape);
  }
  linear(inDim: number, outDim: number, std = 0.02): LinearParams {
    return { kernel: this.normal([inDim, outDim], std) as tf.Tensor2D, bias: tf.zeros([outDim]) };
  }
  layerNorm(dim: number): LayerNormParams {
    return { gamma: tf.ones([dim]), beta: tf.zeros([dim]) };
  }
  block(width: number, mlpRatio: number, layers: number): BlockParams {
    // Output projections get a smaller init so the residual stream's variance stays near 1 (GPT-2).
    const outStd = 0.02 / Math.sqrt(2 * Math.max(1, layers));
    return {
      ln1: this.layerNorm(width),
      attn: { qkv: this.linear(width, 3 * width), proj: this.linear(width, width, outStd) },
      ln2: this.layerNorm(width),
      mlp: { fc: this.linear(width, mlpRatio * width), proj: this.linear(mlpRatio * width, width, outStd) },
    };
  }
}

/** Fresh parameters (plain tensors; the model wraps them in variables). Deterministic in `seed`. */
export function initClipParams(cfg: ClipConfig, seed: number): ClipParams {
  const init = new Init(seed);
  const text: TextTowerParams = {
    tokenEmbedding: init.normal([cfg.textVocabSize, cfg.textWidth], 0.02) as tf.Tensor2D,
    positionEmbedding: init.normal([cfg.textSeqLen, cfg.textWidth], 0.01) as tf.Tensor2D,
    blocks: Array.from({ length: cfg.textLayers }, () => init.block(cfg.textWidth, cfg.mlpRatio, cfg.textLayers)),
    lnFinal: init.layerNorm(cfg.textWidth),
    projection: init.normal([cfg.textWidth, cfg.embedDim], cfg.textWidth ** -0.5) as tf.Tensor2D,
  };
  const vision: VisionTowerParams = {
    patchEmbedding: init.linear(patchDim(cfg), cfg.visionWidth, patchDim(cfg) ** -0.5),
    positionEmbedding: init.normal([numPatches(cfg), cfg.visionWidth], 0.02) as tf.Tensor2D,
    blocks: Array.from({ length: cfg.visionLayers }, () => init.block(cfg.visionWidth, cfg.mlpRatio, cfg.visionLayers)),
    lnFinal: init.layerNorm(cfg.visionWidth),
    projection: init.normal([cfg.visionWidth, cfg.embedDim], cfg.visionWidth ** -0.5) as tf.Tensor2D,
  };
  return { text, vision, logitScale: tf.scalar(Math.log(cfg.initLogitScale)) };
}

/** The dotted-key view of a parameter record (same tensor objects, no copies). */
export function flattenParams(p: ClipParams): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  const walk = (prefix: string, v: unknown): void => {
    if (v instanceof tf.Tensor) {
      out[prefix] = v;
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => walk(`${prefix}.${i}`, x));
    } else {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(prefix ? `${prefix}.${k}` : k, x);
    }
  };
  walk('', p);
  return out;
}

/** Rebuilds the typed record from a key map shaped like `template` (e.g. variables by key). */
export function unflattenParams(template: ClipParams, flat: Record<string, tf.Tensor>): ClipParams {
  const build = (prefix: string, v: unknown): unknown => {
    if (v instanceof tf.Tensor) {
      const t = flat[prefix];
      if (!t) throw new Error(`missing parameter "${prefix}"`);
      return t;
    }
    if (Array.isArray(v)) return v.map((x, i) => build(`${prefix}.${i}`, x));
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) o[k] = build(prefix ? `${prefix}.${k}` : k, x);
    return o;
  };
  return build('', template) as ClipParams;
}

/** Total number of scalar parameters. */
export function countParams(p: ClipParams): number {
  return Object.values(flattenParams(p)).reduce((n, t) => n + t.size, 0);
}
