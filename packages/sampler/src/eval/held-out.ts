// The held-out split as the evaluation reads it: captioned images at the dVAE's size, one pass of
// hard dVAE codes over them (PSNR of decode(encode(x)) and the code histogram), and token
// sources for the transformer losses: the images' own captions, or captions deranged among them.
import { Rng, UsageError } from '@dalle/core';
import { openImageSource } from '@dalle/data';
import type { TokenBatchSource, TokenDatasetIdentity } from '@dalle/transformer';
import * as tf from '@tensorflow/tfjs-core';
import type { ImageTokenizer, PromptEncoder } from '../types.ts';
import { histogramPerplexity, psnrFromMse } from './metrics.ts';

export interface HeldOutImages {
  spec: string;
  keys: string[];
  /** HWC floats in [0, 1], imageSize x imageSize x 3 each. */
  images: Float32Array[];
  /** Each image's first caption. */
  captions: string[];
  imageSize: number;
  /** Entries the source skipped (unreadable image, missing caption). */
  skipped: number;
}

/** Reads up to `limit` captioned images from `spec` at `imageSize`. */
export async function readHeldOut(spec: string, imageSize: number, limit: number | null, onImage?: (done: number) => void): Promise<HeldOutImages> {
  const source = openImageSource(spec, { imageSize, limit: limit ?? undefined, onSkip: () => {} });
  const out: HeldOutImages = { spec, keys: [], images: [], captions: [], imageSize, skipped: 0 };
  for await (const item of source) {
    out.keys.push(item.key);
    out.images.push(item.image);
    out.captions.push(item.captions[0]);
    onImage?.(out.images.length);
  }
  out.skipped = source.stats.skipped;
  if (out.images.length === 0) throw new UsageError(`no captioned images in ${spec} (expected images with same-named .txt captions)`);
  return out;
}

export interface DvaeMetrics {
  images: number;
  /** PSNR (dB) of decode(encode(x)) with hard codes over all held-out pixels. */
  psnr: number;
  /** exp(entropy) of the histogram of codes over every grid cell of every image. */
  perplexity: number;
  /** perplexity / K x 100. */
  perplexityPercentOfK: number;
  codesUsed: number;
  codebookSize: number;
}

/**
 * Encodes `images` with hard codes in batches; returns each image's codes and the reconstruction
 * metrics of the same pass (so the transformer phase reuses the codes instead of encoding again).
 */
export async function encodeHeldOut(tok: ImageTokenizer, images: readonly Float32Array[], batchSize: number, onBatch?: (done: number) => void): Promise<{ codes: Int32Array[]; metrics: DvaeMetrics }> {
  const S = tok.imageSize;
  const G2 = tok.gridSize * tok.gridSize;
  const counts = new Float64Array(tok.codebookSize);
  const codes: Int32Array[] = [];
  let sqErr = 0;
  for (let start = 0; start < images.length; start += batchSize) {
    const chunk = images.slice(start, start + batchSize);
    const x = tf.tensor4d(concat(chunk, S * S * 3), [chunk.length, S, S, 3]);
    const c = tf.tidy(() => tok.encode(x)); // int32 [b, G^2]
    const err = tf.tidy(() => tf.sum(tf.squaredDifference(x, tok.decode(c))));
    try {
      const ids = (await c.data()) as Int32Array;
      for (let b = 0; b < chunk.length; b++) codes.push(Int32Array.from(ids.subarray(b * G2, (b + 1) * G2)));
      for (const id of ids) counts[id]++;
      sqErr += (await err.data())[0];
    } finally {
      tf.dispose([x, c, err]);
    }
    onBatch?.(Math.min(images.length, start + batchSize));
  }
  const { perplexity, codesUsed } = histogramPerplexity(counts);
  return {
    codes,
    metrics: {
      images: images.length,
      psnr: psnrFromMse(sqErr / (images.length * S * S * 3)),
      perplexity,
      perplexityPercentOfK: (100 * perplexity) / tok.codebookSize,
      codesUsed,
      codebookSize: tok.codebookSize,
    },
  };
}

function concat(parts: readonly Float32Array[], each: number): Float32Array {
  const out = new Float32Array(parts.length * each);
  parts.forEach((p, i) => {
    if (p.length !== each) throw new UsageError(`image ${i} has ${p.length} values, expected ${each}`);
    out.set(p, i * each);
  });
  return out;
}

/** One record per image: its first caption's text ids and its codes, held in memory. */
export function memoryTokenSource(captions: readonly string[], codes: readonly Int32Array[], encoder: PromptEncoder, manifest: TokenDatasetIdentity): TokenBatchSource {
  if (captions.length !== codes.length) throw new UsageError(`${captions.length} captions but ${codes.length} code rows`);
  const T = encoder.textSeqLen;
  const text = captions.map((c) => encoder.encode(c).ids);
  const G2 = manifest.gridSize * manifest.gridSize;
  return {
    size: captions.length,
    manifest,
    batch(indices: number[]) {
      const t = new Int32Array(indices.length * T);
      const c = new Int32Array(indices.length * G2);
      indices.forEach((i, b) => {
        t.set(text[i], b * T);
        c.set(codes[i], b * G2);
      });
      return { text: t, codes: c };
    },
  };
}

/**
 * The first `n` records of `source` with captions deranged among them: a seeded random cycle
 * in which each record takes the next one's caption, so no image keeps its own.
 */
export function shuffledCaptions(source: TokenBatchSource, n: number, seed: number): TokenBatchSource {
  if (n < 2) throw new UsageError(`shuffled captions need at least 2 records, got ${n}`);
  const cycle = new Rng(seed).shuffle(Array.from({ length: n }, (_, i) => i));
  const partner = new Array<number>(n);
  cycle.forEach((item, k) => (partner[item] = cycle[(k + 1) % n]));
  const T = source.manifest.textSeqLen;
  return {
    size: n,
    manifest: source.manifest,
    batch(indices: number[]) {
      const own = source.batch(indices);
      const moved = source.batch(indices.map((i) => partner[i]));
      if (moved.text.length !== indices.length * T) throw new Error(`token source returned ${moved.text.length} text ids for ${indices.length} records of ${T}`);
      return { text: moved.text, codes: own.codes };
    },
  };
}
