// The two data commands end to end: dalle-data emoji on a smoke subset, then tokenizer-train on
// its captions (read without decoding images); exit code 2 for usage errors.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTextTokenizer, normalizeCaption, openCaptionSource } from '@dalle/data';
import { CLI } from '../helpers/timeouts.ts';
import { makeTempDir } from './fixtures.ts';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../packages/data/bin');

function run(bin: string, args: string[]) {
  return spawnSync(process.execPath, [path.join(BIN, bin), ...args], { encoding: 'utf8' });
}

describe('data/cli: dalle-data emoji + tokenizer-train', function () {
  this.timeout(CLI);
  let dir: string;

  before(async () => {
    dir = await makeTempDir('cli');
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('builds a smoke emoji set and trains a tokenizer that round-trips its captions', async () => {
    const out = path.join(dir, 'emoji');
    const built = run('dalle-data.js', ['emoji', '--out', out, '--limit', '12', '--sets', 'twitter', '--quiet']);
    assert.equal(built.status, 0, built.stderr);
    assert.match(built.stdout, /train \d+ images/);
    const manifest = JSON.parse(await fsp.readFile(path.join(out, 'manifest.json'), 'utf8'));
    assert.deepEqual(manifest.sets, ['twitter']);

    const tokDir = path.join(dir, 'tok');
    const trained = run('tokenizer-train.js', ['--data', path.join(out, 'train'), '--vocab-size', '400', '--out', tokDir]);
    assert.equal(trained.status, 0, trained.stderr);
    const tok = await loadTextTokenizer(tokDir);
    let n = 0;
    for await (const item of openCaptionSource(path.join(out, 'train'))) {
      for (const c of item.captions) {
        assert.equal(tok.decode(tok.encode(c)), normalizeCaption(c));
        n++;
      }
    }
    assert.equal(n, manifest.counts.train.pairs);
  });

  it('exits 2 with a one-line reason on usage errors', () => {
    const noSource = run('tokenizer-train.js', ['--out', path.join(dir, 'x')]);
    assert.equal(noSource.status, 2);
    assert.match(noSource.stderr, /exactly one of --data/);
    const badSet = run('dalle-data.js', ['emoji', '--out', path.join(dir, 'y'), '--sets', 'apple']);
    assert.equal(badSet.status, 2);
    assert.match(badSet.stderr, /unknown set "apple"/);
    const badLimit = run('dalle-data.js', ['emoji', '--out', path.join(dir, 'y'), '--limit', '0']);
    assert.equal(badLimit.status, 2);
  });
});
