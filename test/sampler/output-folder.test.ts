// The output folder: names, the writability / ownership check, and the atomic write of a result.
import { UsageError } from '@dalle/core';
import { checkOutputFolder, generate, imageFileName, pipelineFromParts, promptSlug, writeOutputFolder, type PromptEncoder } from '@dalle/sampler';
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { FAST } from '../helpers/timeouts.ts';
import { bigramPrior, greyTokenizer } from './fakes.ts';

interface ResultsFile {
  prompt: string;
  settings: Record<string, unknown>;
  images: { file: string }[];
  timingsMs: Record<string, number>;
}

describe('sampler/output-folder', function () {
  this.timeout(FAST);
  let root: string;
  beforeEach(() => (root = mkdtempSync(path.join(tmpdir(), 'sampler-out-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('slugs prompts and numbers files best first', () => {
    assert.equal(promptSlug('  A Red Heart, with a Smile!  '), 'a-red-heart-with-a-smile');
    assert.equal(promptSlug('☺☺'), 'prompt');
    assert.ok(promptSlug('x'.repeat(200)).length <= 60);
    assert.deepEqual([imageFileName(1, 8), imageFileName(12, 12), imageFileName(7, 150)], ['01.png', '12.png', '007.png']);
  });

  it('refuses a folder holding other files, a file, and a path below a file', async () => {
    await checkOutputFolder(path.join(root, 'new', 'deeper'));
    const foreign = path.join(root, 'foreign');
    mkdirSync(foreign);
    writeFileSync(path.join(foreign, 'notes.txt'), 'mine');
    await assert.rejects(checkOutputFolder(foreign), (e: Error) => e instanceof UsageError && /already holds other files \(e\.g\. notes\.txt\)/.test(e.message));
    writeFileSync(path.join(root, 'file'), 'x');
    await assert.rejects(checkOutputFolder(path.join(root, 'file')), /exists and is not a folder/);
    await assert.rejects(checkOutputFolder(path.join(root, 'file', 'sub')), (e: Error) => e instanceof UsageError && /cannot write to --out/.test(e.message));
  });

  it('writes NN.png, grid.png and results.json, replacing a previous run whole', async () => {
    const prior = bigramPrior({ textSeqLen: 2, textVocab: 4, gridSize: 2, codebookSize: 4, seed: 1 });
    const words: PromptEncoder = { textSeqLen: 2, padId: 0, encode: () => ({ ids: Int32Array.from([1, 2]), truncated: false }) };
    const pipeline = pipelineFromParts({ prior, imageTokenizer: greyTokenizer(2, 4), promptEncoder: words });
    try {
      const out = path.join(root, 'run');
      mkdirSync(out);
      writeFileSync(path.join(out, '09.png'), 'stale'); // from an older, larger run
      await checkOutputFolder(out);
      const result = await generate('a thing', { pipeline, n: 3, numCandidates: 4 });
      const json = await writeOutputFolder(out, result, { weights: 'fake' });
      assert.deepEqual(readdirSync(out).sort(), ['01.png', '02.png', '03.png', 'grid.png', 'results.json']);
      assert.ok(readFileSync(path.join(out, '01.png')).equals(result.images[0].png));
      const parsed = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as ResultsFile;
      assert.deepEqual({ ...parsed }, json);
      assert.equal(parsed.prompt, 'a thing');
      assert.equal(parsed.settings.numCandidates, 4);
      assert.equal(parsed.settings.weights, 'fake');
      assert.deepEqual(parsed.images.map((i: { file: string }) => i.file), ['01.png', '02.png', '03.png']);
      for (const k of ['load', 'sample', 'decode', 'rerank', 'png', 'write']) assert.equal(typeof parsed.timingsMs[k], 'number', k);
      assert.ok(!readdirSync(root).some((f) => f.startsWith('.')), 'no temp folders left behind');
      assert.ok(existsSync(path.join(out, 'grid.png')));
    } finally {
      prior.dispose();
    }
  });
});
