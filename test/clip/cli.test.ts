import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { CLI } from '../helpers/timeouts.ts';
import { trainedTinyClip } from './helpers.ts';

const BIN = path.resolve('packages/clip/bin');

function run(name: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(BIN, `${name}.js`), ...args], { encoding: 'utf8', env: { ...process.env, DALLE_BACKEND: 'cpu' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('clip commands', function () {
  this.timeout(CLI);

  it('clip-search prints the top k, the matching image first', async () => {
    const t = await trainedTinyClip();
    const r = run('clip-search', [t.data, 'a blue circle', '-k', '2', '--clip', t.exported]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0], /blue-circle\.png$/);
  });

  it('clip-classify prints label probabilities per image (JSON)', async () => {
    const t = await trainedTinyClip();
    const r = run('clip-classify', [t.files[0], t.files[3], '--labels', 'a red square,a green circle,a blue square', '--clip', t.exported, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { file: string; labels: { label: string; probability: number }[] }[];
    assert.equal(out.length, 2);
    assert.equal(out[0].labels[0].label, 'a red square');
    assert.equal(out[1].labels[0].label, 'a green circle');
  });

  it('clip-export writes the transformers.js folder from a trained model folder', async () => {
    const t = await trainedTinyClip();
    const out = path.join(t.root, 'cli-export');
    const r = run('clip-export', [path.join(t.run, 'final'), '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(path.join(out, 'onnx', 'text_model.onnx')));
  });

  it('usage errors exit with code 2 and one line saying what was expected', async () => {
    const t = await trainedTinyClip();
    const one = run('clip-classify', [t.files[0], '--labels', 'just one', '--clip', t.exported]);
    assert.equal(one.status, 2);
    assert.match(one.stderr, /at least 2 comma-separated labels/);
  });
});
