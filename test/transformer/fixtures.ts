// Test fixtures: in-memory token datasets and a seeded data order with the shapes of @dalle/data's
// TokenDataset and EpochSampler, so transformer tests do not depend on files.
import { Rng } from '@dalle/core';
import { imageSeqLen, type BatchOrder, type OrderState, type TokenBatchSource, type TransformerConfig } from '@dalle/transformer';

/** `count` distinct captions (ids 1.., then pads) paired with distinct code grids. */
export function memoryDataset(cfg: TransformerConfig, count: number, seed = 0, ids: { dvaeId?: string; tokenizerId?: string } = {}): TokenBatchSource {
  const T = cfg.textSeqLen;
  const N = imageSeqLen(cfg);
  const rng = new Rng(seed);
  const texts: Int32Array[] = [];
  const codes: Int32Array[] = [];
  for (let i = 0; i < count; i++) {
    const len = 1 + (i % T);
    texts.push(Int32Array.from({ length: T }, (_, t) => (t < len ? 1 + rng.int(cfg.textVocabSize - 1) : cfg.textPadId)));
    codes.push(Int32Array.from({ length: N }, () => rng.int(cfg.imageVocabSize)));
  }
  return {
    size: count,
    manifest: { textSeqLen: T, gridSize: cfg.gridSize, codebookSize: cfg.imageVocabSize, textVocabSize: cfg.textVocabSize, dvaeId: ids.dvaeId ?? 'dvae-test', tokenizerId: ids.tokenizerId ?? 'tok-test' },
    batch(indices) {
      const text = new Int32Array(indices.length * T);
      const out = new Int32Array(indices.length * N);
      indices.forEach((i, row) => {
        text.set(texts[i], row * T);
        out.set(codes[i], row * N);
      });
      return { text, codes: out };
    },
  };
}

/** A seeded permutation per epoch, resumable from (seed, epoch, index). */
export function testOrder(size: number, state: OrderState | { seed: number }): BatchOrder {
  const s: OrderState = { epoch: 0, index: 0, ...state };
  const perm = (epoch: number) => new Rng((s.seed * 1000003 + epoch) >>> 0).shuffle(Array.from({ length: size }, (_, i) => i));
  let current = perm(s.epoch);
  return {
    next(batchSize) {
      const out: number[] = [];
      while (out.length < batchSize) {
        if (s.index >= size) {
          s.epoch++;
          s.index = 0;
          current = perm(s.epoch);
        }
        out.push(current[s.index++]);
      }
      return out;
    },
    state: () => ({ ...s }),
  };
}
