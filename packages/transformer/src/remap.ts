// Carries a trained transformer over to another dVAE's image codes. When the same images are
// encoded by the model's dVAE ("from") and by a new one ("to"), the two code grids line up
// position by position, so each new code j has a distribution P(old i | new j) over the old
// codes found where it occurs. The new code's input embedding and image-head column become the
// P(i | j)-weighted means of the old ones, and its head bias adds log P(j | i):
//
//   logit_new_j(h) ~ sum_i P(i | j) * (logit_old_i(h) + log P(j | i))
//
// which is exact when the codes are a relabelling (each P is 0 or 1) and a first-order guess for
// codes that split or merge old ones. Codes that never occur in the new encoding get fresh
// embeddings and head columns (as `reinitImageParams`) and the lowest bias of the used ones.
import * as tf from '@tensorflow/tfjs-core';
import { Rng, UsageError } from '@dalle/core';
import { type TransformerConfig, transformerLayout } from './config.ts';
import type { TokenBatchSource } from './dataset.ts';
import { imageTokenOffset } from './layout.ts';
import { assignImageParams, INIT_STD, type TransformerParams } from './params.ts';

/** How often each (new code, old code) pair sits at the same grid position. */
export interface CodeCooccurrence {
  /** Old (the model's) codebook size. */
  kFrom: number;
  /** New codebook size. */
  kTo: number;
  /** counts[j * kFrom + i]: positions where the new encoding has j and the old one i. */
  counts: Float64Array;
  /** Records compared. */
  records: number;
}

/**
 * Counts code pairs over two encodings of the same images in the same order (`dvae-encode` of
 * one image folder, with the same --mirror, by two dVAEs). Records must agree in number, grid
 * and caption tokens; the first disagreement is named.
 */
export function codeCooccurrence(from: TokenBatchSource, to: TokenBatchSource, names: [string, string] = ['from', 'to']): CodeCooccurrence {
  const [a, b] = [from.manifest, to.manifest];
  const fail = (what: string) => new UsageError(`${names[0]} and ${names[1]} must hold the same images in the same order, encoded by two dVAEs: ${what}`);
  if (from.size !== to.size) throw fail(`${from.size} records against ${to.size}`);
  for (const field of ['gridSize', 'textSeqLen', 'tokenizerId'] as const) {
    if (a[field] !== b[field]) throw fail(`${field} ${JSON.stringify(a[field])} against ${JSON.stringify(b[field])}`);
  }
  const kFrom = a.codebookSize;
  const kTo = b.codebookSize;
  const counts = new Float64Array(kTo * kFrom);
  const T = a.textSeqLen;
  const chunk = 1024;
  for (let start = 0; start < from.size; start += chunk) {
    const indices = Array.from({ length: Math.min(chunk, from.size - start) }, (_, r) => start + r);
    const x = from.batch(indices);
    const y = to.batch(indices);
    for (let k = 0; k < x.text.length; k++) {
      if (x.text[k] !== y.text[k]) throw fail(`record ${start + Math.floor(k / T)} has another caption`);
    }
    for (let k = 0; k < x.codes.length; k++) counts[y.codes[k] * kFrom + x.codes[k]]++;
  }
  return { kFrom, kTo, counts, records: from.size };
}

/**
 * Rewrites the image-code embedding rows and image head of `params` (a model over the old codes)
 * for the new codes, from their co-occurrence. Text embeddings, positions, blocks and the text
 * head are untouched. Returns how many new codes occur (and so were carried over), and the
 * agreement: the share of grid positions whose new code's most frequent old code is the old code
 * there (1 for a relabelling).
 */
export function remapImageParams(params: TransformerParams, cfg: TransformerConfig, co: CodeCooccurrence, seed: number): { used: number; agreement: number } {
  const K = cfg.imageVocabSize;
  if (co.kFrom !== K || co.kTo !== K) throw new UsageError(`the model has ${K} image codes; carrying it over needs ${K} codes in both encodings, not ${co.kFrom} and ${co.kTo}`);
  const C = cfg.dModel;
  const offset = imageTokenOffset(transformerLayout(cfg));
  const embed = params['embed.tokens'];
  const imageRows = tf.slice(embed, [offset, 0], [K, C]);
  const oldEmbed = imageRows.dataSync() as Float32Array;
  imageRows.dispose();
  const oldKernel = params['head.image.kernel'].dataSync() as Float32Array; // [C, K]
  const oldBias = params['head.image.bias'].dataSync() as Float32Array;
  const fromTotals = new Float64Array(K);
  for (let j = 0; j < K; j++) for (let i = 0; i < K; i++) fromTotals[i] += co.counts[j * K + i];

  const newEmbed = new Float32Array(K * C);
  const newKernel = new Float32Array(C * K);
  const newBias = new Float32Array(K);
  const unused: number[] = [];
  let lowest = Infinity;
  let agreeing = 0;
  let positions = 0;
  for (let j = 0; j < K; j++) {
    let total = 0;
    let most = 0;
    for (let i = 0; i < K; i++) {
      total += co.counts[j * K + i];
      most = Math.max(most, co.counts[j * K + i]);
    }
    agreeing += most;
    positions += total;
    if (total === 0) {
      unused.push(j);
      continue;
    }
    let bias = 0;
    for (let i = 0; i < K; i++) {
      const n = co.counts[j * K + i];
      if (n === 0) continue;
      const w = n / total; // P(old i | new j)
      for (let c = 0; c < C; c++) {
        newEmbed[j * C + c] += w * oldEmbed[i * C + c];
        newKernel[c * K + j] += w * oldKernel[c * K + i];
      }
      bias += w * (oldBias[i] + Math.log(n / fromTotals[i])); // log P(new j | old i)
    }
    newBias[j] = bias;
    lowest = Math.min(lowest, bias);
  }
  const rng = new Rng(seed);
  for (const j of unused) {
    for (let c = 0; c < C; c++) newEmbed[j * C + c] = rng.normal() * INIT_STD;
    for (let c = 0; c < C; c++) newKernel[c * K + j] = rng.normal() * INIT_STD;
    newBias[j] = Number.isFinite(lowest) ? lowest : 0;
  }
  assignImageParams(params, cfg, { embed: newEmbed, kernel: newKernel, bias: newBias });
  return { used: K - unused.length, agreement: positions > 0 ? agreeing / positions : 0 };
}
