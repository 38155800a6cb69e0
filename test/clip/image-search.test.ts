import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { classifyImages, listImages, loadClipScorer, parseLabels, searchImages } from '@dalle/clip';
import { UsageError } from '@dalle/core';
import { TRAINING } from '../helpers/timeouts.ts';
import { syntheticPairs, tinyConfig, trainedTinyClip } from './helpers.ts';

describe('clip image search and classification (trained tiny CLIP, transformers.js folder)', function () {
  this.timeout(TRAINING);
  const captions = syntheticPairs(tinyConfig().imageSize!).map((p) => p.caption);

  it('classifies each synthetic image as its own caption (8/8), probabilities summing to 1', async () => {
    const t = await trainedTinyClip();
    const scorer = await loadClipScorer(t.exported);
    try {
      const results = await classifyImages(scorer, t.files, captions);
      assert.equal(results.length, 8);
      results.forEach((r, i) => {
        const total = r.labels.reduce((s, l) => s + l.probability, 0);
        assert.ok(Math.abs(total - 1) < 1e-5, `probabilities sum to ${total}`);
        assert.ok(r.labels.every((l, j) => j === 0 || l.probability <= r.labels[j - 1].probability), 'labels must be sorted by probability');
        assert.equal(r.labels[0].label, captions[i], `${path.basename(r.file)} classified as "${r.labels[0].label}"`);
      });
    } finally {
      await scorer.dispose();
    }
  });

  it('search ranks the matching image first and returns a sorted top-k', async () => {
    const t = await trainedTinyClip();
    const scorer = await loadClipScorer(t.exported, { quantized: false });
    try {
      const files = await listImages(t.data);
      assert.equal(files.length, 8);
      for (const [i, caption] of captions.entries()) {
        const hits = await searchImages(scorer, files, caption, 3);
        assert.equal(hits.length, 3);
        assert.ok(hits[0].score >= hits[1].score && hits[1].score >= hits[2].score, 'hits must be sorted');
        assert.equal(hits[0].file, t.files[i], `"${caption}" found ${path.basename(hits[0].file)}`);
      }
    } finally {
      await scorer.dispose();
    }
  });

  it('parseLabels and listImages refuse bad input with a UsageError', async () => {
    assert.deepEqual(parseLabels(' a cat, a dog ,,'), ['a cat', 'a dog']);
    assert.throws(() => parseLabels('only one'), UsageError);
    const t = await trainedTinyClip();
    await assert.rejects(listImages(t.tokenizer), UsageError);
  });
});
