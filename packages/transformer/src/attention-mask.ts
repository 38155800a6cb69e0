// Attention masks over the input sequence [start, text_0..text_{T-1}, image_0..image_{N-2}] for
// DALL-E's row, column, convolutional and full patterns (Ramesh et al. 2021, appendix B.1, fig. 11).
import * as tf from '@tensorflow/tfjs-core';
import { MASKED_LOGIT } from './layout.ts';
import { sequenceLength, type AttentionPattern, type TransformerConfig } from './config.ts';

/**
 * Whether input position `q` may attend to input position `k`. Position p predicts stream token p:
 * positions 0..T-1 predict text, position T + i predicts image token i, and position T + 1 + j holds
 * image token j. Every pattern is causal (k <= q) and shows the start token and the whole caption
 * (positions 0..T) to every later position. Among image tokens, a sparse pattern is defined
 * around the token being predicted (i): 'row' keeps earlier tokens of i's row, 'column' those of
 * i's column, 'conv' those within a convKernelSize square centred on i.
 */
export function isVisible(cfg: TransformerConfig, pattern: AttentionPattern, q: number, k: number): boolean {
  if (k > q) return false;
  const T = cfg.textSeqLen;
  if (k <= T || pattern === 'full') return true;
  const G = cfg.gridSize;
  const i = q - T; // image token predicted at q
  const j = k - T - 1; // image token held at k (j < i)
  const [ri, ci, rj, cj] = [Math.floor(i / G), i % G, Math.floor(j / G), j % G];
  switch (pattern) {
    case 'row':
      return ri === rj;
    case 'column':
      return ci === cj;
    case 'conv': {
      const r = (cfg.convKernelSize - 1) / 2;
      return Math.abs(ri - rj) <= r && Math.abs(ci - cj) <= r;
    }
  }
}

const cache = new Map<string, tf.Tensor2D>();

/**
 * The additive mask [L, L] (0 visible, MASKED_LOGIT hidden), L = sequenceLength(cfg). Built once
 * per (layout, pattern) and kept for the life of the process, so each layer adds one cached tensor.
 */
export function attentionMask(cfg: TransformerConfig, pattern: AttentionPattern): tf.Tensor2D {
  const key = `${cfg.textSeqLen}/${cfg.gridSize}/${cfg.convKernelSize}/${pattern}`;
  let mask = cache.get(key);
  if (!mask) {
    const L = sequenceLength(cfg);
    const data = new Float32Array(L * L);
    for (let q = 0; q < L; q++) for (let k = 0; k < L; k++) data[q * L + k] = isVisible(cfg, pattern, q, k) ? 0 : MASKED_LOGIT;
    mask = tf.keep(tf.tensor2d(data, [L, L]));
    cache.set(key, mask);
  }
  return mask;
}
