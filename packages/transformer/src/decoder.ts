// Incremental decoding with a key/value cache (as in GPT-2 sampling): the caption is run once
// (prefill), then each step feeds one image code per sequence and returns the next position's logits.
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '@dalle/core';
import { cacheTensors, type KeyValue } from './attention.ts';
import { imageSeqLen, transformerLayout } from './config.ts';
import { imageToStreamId, startTokenId, textToStreamId } from './layout.ts';
import { hiddenStates, imageHead, type TransformerModel } from './transformer.ts';

/**
 * Decodes B sequences in lockstep. Contract:
 * - prefill(textIds int32 [B, T], padded with textPadId) runs the start token and the caption
 *   and returns logits [B, K] for image token 0. Call it exactly once, first.
 * - step(codes int32 [B], codes in [0, K)) appends image token i (i = 0, 1, ...) and returns
 *   logits [B, K] for image token i + 1. It can be called N - 1 times; the N-th code is never fed.
 * - Logits are raw (no temperature); the caller owns returned tensors and must dispose them.
 * - dispose() frees the cache. Inputs are not disposed.
 * For classifier-free guidance, decode 2B rows: the captions, then B empty (all-pad) captions.
 */
export interface TransformerDecoder {
  readonly batchSize: number;
  /** Image tokens fed so far (0 right after prefill). */
  readonly imageTokensFed: number;
  prefill(textIds: tf.Tensor2D): tf.Tensor2D;
  step(codes: tf.Tensor1D): tf.Tensor2D;
  dispose(): void;
}

export function createDecoder(model: TransformerModel, batchSize: number): TransformerDecoder {
  const cfg = model.config;
  const layout = transformerLayout(cfg);
  const T = cfg.textSeqLen;
  const N = imageSeqLen(cfg);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError(`batchSize must be a positive integer, got ${batchSize}`);
  let cache: KeyValue[] | undefined;
  let position = 0; // input positions already in the cache
  let fed = 0;

  const readInts = (t: tf.Tensor, shape: number[], what: string): Int32Array => {
    if (t.dtype !== 'int32' || t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new UsageError(`${what}: expected int32 [${shape}], got ${t.dtype} [${t.shape}]`);
    }
    return t.dataSync() as Int32Array;
  };

  /**
   * Runs input ids [R*S] (R rows) at the next S positions, keeps the new cache, returns logits of
   * the last position. With `rows` (length B, indices into the R rows) the R rows are computed once
   * and then copied out to the B rows: rows never interact, so repeated rows need no recomputation.
   */
  const advance = (ids: Int32Array, S: number, rows?: Int32Array): tf.Tensor2D => {
    const C = cfg.dModel;
    const R = ids.length / S;
    let present: KeyValue[] = [];
    const logits = tf.tidy(() => {
      const out = hiddenStates(model.params, cfg, tf.tensor2d(ids, [R, S], 'int32'), position, cache);
      present = out.present;
      if (rows) {
        const index = tf.tensor1d(rows, 'int32');
        const pick = <T extends tf.Tensor | undefined>(t: T): T => (t ? (tf.gather(t, index) as T) : t);
        present = present.map((kv) => ({ keys: pick(kv.keys), valuesT: pick(kv.valuesT), recentKeys: pick(kv.recentKeys), recentValuesT: pick(kv.recentValuesT) }));
      }
      for (const kv of present) cacheTensors(kv).forEach((t) => tf.keep(t));
      const last = tf.reshape(tf.slice(out.h, [0, S - 1, 0], [R, 1, C]), [R, C]) as tf.Tensor2D; // [R, C]
      const lastRows = rows ? tf.gather(last, tf.tensor1d(rows, 'int32')) : last; // [B, C]
      return imageHead(model.params, lastRows); // [B, K]
    });
    // A step passes the settled part of the cache on unchanged: free only what the new cache dropped.
    const kept = new Set(present.flatMap(cacheTensors));
    if (cache) tf.dispose(cache.flatMap(cacheTensors).filter((t) => !kept.has(t)));
    cache = present;
    position += S;
    return logits;
  };

  return {
    batchSize,
    get imageTokensFed() {
      return fed;
    },
    prefill(textIds) {
      if (cache) throw new UsageError('prefill() was already called on this decoder; create a new one per batch');
      const text = readInts(textIds, [batchSize, T], 'text ids');
      const ids = new Int32Array(batchSize * (T + 1)); // [B, T+1]: start token, then the caption
      for (let b = 0; b < batchSize; b++) {
        ids[b * (T + 1)] = startTokenId(layout);
        for (let t = 0; t < T; t++) {
          const id = text[b * T + t];
          if (!Number.isInteger(id) || id < 0 || id >= cfg.textVocabSize) throw new UsageError(`text id ${id} (row ${b}, position ${t}) is outside [0, ${cfg.textVocabSize})`);
          ids[b * (T + 1) + 1 + t] = textToStreamId(layout, id, t);
        }
      }
      // Candidates of one prompt share their caption (and guidance rows share the empty one):
      // run each distinct caption once.
      const L = T + 1;
      const firstRow = new Map<string, number>();
      const rows = new Int32Array(batchSize);
      for (let b = 0; b < batchSize; b++) {
        const key = ids.subarray(b * L, (b + 1) * L).join(',');
        if (!firstRow.has(key)) firstRow.set(key, firstRow.size);
        rows[b] = firstRow.get(key)!;
      }
      if (firstRow.size === batchSize) return advance(ids, L);
      const unique = new Int32Array(firstRow.size * L);
      for (let b = batchSize - 1; b >= 0; b--) unique.set(ids.subarray(b * L, (b + 1) * L), rows[b] * L);
      return advance(unique, L, rows);
    },
    step(codes) {
      if (!cache) throw new UsageError('call prefill() before step()');
      if (fed >= N - 1) throw new UsageError(`all ${N} image tokens have been predicted; step() takes at most ${N - 1} codes`);
      const c = readInts(codes, [batchSize], 'image codes');
      const ids = new Int32Array(batchSize);
      for (let b = 0; b < batchSize; b++) {
        if (!Number.isInteger(c[b]) || c[b] < 0 || c[b] >= cfg.imageVocabSize) throw new UsageError(`image code ${c[b]} (row ${b}) is outside [0, ${cfg.imageVocabSize})`);
        ids[b] = imageToStreamId(layout, c[b]);
      }
      fed++;
      return advance(ids, 1);
    },
    dispose() {
      if (cache) tf.dispose(cache.flatMap(cacheTensors));
      cache = undefined;
    },
  };
}
