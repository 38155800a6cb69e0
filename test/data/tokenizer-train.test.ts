// tokenizer-train end to end on emoji captions (read from the folder without decoding images):
// the result loads through transformers.js and round-trips every caption; usage errors exit 2.
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { buildEmojiDataset, loadTextTokenizer, normalizeCaption, openCaptionSource } from '@dalle/data';
import { CLI } from '../helpers/timeouts.ts';
import { runBin } from './cli-helpers.ts';
import { makeTempDir } from './fixtures.ts';

describe('data/cli/tokenizer-train', function () {
  this.timeout(CLI);
  let dir: string;
  let emoji: string;

  before(async () => {
    dir = await makeTempDir('tokenizer-train');
    emoji = path.join(dir, 'emoji');
    await buildEmojiDataset({ outDir: emoji, limit: 20, quiet: true });
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('trains on --data and on --captions; both round-trip every caption', async () => {
    const captions: string[] = [];
    for await (const item of openCaptionSource(path.join(emoji, 'train'))) captions.push(...item.captions);
    const file = path.join(dir, 'captions.txt');
    await fsp.writeFile(file, captions.join('\n'));
    for (const input of [['--data', path.join(emoji, 'train')], ['--captions', file]]) {
      const tokDir = path.join(dir, `tok-${input[0].slice(2)}`);
      const trained = runBin('tokenizer-train.js', [...input, '--vocab-size', '400', '--out', tokDir]);
      assert.equal(trained.status, 0, trained.stderr);
      assert.match(trained.stdout, /vocab \d+/);
      const tok = await loadTextTokenizer(tokDir);
      for (const c of captions) assert.equal(tok.decode(tok.encode(c)), normalizeCaption(c));
    }
  });

  it('exits 2 without exactly one input, or with a too small vocabulary', () => {
    const none = runBin('tokenizer-train.js', ['--out', path.join(dir, 'x')]);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /exactly one of --data/);
    const small = runBin('tokenizer-train.js', ['--captions', 'x.txt', '--vocab-size', '10', '--out', path.join(dir, 'x')]);
    assert.equal(small.status, 2);
  });
});
