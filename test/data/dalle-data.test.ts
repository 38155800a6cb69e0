// dalle-data end to end: `emoji` on a smoke subset, `check` on its output and on a bad folder,
// and exit code 2 for usage errors.
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { CLI } from '../helpers/timeouts.ts';
import { runBin } from './cli-helpers.ts';
import { makeTempDir } from './fixtures.ts';

describe('data/cli/dalle-data', function () {
  this.timeout(CLI);
  let dir: string;

  before(async () => {
    dir = await makeTempDir('dalle-data');
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('emoji builds a smoke subset and check reads it back', async () => {
    const out = path.join(dir, 'emoji');
    const built = runBin('dalle-data.js', ['emoji', '--out', out, '--limit', '12', '--sets', 'twitter', '--quiet']);
    assert.equal(built.status, 0, built.stderr);
    const manifest = JSON.parse(await fsp.readFile(path.join(out, 'manifest.json'), 'utf8'));
    assert.deepEqual(manifest.sets, ['twitter']);
    assert.equal(manifest.counts.total.concepts, 12);
    await fsp.writeFile(path.join(out, 'train', 'broken.png'), 'not an image');
    await fsp.writeFile(path.join(out, 'train', 'broken.txt'), 'a caption');
    const checked = runBin('dalle-data.js', ['check', '--data', path.join(out, 'train'), '--image-size', '16']);
    assert.equal(checked.status, 0, checked.stderr);
    assert.ok(checked.stdout.includes(`${manifest.counts.train.images} images, ${manifest.counts.train.pairs} captions, 1 skipped (unreadable image: 1)`), checked.stdout);
    assert.match(checked.stderr, /skipped broken: unreadable image/);
  });

  it('exits 2 with a one-line reason on usage errors', () => {
    const badSet = runBin('dalle-data.js', ['emoji', '--out', path.join(dir, 'y'), '--sets', 'apple']);
    assert.equal(badSet.status, 2);
    assert.match(badSet.stderr, /unknown set "apple"/);
    const noData = runBin('dalle-data.js', ['check', '--data', path.join(dir, 'missing')]);
    assert.equal(noData.status, 2);
    assert.match(noData.stderr, /data not found/);
  });
});
