// dalle-sample end to end on a tiny weights folder: the files it writes, --json, reproducible PNG
// bytes for a fixed seed, priming through the real dVAE, the truncation warning, the default --out.
import { imagesToTensor, loadImageRgb, encodePng } from '@dalle/core';
import { loadDvae } from '@dalle/dvae';
import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CLI } from '../helpers/timeouts.ts';
import { makeTinyWeights, type TinyWeights } from '../sampler/fixture.ts';
import { okRun, runBin, runNamed, type CliRun } from './cli.ts';

const BIN = 'packages/sampler/bin/dalle-sample.js';
const FILES = ['01.png', '02.png', 'grid.png', 'results.json'];
const LONG_PROMPT = 'a yellow sun with a smile and a red heart and a blue star';

describe('e2e/dalle-sample', function () {
  this.timeout(CLI);
  let root: string;
  let weights: TinyWeights;
  let primeFile: string;
  const runs: Record<string, CliRun> = {};
  const out = (name: string) => path.join(root, name);

  before(async function () {
    this.timeout(CLI);
    root = mkdtempSync(path.join(tmpdir(), 'dalle-sample-e2e-'));
    weights = await makeTinyWeights({ dir: path.join(root, 'weights'), clip: true });
    const s = weights.imageSize;
    const pixels = Float32Array.from({ length: s * s * 3 }, (_, i) => ((i * 7919) % 101) / 100);
    primeFile = path.join(root, 'prime.png');
    writeFileSync(primeFile, await encodePng(pixels, s, s));
    // The same parts under a manifest that recommends sampling settings.
    const tuned = path.join(root, 'tuned');
    mkdirSync(tuned);
    for (const part of ['tokenizer', 'dvae', 'transformer']) symlinkSync(path.join(weights.dir, part), path.join(tuned, part));
    const manifest = JSON.parse(readFileSync(path.join(weights.dir, 'manifest.json'), 'utf8'));
    writeFileSync(path.join(tuned, 'manifest.json'), JSON.stringify({ ...manifest, sampling: { condScale: 1.5, topK: 5 } }));
    const common = ['--weights', weights.dir, '--clip', 'none', '-n', '2', '--candidates', '2', '--batch-size', '1'];
    const tunedArgs = ['a red heart', '--weights', tuned, '--clip', 'none', '-n', '2', '--candidates', '2', '--seed', '3'];
    const jobs: Record<string, () => Promise<CliRun>> = {
      a: () => runBin(BIN, ['a red heart', ...common, '--seed', '7', '--out', out('a'), '--json', '-v']),
      b: () => runBin(BIN, ['a red heart', ...common, '--seed', '7', '--out', out('b')]),
      prime: () => runBin(BIN, ['a red heart', ...common, '--prime', primeFile, '--prime-rows', '2', '--out', out('prime')]),
      // No --clip: the weights folder's own CLIP reranks.
      clip: () => runBin(BIN, ['a blue star', '--weights', weights.dir, '-n', '2', '--candidates', '3', '--batch-size', '3', '--cond-scale', '1', '--out', out('clip')]),
      // The manifest's "sampling" as defaults, the same settings as flags, and a flag over them.
      tuned: () => runBin(BIN, [...tunedArgs, '--out', out('tuned-out')]),
      flags: () => runBin(BIN, ['a red heart', ...common, '--seed', '3', '--cond-scale', '1.5', '--top-k', '5', '--out', out('flags')]),
      override: () => runBin(BIN, [...tunedArgs, '--cond-scale', '1', '--out', out('override')]),
      // A long prompt, and no --out: out/<slug> under the working folder.
      long: () => runBin(BIN, [LONG_PROMPT, ...common], { cwd: root }),
    };
    await runNamed(jobs, runs);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const ok = (name: string) => okRun(runs, name);

  it('writes 01.png … grid.png results.json, prints where, and --json prints results.json', () => {
    const r = ok('a');
    assert.deepEqual(readdirSync(out('a')).sort(), FILES);
    assert.match(r.stderr, new RegExp(`wrote 2 image\\(s\\), grid.png and results.json to ${out('a').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const json = JSON.parse(readFileSync(path.join(out('a'), 'results.json'), 'utf8'));
    assert.deepEqual(JSON.parse(r.stdout), json);
    assert.equal(json.prompt, 'a red heart');
    assert.equal(json.settings.seed, 7);
    assert.equal(json.settings.reranker, 'none');
    assert.equal(json.images.length, 2);
    assert.equal(json.candidates.length, 2);
    for (const img of json.images) {
      assert.equal(img.clipScore, null);
      assert.equal(typeof img.selfScore, 'number');
      assert.equal(img.codes.length, weights.gridSize ** 2);
    }
    assert.ok(json.images[0].selfScore >= json.images[1].selfScore, 'best first by self-score');
    for (const k of ['load', 'sample', 'decode', 'rerank', 'png', 'write']) assert.equal(typeof json.timingsMs[k], 'number', k);
    assert.match(r.stderr, /timings \(ms\): load \d+/, '-v prints the phase timings');
    assert.match(r.stderr, /sampling .*32\/32/, 'a progress bar over the 2 x 16 tokens');
  });

  it('reranks with <weights>/clip by default, best CLIP score first', () => {
    ok('clip');
    const json = JSON.parse(readFileSync(path.join(out('clip'), 'results.json'), 'utf8'));
    assert.equal(json.settings.reranker, path.join(weights.dir, 'clip'));
    const scores: number[] = json.candidates.map((c: { clipScore: number }) => c.clipScore);
    assert.ok(scores.every((v) => typeof v === 'number'));
    assert.deepEqual(json.images.map((i: { clipScore: number }) => i.clipScore), [...scores].sort((a, b) => b - a).slice(0, 2));
  });

  it('a fixed seed gives identical PNG bytes twice', () => {
    ok('a');
    ok('b');
    for (const f of ['01.png', '02.png', 'grid.png']) assert.ok(readFileSync(path.join(out('a'), f)).equals(readFileSync(path.join(out('b'), f))), f);
  });

  it('the weights\' manifest "sampling" sets the defaults; flags override them', () => {
    const settings = (dir: string) => JSON.parse(readFileSync(path.join(out(dir), 'results.json'), 'utf8')).settings;
    ok('tuned');
    assert.deepEqual([settings('tuned-out').condScale, settings('tuned-out').topK], [1.5, 5]);
    ok('flags');
    for (const f of ['01.png', '02.png']) assert.ok(readFileSync(path.join(out('tuned-out'), f)).equals(readFileSync(path.join(out('flags'), f))), `${f}: as if given by flags`);
    ok('override');
    assert.deepEqual([settings('override').condScale, settings('override').topK], [1, 5]);
  });

  it('--prime keeps the first rows of the image codes exactly', async () => {
    ok('prime');
    const json = JSON.parse(readFileSync(path.join(out('prime'), 'results.json'), 'utf8'));
    assert.equal(json.settings.primeRows, 2);
    const dvae = await loadDvae(path.join(weights.dir, 'dvae'));
    const s = weights.imageSize;
    const pixels = await loadImageRgb(primeFile, s);
    const enc = tf.tidy(() => dvae.encode(imagesToTensor([pixels], s)));
    const want = Array.from(await enc.data()).slice(0, 2 * weights.gridSize);
    enc.dispose();
    dvae.dispose();
    for (const img of json.images) assert.deepEqual(img.codes.slice(0, 2 * weights.gridSize), want);
  });

  it('a prompt longer than the text length is truncated with a warning; the default --out is out/<slug>', () => {
    const r = ok('long');
    assert.match(r.stderr, /warning: the prompt is longer than the model's 12 text tokens and was truncated/);
    const dir = path.join(root, 'out', 'a-yellow-sun-with-a-smile-and-a-red-heart-and-a-blue-star');
    assert.deepEqual(readdirSync(dir).sort(), FILES);
    assert.equal(JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')).truncated, true);
    assert.doesNotMatch(ok('a').stderr, /truncated/);
  });
});
