// The evaluation's plain-number metrics: retrieval recall@k over a similarity matrix (CLIP
// image<->text, as in the CLIP paper's zero-shot retrieval), generation R-precision (AttnGAN /
// DALL-E evaluations), the perplexity of a code histogram, and the conditional gain of a prior.
import { UsageError } from '@dalle/core';

/** A square similarity matrix: rows are images, columns texts, and text i belongs to image i. */
export type SimilarityMatrix = readonly (readonly number[])[];

export interface RecallAtK {
  r1: number;
  r5: number;
}

export interface RetrievalRecall {
  /** For each image, is its own text among the k most similar texts? */
  imageToText: RecallAtK;
  /** For each text, is its own image among the k most similar images? */
  textToImage: RecallAtK;
  /** Items ranked against each other (the matrix side). */
  among: number;
}

function checkSquare(sim: SimilarityMatrix): number {
  const n = sim.length;
  if (n < 1) throw new UsageError('a similarity matrix needs at least one row');
  sim.forEach((row, i) => {
    if (row.length !== n) throw new UsageError(`similarity matrix row ${i} has ${row.length} columns, expected ${n} (square: text i belongs to image i)`);
  });
  return n;
}

/**
 * The chance that entry `own` of `scores` lands in the top k when ties are broken at random: with
 * h scores strictly higher and t others equal, its rank is uniform over h..h+t. So a model that
 * scores everything alike gets chance (k / n), never a free hit; without ties this is 0 or 1.
 */
function topKChance(scores: readonly number[], own: number, k: number): number {
  const v = scores[own];
  let higher = 0;
  let ties = 0;
  scores.forEach((s, j) => {
    if (s > v) higher++;
    else if (s === v && j !== own) ties++;
  });
  return Math.min(Math.max(k - higher, 0), ties + 1) / (ties + 1);
}

/** Fraction of rows whose diagonal entry ranks within the top k of its row (rows: queries; ties: expected value). */
export function recallAtK(sim: SimilarityMatrix, k: number): number {
  const n = checkSquare(sim);
  if (!Number.isInteger(k) || k < 1) throw new UsageError(`k must be a positive integer, got ${k}`);
  let hits = 0;
  for (let i = 0; i < n; i++) hits += topKChance(sim[i], i, k);
  return hits / n;
}

/** The transpose: texts as rows. */
export function transposeMatrix(sim: SimilarityMatrix): number[][] {
  return sim[0].map((_, j) => sim.map((row) => row[j]));
}

/** Image->text and text->image R@1 and R@5 of one square matrix. */
export function retrievalRecall(sim: SimilarityMatrix): RetrievalRecall {
  const n = checkSquare(sim);
  const t = transposeMatrix(sim);
  return {
    imageToText: { r1: recallAtK(sim, 1), r5: recallAtK(sim, 5) },
    textToImage: { r1: recallAtK(t, 1), r5: recallAtK(t, 5) },
    among: n,
  };
}

/** Mean of several groups' recalls (the groups are the same size, so this is also the pooled rate). */
export function meanRecall(groups: readonly RetrievalRecall[]): RetrievalRecall {
  if (groups.length === 0) throw new UsageError('meanRecall needs at least one group');
  const mean = (f: (g: RetrievalRecall) => number) => groups.reduce((a, g) => a + f(g), 0) / groups.length;
  return {
    imageToText: { r1: mean((g) => g.imageToText.r1), r5: mean((g) => g.imageToText.r5) },
    textToImage: { r1: mean((g) => g.textToImage.r1), r5: mean((g) => g.textToImage.r5) },
    among: groups[0].among,
  };
}

/**
 * Consecutive groups of `groupSize` indices over [0, n): every full group (a partial tail is left
 * out, so all groups rank among the same number), or one group of all n when n <= groupSize.
 */
export function consecutiveGroups(n: number, groupSize: number): number[][] {
  if (n < 1) throw new UsageError('retrieval needs at least one item');
  if (n <= groupSize) return [Array.from({ length: n }, (_, i) => i)];
  const groups: number[][] = [];
  for (let start = 0; start + groupSize <= n; start += groupSize) groups.push(Array.from({ length: groupSize }, (_, k) => start + k));
  return groups;
}

/**
 * R-precision of generated images: rows are the images generated for captions 0..n-1, columns the
 * same captions; an image counts when its most similar caption is its own. `correct` is a count
 * (fractional only where ties were shared at random, see topKChance).
 */
export function rPrecision(sim: SimilarityMatrix): { rPrecision: number; correct: number; among: number } {
  const n = checkSquare(sim);
  let correct = 0;
  for (let i = 0; i < n; i++) correct += topKChance(sim[i], i, 1);
  return { rPrecision: correct / n, correct, among: n };
}

/** exp(entropy) of a histogram of code counts (natural log), and how many codes occur at all. */
export function histogramPerplexity(counts: ArrayLike<number>): { perplexity: number; codesUsed: number } {
  let total = 0;
  for (let i = 0; i < counts.length; i++) {
    if (!(counts[i] >= 0)) throw new UsageError(`histogram count ${i} must be >= 0, got ${counts[i]}`);
    total += counts[i];
  }
  if (total === 0) throw new UsageError('the code histogram is empty');
  let entropy = 0;
  let codesUsed = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] > 0) {
      const p = counts[i] / total;
      entropy -= p * Math.log(p);
      codesUsed++;
    }
  }
  return { perplexity: Math.exp(entropy), codesUsed };
}

/** PSNR in dB of images in [0, 1] from their mean squared error (floored so identical images stay finite). */
export function psnrFromMse(mse: number): number {
  return -10 * Math.log10(Math.max(mse, 1e-10));
}

/** 1 - trueLoss / shuffledLoss: 0.2 means the true captions lower the image loss by 20%. */
export function conditionalGainOf(trueLoss: number, shuffledLoss: number): number {
  if (!(shuffledLoss > 0) || !Number.isFinite(shuffledLoss)) throw new UsageError(`the shuffled-caption loss must be a finite number > 0, got ${shuffledLoss}`);
  if (!Number.isFinite(trueLoss)) throw new UsageError(`the true-caption loss must be finite, got ${trueLoss}`);
  return 1 - trueLoss / shuffledLoss;
}
