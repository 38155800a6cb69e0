// Batched autoregressive sampling of image codes with the prior's key/value cache, with
// classifier-free guidance (the caption and the all-pad caption as one doubled batch, as
// DALLE-pytorch's cond_scale and min-dalle's supercondition), temperature / top-k / top-p
// filtering, seeded per-candidate sampling, image priming and the ruDALL-E-style self-score.
import { Rng } from '@dalle/core';
import * as tf from '@tensorflow/tfjs-core';
import { logProbOf, sampleCategorical, samplingDistribution, guideLogits, type SamplingFilters } from './filters.ts';
import type { ImagePrior } from './types.ts';

export interface SampleBatchOptions extends SamplingFilters {
  /** Guidance scale; 1 runs the caption alone (no doubled batch). */
  condScale: number;
  /** Text ids of the caption, length textSeqLen (the same caption for every row). */
  textIds: Int32Array;
  /** Pad id, used to build the empty caption of the unconditional half. */
  padId: number;
  /** One sampling seed per row; the batch size is seeds.length. */
  seeds: number[];
  /** Codes of the first positions to keep as they are (image priming): length <= imageSeqLen. */
  prime?: ArrayLike<number>;
  /** Called after each image position with the number of rows just advanced. */
  onPosition?: (rows: number) => void;
}

export interface SampledBatch {
  /** codes [B * imageSeqLen], row-major. */
  codes: Int32Array;
  /** Mean log-likelihood per row of its image codes under the unguided conditional model. */
  selfScores: number[];
}

/**
 * Samples one batch of image-code sequences. Each position: the decoder gives logits for the
 * (doubled, when guided) batch, they are read back once, and per row the guided logits go
 * through temperature -> top-k -> top-p -> softmax and one seeded categorical draw (core's Rng,
 * float64 on the CPU), so runs repeat exactly on the same backend. Primed positions are fed
 * through unchanged. The self-score uses the conditional logits before guidance and filters.
 */
export async function sampleImageBatch(prior: ImagePrior, opts: SampleBatchOptions): Promise<SampledBatch> {
  const B = opts.seeds.length; // candidates in this batch
  const S = prior.imageSeqLen; // image positions
  const T = prior.textSeqLen; // text positions
  const K = prior.codebookSize;
  if (B < 1) throw new Error('sampleImageBatch: need at least one seed');
  if (opts.textIds.length !== T) throw new Error(`sampleImageBatch: textIds has ${opts.textIds.length} ids, the prior expects ${T}`);
  const prime = opts.prime ?? [];
  if (prime.length > S) throw new Error(`sampleImageBatch: ${prime.length} primed codes exceed the ${S} image positions`);
  const guided = opts.condScale !== 1;
  const rows = guided ? 2 * B : B; // decoder batch: [cond rows | uncond rows] when guided
  const rngs = opts.seeds.map((s) => new Rng(s));
  const codes = new Int32Array(B * S);
  const logLik = new Float64Array(B);

  const text = new Int32Array(rows * T);
  for (let b = 0; b < B; b++) text.set(opts.textIds, b * T);
  if (guided) text.fill(opts.padId, B * T); // the empty caption

  const decoder = prior.createDecoder(rows);
  try {
    const textT = tf.tensor2d(text, [rows, T], 'int32');
    let logitsT: tf.Tensor2D;
    try {
      logitsT = decoder.prefill(textT);
    } finally {
      textT.dispose();
    }
    for (let pos = 0; pos < S; pos++) {
      let logits: Float32Array;
      try {
        if (logitsT.shape[0] !== rows || logitsT.shape[1] !== K) throw new Error(`decoder returned logits [${logitsT.shape}], expected [${rows}, ${K}]`);
        logits = (await logitsT.data()) as Float32Array;
      } finally {
        logitsT.dispose();
      }
      const chosen = new Int32Array(rows);
      for (let b = 0; b < B; b++) {
        const cond = logits.subarray(b * K, (b + 1) * K);
        let id: number;
        if (pos < prime.length) {
          id = prime[pos];
        } else {
          const rowLogits = guided ? guideLogits(cond, logits.subarray((B + b) * K, (B + b + 1) * K), opts.condScale) : cond;
          id = sampleCategorical(samplingDistribution(rowLogits, opts), rngs[b]);
        }
        logLik[b] += logProbOf(cond, id);
        codes[b * S + pos] = id;
        chosen[b] = id;
        if (guided) chosen[B + b] = id; // both halves continue the same image
      }
      opts.onPosition?.(B);
      if (pos === S - 1) break; // no logits needed after the last position
      const idsT = tf.tensor1d(chosen, 'int32');
      try {
        logitsT = decoder.step(idsT);
      } finally {
        idsT.dispose();
      }
    }
  } finally {
    decoder.dispose();
  }
  return { codes, selfScores: Array.from(logLik, (l) => l / S) };
}
