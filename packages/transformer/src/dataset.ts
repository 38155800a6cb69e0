// What training and evaluation need from token datasets and data order, as structural types that
// @dalle/data's TokenDataset and EpochSampler satisfy, plus the model/dataset agreement check.
import { UsageError } from '@dalle/core';
import type { SamplerState, TokenDatasetInfo } from '@dalle/data';
import { imageSeqLen, type TransformerConfig } from './config.ts';

/** The identity fields of a token dataset. */
export type TokenDatasetIdentity = TokenDatasetInfo;

/** A readable token dataset (@dalle/data TokenDataset). */
export interface TokenBatchSource {
  readonly size: number;
  readonly manifest: TokenDatasetIdentity;
  /** text: int ids [B*textSeqLen], padded; codes: [B*gridSize^2]. */
  batch(indices: number[]): { text: Int32Array; codes: Int32Array };
}

/** The saved position of a resumable data order (@dalle/data EpochSampler). */
export type OrderState = SamplerState;
export interface BatchOrder {
  next(batchSize: number): number[];
  state(): OrderState;
}
/** Builds an order over [0, size), fresh from a seed or continuing from a saved state. */
export type CreateOrder = (size: number, state: OrderState | { seed: number }) => BatchOrder;

/**
 * The dataset fields a model must agree with: its config, and the dVAE / tokenizer ids it was
 * trained with (model.info.dvaeId / tokenizerId, when known). Throws naming the first mismatch.
 */
export function checkDatasetFits(cfg: TransformerConfig, modelInfo: Record<string, unknown>, data: TokenDatasetIdentity, source: string): void {
  const expect: [keyof TokenDatasetIdentity, unknown][] = [
    ['textSeqLen', cfg.textSeqLen],
    ['gridSize', cfg.gridSize],
    ['codebookSize', cfg.imageVocabSize],
    ['textVocabSize', cfg.textVocabSize],
  ];
  if (typeof modelInfo.dvaeId === 'string') expect.push(['dvaeId', modelInfo.dvaeId]);
  if (typeof modelInfo.tokenizerId === 'string') expect.push(['tokenizerId', modelInfo.tokenizerId]);
  for (const [field, want] of expect) {
    if (data[field] !== want) throw new UsageError(`${source}: dataset ${field} is ${JSON.stringify(data[field])} but the model expects ${JSON.stringify(want)}`);
  }
}

/** Several datasets as one index space, in the given order; all must share the first one's identity. */
export function concatSources(sources: TokenBatchSource[], names: string[] = sources.map((_, i) => `dataset ${i}`)): TokenBatchSource {
  if (sources.length === 0) throw new UsageError('no training dataset given');
  if (sources.length === 1) return sources[0];
  const first = sources[0].manifest;
  sources.forEach((s, i) => {
    for (const field of ['textSeqLen', 'gridSize', 'codebookSize', 'textVocabSize', 'dvaeId', 'tokenizerId'] as const) {
      if (s.manifest[field] !== first[field]) throw new UsageError(`${names[i]}: ${field} is ${JSON.stringify(s.manifest[field])} but ${names[0]} has ${JSON.stringify(first[field])}; datasets trained together must agree`);
    }
  });
  const starts: number[] = [];
  let size = 0;
  for (const s of sources) {
    starts.push(size);
    size += s.size;
  }
  const T = first.textSeqLen;
  const N = first.gridSize * first.gridSize;
  return {
    size,
    manifest: first,
    batch(indices) {
      const text = new Int32Array(indices.length * T);
      const codes = new Int32Array(indices.length * N);
      indices.forEach((index, row) => {
        let d = starts.length - 1;
        while (starts[d] > index) d--;
        const one = sources[d].batch([index - starts[d]]);
        text.set(one.text, row * T);
        codes.set(one.codes, row * N);
      });
      return { text, codes };
    },
  };
}

/** Tokens one sequence contributes to training: T text + N image. */
export function tokensPerSequence(cfg: TransformerConfig): number {
  return cfg.textSeqLen + imageSeqLen(cfg);
}
