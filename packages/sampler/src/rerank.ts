// Reranking: orders candidates by reranker score (CLIP similarity, as DALL-E did), breaking
// ties by self-score; without a reranker, by self-score alone (ruDALL-E's self-ranking).
import * as tf from '@tensorflow/tfjs-core';
import type { Reranker } from './types.ts';

/**
 * A permutation of candidate indices, best first: by `scores` descending when given, then by
 * `selfScores` descending, then by index (stable). NaN scores rank last.
 */
export function rankCandidates(scores: readonly number[] | null, selfScores: readonly number[]): number[] {
  if (scores && scores.length !== selfScores.length) throw new Error(`rankCandidates: ${scores.length} scores for ${selfScores.length} candidates`);
  const key = (v: number) => (Number.isNaN(v) ? -Infinity : v);
  const idx = selfScores.map((_, i) => i);
  return idx.sort((a, b) => (scores ? key(scores[b]) - key(scores[a]) : 0) || key(selfScores[b]) - key(selfScores[a]) || a - b);
}

/**
 * Scores HWC float images (each size x size x 3) with `reranker`, `batchSize` at a time so
 * memory stays bounded; disposes every tensor it makes.
 */
export async function scoreImages(reranker: Reranker, prompt: string, images: Float32Array[], size: number, batchSize: number): Promise<number[]> {
  const scores: number[] = [];
  for (let start = 0; start < images.length; start += batchSize) {
    const chunk = images.slice(start, start + batchSize);
    const flat = new Float32Array(chunk.length * size * size * 3);
    chunk.forEach((img, i) => flat.set(img, i * size * size * 3));
    const batch = tf.tensor4d(flat, [chunk.length, size, size, 3]);
    try {
      const s = await reranker.score(prompt, batch);
      if (s.length !== chunk.length) throw new Error(`reranker returned ${s.length} scores for ${chunk.length} images`);
      scores.push(...s);
    } finally {
      batch.dispose();
    }
  }
  return scores;
}
