// The evaluation's metric arithmetic on hand-made inputs whose answers are known by construction:
// recall@k and R-precision on similarity matrices, histogram perplexity, PSNR, conditional gain,
// the retrieval groups, and the eval config's validation.
import { UsageError } from '@dalle/core';
import { strict as assert } from 'node:assert';
import {
  conditionalGainOf,
  consecutiveGroups,
  histogramPerplexity,
  meanRecall,
  parseSkip,
  psnrFromMse,
  recallAtK,
  resolveEvalConfig,
  retrievalRecall,
  rPrecision,
  EVAL_DEFAULTS,
} from '@dalle/sampler';

/** An n x n matrix where text i's true rank for image i is ranks[i] (0 = best), by construction. */
function matrixWithRanks(ranks: number[]): number[][] {
  const n = ranks.length;
  return ranks.map((r, i) => {
    // Distractors score 1, 2, ... (n-1) in column order; the own entry sits just above r distractors
    // counted from the top, so exactly r scores beat it.
    const row = new Array<number>(n);
    let v = n - 1;
    for (let j = 0; j < n; j++) if (j !== i) row[j] = v--;
    row[i] = n - 1 - r + 0.5;
    return row;
  });
}

describe('sampler/eval metrics', () => {
  it('recallAtK counts the rows whose own column ranks within k', () => {
    const ranks = [0, 0, 1, 4, 5, 9, 2, 0, 7, 3];
    const sim = matrixWithRanks(ranks);
    for (const k of [1, 2, 5, 10]) assert.equal(recallAtK(sim, k), ranks.filter((r) => r < k).length / ranks.length, `k=${k}`);
  });

  it('retrievalRecall reads rows for image->text and columns for text->image', () => {
    // Images 0..2; column j is text j. Image 0 prefers text 1, but text 0 prefers image 0.
    const sim = [
      [0.5, 0.9, 0.1],
      [0.0, 0.8, 0.2],
      [0.1, 0.3, 0.7],
    ];
    const r = retrievalRecall(sim);
    assert.equal(r.among, 3);
    assert.equal(r.imageToText.r1, 2 / 3); // image 0 misses at rank 1
    assert.equal(r.textToImage.r1, 2 / 3); // text 1: image 0 (0.9) beats image 1 (0.8)
    assert.equal(r.imageToText.r5, 1); // k beyond n: everything is found
    assert.equal(r.textToImage.r5, 1);
  });

  it('a perfect diagonal scores 1 everywhere, a reversed one 1/n at R@1', () => {
    const n = 7;
    const eye = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
    const perfect = retrievalRecall(eye);
    assert.deepEqual([perfect.imageToText.r1, perfect.textToImage.r1, perfect.imageToText.r5], [1, 1, 1]);
    const worst = matrixWithRanks(Array.from({ length: n }, () => n - 1));
    assert.equal(recallAtK(worst, 1), 0);
    assert.equal(recallAtK(worst, n), 1);
  });

  it('ties are broken at random in expectation: a model that scores everything alike gets chance', () => {
    const n = 10;
    const flat = Array.from({ length: n }, () => new Array<number>(n).fill(0.3));
    assert.ok(Math.abs(recallAtK(flat, 1) - 1 / n) < 1e-12);
    assert.ok(Math.abs(recallAtK(flat, 5) - 5 / n) < 1e-12);
    assert.ok(Math.abs(rPrecision(flat).rPrecision - 1 / n) < 1e-12);
    // Own score tied with one other, none higher: top-1 half the time, top-2 always.
    const pair = [
      [0.9, 0.9, 0.1],
      [0.0, 1.0, 0.2],
      [0.1, 0.3, 0.7],
    ];
    assert.ok(Math.abs(recallAtK(pair, 1) - 2.5 / 3) < 1e-12);
    assert.equal(recallAtK(pair, 2), 1);
  });

  it('meanRecall averages groups; consecutiveGroups makes full groups or one small group', () => {
    const a = retrievalRecall(matrixWithRanks([0, 0, 0, 0]));
    const b = retrievalRecall(matrixWithRanks([3, 3, 3, 3]));
    assert.equal(meanRecall([a, b]).imageToText.r1, 0.5);
    assert.deepEqual(consecutiveGroups(5, 100), [[0, 1, 2, 3, 4]]);
    assert.deepEqual(consecutiveGroups(7, 3), [[0, 1, 2], [3, 4, 5]]);
    assert.equal(consecutiveGroups(300, 100).length, 3);
    assert.throws(() => consecutiveGroups(0, 100), UsageError);
  });

  it('rPrecision counts the generated images whose own caption ranks first', () => {
    const r = rPrecision(matrixWithRanks([0, 1, 0, 2, 0]));
    assert.deepEqual(r, { rPrecision: 3 / 5, correct: 3, among: 5 });
  });

  it('refuses a non-square similarity matrix, naming the row', () => {
    assert.throws(() => recallAtK([[1, 2], [3]], 1), /row 1 has 1 columns, expected 2/);
    assert.throws(() => recallAtK([[1]], 0), UsageError);
  });

  it('histogram perplexity: uniform over K is K, one-hot is 1, two equal codes is 2', () => {
    const K = 32;
    const uniform = histogramPerplexity(new Array(K).fill(5));
    assert.ok(Math.abs(uniform.perplexity - K) < 1e-9, `uniform: ${uniform.perplexity}`);
    assert.equal(uniform.codesUsed, K);
    const oneHot = new Array(K).fill(0);
    oneHot[7] = 100;
    assert.deepEqual(histogramPerplexity(oneHot), { perplexity: 1, codesUsed: 1 });
    const two = histogramPerplexity([0, 3, 0, 3]);
    assert.ok(Math.abs(two.perplexity - 2) < 1e-12);
    const skewed = histogramPerplexity([90, 5, 5]);
    assert.ok(skewed.perplexity > 1 && skewed.perplexity < 3, 'between one-hot and uniform');
    assert.throws(() => histogramPerplexity([0, 0]), /empty/);
  });

  it('PSNR from the mean squared error: 10 dB per decade, finite for identical images', () => {
    assert.ok(Math.abs(psnrFromMse(0.01) - 20) < 1e-9);
    assert.ok(Math.abs(psnrFromMse(0.001) - psnrFromMse(0.01) - 10) < 1e-9);
    assert.ok(Number.isFinite(psnrFromMse(0)));
  });

  it('conditional gain = 1 - true / shuffled', () => {
    assert.ok(Math.abs(conditionalGainOf(4, 5) - 0.2) < 1e-12);
    assert.equal(conditionalGainOf(5, 5), 0);
    assert.ok(conditionalGainOf(6, 5) < 0, 'worse with the true captions: negative gain');
    assert.throws(() => conditionalGainOf(1, 0), /shuffled-caption loss must be a finite number > 0, got 0/);
    assert.throws(() => conditionalGainOf(NaN, 1), UsageError);
  });

  it('eval config: defaults, validation naming the field, --skip phase names', () => {
    const cfg = resolveEvalConfig();
    assert.equal(cfg.prompts, EVAL_DEFAULTS.prompts);
    assert.equal(cfg.numCandidates, 8);
    assert.equal(cfg.perPrompt, 4);
    assert.equal(cfg.sheetPrompts.length, 8);
    assert.deepEqual(cfg.skip, []);
    assert.throws(() => resolveEvalConfig({ prompts: 0 }), /prompts must be an integer in \[1, \d+\], got 0/);
    assert.throws(() => resolveEvalConfig({ sheetPrompts: [] }), UsageError);
    assert.deepEqual([cfg.topP, cfg.temperature], [undefined, undefined], 'the weights\' recommendation, else the sampler default');
    assert.throws(() => resolveEvalConfig({ topP: 0 }), /topP must be in \(0, 1\], got 0/);
    assert.throws(() => resolveEvalConfig({ temperature: -1 }), /temperature must be a finite number > 0, got -1/);
    assert.deepEqual(parseSkip('clip, sheet,clip'), ['clip', 'sheet']);
    assert.throws(() => parseSkip('clip,images'), /unknown phase "images" \(expected a comma list of dvae, transformer, clip, generation, sheet\)/);
  });
});
