// Small stand-ins for the sampler's contracts: a random bigram "prior" with a text-dependent
// bias (so guidance has something to act on), a fixed-logits prior, an identity-ish image
// tokenizer and a reranker with known scores. Built from a seed; tensors are freed by dispose().
import { Rng } from '@dalle/core';
import * as tf from '@tensorflow/tfjs-core';
import type { ImagePrior, ImageTokenizer, Reranker, TokenDecoder } from '@dalle/sampler';

export interface FakePrior extends ImagePrior {
  /** Decoder batch sizes requested so far. */
  readonly batches: number[];
  /** Text ids fed to prefill so far (row-major copies). */
  readonly prefills: Int32Array[];
  dispose(): void;
}

/** logits(pos 0) = textBias[text]; logits(next) = bigram[prev] + textBias[text]. */
export function bigramPrior(opts: { textSeqLen: number; textVocab: number; gridSize: number; codebookSize: number; seed: number }): FakePrior {
  const { textSeqLen, textVocab, gridSize, codebookSize: K, seed } = opts;
  const rng = new Rng(seed);
  const rand = (n: number) => Float32Array.from({ length: n }, () => 2 * rng.normal());
  const bigram = tf.keep(tf.tensor2d(rand(K * K), [K, K]));
  const textEmb = tf.keep(tf.tensor2d(rand(textVocab * K), [textVocab, K]));
  const batches: number[] = [];
  const prefills: Int32Array[] = [];
  return {
    textSeqLen,
    imageSeqLen: gridSize * gridSize,
    codebookSize: K,
    batches,
    prefills,
    createDecoder(batchSize: number): TokenDecoder {
      batches.push(batchSize);
      let bias: tf.Tensor2D | undefined;
      return {
        prefill(textIds) {
          prefills.push(textIds.dataSync() as Int32Array);
          // bias = mean of the text embeddings of the row's ids: [B, K]
          bias = tf.keep(tf.tidy(() => tf.mean(tf.gather(textEmb, textIds), 1) as tf.Tensor2D));
          return tf.clone(bias);
        },
        step(ids) {
          return tf.tidy(() => tf.add(tf.gather(bigram, ids), bias!) as tf.Tensor2D);
        },
        dispose() {
          bias?.dispose();
        },
      };
    },
    dispose() {
      tf.dispose([bigram, textEmb]);
    },
  };
}

/** A prior whose logits are the same fixed vector at every position and for every row. */
export function fixedLogitsPrior(logits: Float32Array, imageSeqLen: number, textSeqLen = 4): ImagePrior {
  const K = logits.length;
  const row = (B: number) => tf.tidy(() => tf.tile(tf.tensor2d(logits, [1, K]), [B, 1]) as tf.Tensor2D);
  return {
    textSeqLen,
    imageSeqLen,
    codebookSize: K,
    createDecoder: (B) => ({ prefill: () => row(B), step: () => row(B), dispose: () => {} }),
  };
}

/** Decodes code c at grid cell (y, x) to a flat patch of grey c / (K - 1); encodes by rounding the patch mean. */
export function greyTokenizer(gridSize: number, codebookSize: number, patch = 2): ImageTokenizer {
  const size = gridSize * patch;
  return {
    imageSize: size,
    gridSize,
    codebookSize,
    encode(images) {
      return tf.tidy(() => {
        const B = images.shape[0];
        const grey = tf.mean(images, 3); // [B, H, W]
        const pooled = tf.mean(tf.reshape(grey, [B, gridSize, patch, gridSize, patch]), [2, 4]); // [B, G, G]
        return tf.cast(tf.round(tf.mul(tf.reshape(pooled, [B, gridSize * gridSize]), codebookSize - 1)), 'int32') as tf.Tensor2D;
      });
    },
    decode(codes) {
      return tf.tidy(() => {
        const B = codes.shape[0];
        const v = tf.div(tf.cast(codes, 'float32'), codebookSize - 1); // [B, G*G]
        const cells = tf.reshape(v, [B, gridSize, 1, gridSize, 1, 1]);
        const up = tf.tile(cells, [1, 1, patch, 1, patch, 3]); // [B, G, p, G, p, 3]
        return tf.reshape(up, [B, size, size, 3]) as tf.Tensor4D;
      });
    },
  };
}

/** Scores each image by its mean brightness (or a caller's function of the pixels). */
export function brightnessReranker(): Reranker & { calls: number } {
  const r = {
    calls: 0,
    async score(_prompt: string, images: tf.Tensor4D): Promise<number[]> {
      r.calls++;
      const m = tf.mean(images, [1, 2, 3]);
      try {
        return Array.from(await m.data());
      } finally {
        m.dispose();
      }
    },
  };
  return r;
}
