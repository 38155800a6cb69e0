// Test fixture: an in-memory token dataset with the shape of @dalle/data's TokenDataset, so most
// transformer tests need no files.
import { Rng } from '@dalle/core';
import { imageSeqLen, type TokenBatchSource, type TransformerConfig } from '@dalle/transformer';

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
