// The weights that ship in weights/: every file matches the manifest's sha256 (and nothing is
// unlisted), the parts agree, and generate() turns a prompt into ranked images with them.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_WEIGHTS_DIR, generate, loadPipeline } from '@dalle/sampler';
import { CLI } from '../helpers/timeouts.ts';

function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? listFiles(p, base) : [path.relative(base, p)];
  });
}

describe('e2e/shipped weights', function () {
  this.timeout(CLI);
  const manifest = JSON.parse(readFileSync(path.join(DEFAULT_WEIGHTS_DIR, 'manifest.json'), 'utf8')) as {
    files: Record<string, string>;
    licences: { trainingData: string[] };
    sampling?: Record<string, number>;
  };

  it('every file matches the manifest checksum, and the manifest lists every file', () => {
    const onDisk = listFiles(DEFAULT_WEIGHTS_DIR).filter((f) => f !== 'manifest.json').sort();
    assert.deepEqual(onDisk, Object.keys(manifest.files).sort());
    for (const [rel, sum] of Object.entries(manifest.files)) {
      const actual = createHash('sha256').update(readFileSync(path.join(DEFAULT_WEIGHTS_DIR, rel))).digest('hex');
      assert.equal(actual, sum, `${rel}: checksum differs from manifest.json`);
    }
    assert.ok(manifest.licences.trainingData.some((l) => /CC-BY 4\.0/.test(l)), 'Twemoji attribution is in the manifest');
  });

  it('loads as one pipeline and generates ranked images for a prompt', async () => {
    const pipeline = await loadPipeline(DEFAULT_WEIGHTS_DIR);
    try {
      const result = await generate('an avocado', { pipeline, n: 2, numCandidates: 3, batchSize: 3, seed: 0 });
      assert.equal(result.images.length, 2);
      for (const [k, v] of Object.entries(manifest.sampling ?? {})) assert.equal(result.config[k as keyof typeof result.config], v, `${k} comes from the manifest's "sampling"`);
      const scores = result.images.map((im) => im.clipScore as number);
      assert.ok(scores.every(Number.isFinite), `CLIP scores ${scores}`);
      assert.ok(scores[0] >= scores[1], 'best first');
      for (const im of result.images) {
        assert.ok(Number.isFinite(im.selfScore) && im.selfScore < 0, `self-score ${im.selfScore} is a mean log-likelihood`);
        assert.equal(im.pixels.length, 64 * 64 * 3);
      }
    } finally {
      await pipeline.dispose();
    }
  });
});
