import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { checkOutputFolder, frameFileName, imageFileName, promptSlug, rankByScore } from '@dalle/guide';

describe('guide output folder', () => {
  it('ranks by score, best first, ties in batch order', () => {
    assert.deepEqual(rankByScore([0.1, 0.3, 0.2, 0.3]), [1, 3, 2, 0]);
  });

  it('names files as dalle-sample does, frames padded to the step count', () => {
    assert.equal(imageFileName(1, 4), '01.png');
    assert.equal(imageFileName(7, 120), '007.png');
    assert.equal(frameFileName(20, 100), path.join('frames', 'step-0020.png'));
    assert.equal(frameFileName(20, 123456), path.join('frames', 'step-000020.png'));
    assert.equal(promptSlug('A Red Heart!'), 'a-red-heart');
    assert.equal(promptSlug('???'), 'prompt');
  });

  it('accepts a new, empty or previous-output folder and refuses one with other files', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'guide-out-'));
    try {
      await checkOutputFolder(path.join(root, 'new'));
      const prev = path.join(root, 'prev');
      mkdirSync(path.join(prev, 'frames'), { recursive: true });
      for (const f of ['01.png', 'grid.png', 'results.json']) writeFileSync(path.join(prev, f), '');
      await checkOutputFolder(prev);
      writeFileSync(path.join(prev, 'notes.txt'), '');
      await assert.rejects(checkOutputFolder(prev), /already holds other files \(e\.g\. notes\.txt\)/);
      writeFileSync(path.join(root, 'file'), '');
      await assert.rejects(checkOutputFolder(path.join(root, 'file')), /exists and is not a folder/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
