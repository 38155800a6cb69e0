// The Dvae model object and the ImageTokenizer contract the sampler and CLIP guidance use:
// encode images to code grids (argmax of the encoder logits), decode code grids to images,
// and decodeSoft for differentiable decoding of code distributions.
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '@dalle/core';
import { gridSize, imageSeqLen, resolveDvaeConfig, type DvaeConfig } from './config.ts';
import { decoderOutput } from './decoder.ts';
import { encoderLogits } from './encoder.ts';
import { outputToImage } from './loss.ts';
import { disposeParams, initDvaeParams, type DvaeParams } from './params.ts';

/** What other packages need from an image tokenizer; they depend on this, not on Dvae. */
export interface ImageTokenizer {
  readonly imageSize: number;
  readonly gridSize: number;
  readonly codebookSize: number;
  /** images [B, H, W, 3] float in [0, 1] -> int32 codes [B, gridSize^2], row-major over the grid. */
  encode(images: tf.Tensor4D): tf.Tensor2D;
  /** int32 codes [B, gridSize^2] -> images [B, H, W, 3] in [0, 1]. */
  decode(codes: tf.Tensor2D): tf.Tensor4D;
}

export class Dvae implements ImageTokenizer {
  readonly config: DvaeConfig;
  readonly params: DvaeParams;
  /**
   * For a decoder-only fine-tune: the identity of the dVAE whose encoder (and so whose codes) this
   * one kept, which token datasets and transformers record. Undefined for a model with its own codes.
   */
  readonly codesFrom?: string;

  constructor(config: DvaeConfig, params: DvaeParams, options: { codesFrom?: string } = {}) {
    this.config = resolveDvaeConfig(config);
    this.params = params;
    this.codesFrom = options.codesFrom;
  }

  /** A freshly initialised model (deterministic in `seed`). */
  static create(config: Partial<DvaeConfig>, seed = 0): Dvae {
    const cfg = resolveDvaeConfig(config);
    return new Dvae(cfg, initDvaeParams(cfg, seed));
  }

  get imageSize(): number {
    return this.config.imageSize;
  }

  get gridSize(): number {
    return gridSize(this.config);
  }

  get codebookSize(): number {
    return this.config.codebookSize;
  }

  private checkImages(images: tf.Tensor4D): void {
    const [, H, W, C] = images.shape;
    const S = this.imageSize;
    if (images.rank !== 4 || H !== S || W !== S || C !== 3) {
      throw new UsageError(`dVAE expects images of shape [B, ${S}, ${S}, 3], got [${images.shape}]`);
    }
  }

  /** Encoder logits [B, G, G, K] (untempered), for training and inspection. */
  logits(images: tf.Tensor4D): tf.Tensor4D {
    this.checkImages(images);
    return tf.tidy(() => encoderLogits(images, this.params, this.config));
  }

  encode(images: tf.Tensor4D): tf.Tensor2D {
    this.checkImages(images);
    return tf.tidy(() => {
      const logits = encoderLogits(images, this.params, this.config); // [B, G, G, K]
      return tf.reshape(tf.argMax(logits, -1), [images.shape[0], imageSeqLen(this.config)]) as tf.Tensor2D; // [B, G*G] int32
    });
  }

  decode(codes: tf.Tensor2D): tf.Tensor4D {
    const N = imageSeqLen(this.config);
    if (codes.rank !== 2 || codes.shape[1] !== N) throw new UsageError(`dVAE expects codes of shape [B, ${N}], got [${codes.shape}]`);
    const values = codes.dataSync();
    for (let i = 0; i < values.length; i++) {
      const c = values[i];
      if (!Number.isInteger(c) || c < 0 || c >= this.codebookSize) throw new UsageError(`code ${c} at position ${i} is outside [0, ${this.codebookSize})`);
    }
    return tf.tidy(() => {
      const oneHot = tf.oneHot(tf.cast(codes, 'int32'), this.codebookSize); // [B, G*G, K]
      return this.decodeWeights(tf.cast(oneHot, 'float32') as tf.Tensor3D);
    });
  }

  /**
   * Differentiable decoding of code distributions [B, G*G, K]: probabilities (rows summing to 1)
   * or, with `{ input: 'logits' }`, logits that are softmaxed first. Returns [B, H, W, 3] in [0, 1].
   */
  decodeSoft(codeDist: tf.Tensor3D, options: { input?: 'probs' | 'logits' } = {}): tf.Tensor4D {
    const N = imageSeqLen(this.config);
    const [, T, K] = codeDist.shape; // batch, grid positions, codes
    if (codeDist.rank !== 3 || T !== N || K !== this.codebookSize) {
      throw new UsageError(`decodeSoft expects [B, ${N}, ${this.codebookSize}], got [${codeDist.shape}]`);
    }
    return tf.tidy(() => this.decodeWeights(options.input === 'logits' ? tf.softmax(codeDist) : codeDist));
  }

  /** [B, G*G, K] code weights -> images; callers wrap it in tidy. */
  private decodeWeights(weights: tf.Tensor3D): tf.Tensor4D {
    const G = this.gridSize;
    const grid = tf.reshape(weights, [weights.shape[0], G, G, this.codebookSize]) as tf.Tensor4D; // [B, G, G, K]
    return outputToImage(decoderOutput(grid, this.params, this.config), this.config);
  }

  dispose(): void {
    disposeParams(this.params);
  }
}
