// loadPipeline on a tiny weights folder built by the other packages: agreement checks naming the
// first mismatch, reproducible generation, and tensors freed across calls and on dispose().
import { UsageError } from '@dalle/core';
import { loadDvae, saveDvae, trainDvae } from '@dalle/dvae';
import { generate, loadPipeline, type Reranker } from '@dalle/sampler';
import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { expectNoLeak } from '../helpers/memory.ts';
import { TRAINING } from '../helpers/timeouts.ts';
import { makeTinyWeights, type TinyWeights } from './fixture.ts';

describe('sampler/pipeline', function () {
  this.timeout(TRAINING); // builds three small weights folders (tokenizer training included)
  let root: string;
  let weights: TinyWeights;
  before(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'sampler-pipeline-'));
    weights = await makeTinyWeights({ dir: path.join(root, 'ok') });
    // Warm the transformer's cached attention masks, so they do not count below.
    const p = await loadPipeline(weights.dir, { clip: 'none' });
    await generate('warm up', { pipeline: p, n: 1, numCandidates: 1 });
    await p.dispose();
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('loads, generates reproducible PNG bytes, and frees everything it made on dispose', async () => {
    const before = tf.memory().numTensors;
    const p = await loadPipeline(weights.dir, { clip: 'none' });
    assert.equal(p.prior.codebookSize, weights.codebookSize);
    assert.equal(p.imageTokenizer.imageSize, weights.imageSize);
    const a = await generate('a red heart', { pipeline: p, n: 2, numCandidates: 3, seed: 11 });
    const b = await expectNoLeak(() => generate('a red heart', { pipeline: p, n: 2, numCandidates: 3, seed: 11, batchSize: 2 }));
    a.images.forEach((img, i) => assert.ok(img.png.equals(b.images[i].png), `image ${i}`));
    assert.ok(a.timings.loadMs > 0);
    await expectNoLeak(() => generate('a blue star', { pipeline: p, n: 1, numCandidates: 2, condScale: 1 }));
    await p.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  it('generate() without a pipeline loads the weights folder itself and frees it', async () => {
    const opts = { weights: weights.dir, clip: 'none', n: 1, numCandidates: 2, seed: 3 };
    await generate('a red heart', opts); // warms the transformer's per-shape caches
    const before = tf.memory().numTensors;
    const r = await generate('a red heart', opts);
    assert.equal(r.images.length, 1);
    assert.ok(r.timings.loadMs > 0);
    assert.equal(tf.memory().numTensors, before);
  });

  it('an injected reranker puts the highest score first', async () => {
    const byBrightness: Reranker = {
      async score(_prompt, images) {
        const m = tf.mean(images, [1, 2, 3]);
        const s = Array.from(await m.data());
        m.dispose();
        return s;
      },
    };
    const p = await loadPipeline(weights.dir, { clip: byBrightness });
    try {
      const r = await generate('a cat', { pipeline: p, n: 3, numCandidates: 4 });
      const best = Math.max(...r.candidates.map((c) => c.clipScore!));
      assert.equal(r.images[0].clipScore, best);
      for (let i = 1; i < 3; i++) assert.ok(r.images[i - 1].clipScore! >= r.images[i].clipScore!);
    } finally {
      await p.dispose();
    }
  });

  it('names the first mismatch between parts and frees what it loaded', async () => {
    const cases: [Parameters<typeof makeTinyWeights>[0], RegExp][] = [
      [{ transformer: { imageVocabSize: 16 } }, /codebook size: dvae\/ has 32 but transformer\/ has 16/],
      [{ transformer: { gridSize: 3 } }, /image grid: dvae\/ has "4x4 = 16 codes" but transformer\/ has "9 image positions"/],
      [{ manifest: { textSeqLen: 20 } }, /text length: manifest.json has 20 but transformer\/ has 12/],
      [{ manifest: { tokenizerId: 'abc' } }, /tokenizer identity: manifest.json has "abc"/],
    ];
    const dirs: string[] = [];
    for (const [i, [opts]] of cases.entries()) dirs.push((await makeTinyWeights({ ...opts, dir: path.join(root, `bad-${i}`) })).dir);
    const before = tf.memory().numTensors;
    for (const [i, [, re]] of cases.entries()) {
      await assert.rejects(loadPipeline(dirs[i], { clip: 'none' }), (e: Error) => e instanceof UsageError && re.test(e.message), re.source);
    }
    assert.equal(tf.memory().numTensors, before, 'a refused folder leaves no tensors behind');
    // dvae/ replaced by a decoder-only fine-tune of itself: same codes, accepted; by a full
    // fine-tune (the encoder moves): refused, since the transformer knows the old codes.
    const base = await loadDvae(path.join(weights.dir, 'dvae'));
    const images = Array.from({ length: 3 }, (_, i) => new Float32Array(weights.imageSize * weights.imageSize * 3).fill(i / 3));
    for (const decoderOnly of [true, false]) {
      const tuned = await trainDvae({ images, init: base, train: { decoderOnly, steps: 2, batchSize: 3, warmupSteps: 0, lr: 1e-2 } });
      const copy = path.join(root, `dvae-${decoderOnly ? 'decoder' : 'full'}`);
      cpSync(weights.dir, copy, { recursive: true });
      await saveDvae(path.join(copy, 'dvae'), tuned.dvae);
      tuned.dvae.dispose();
      if (decoderOnly) await (await loadPipeline(copy, { clip: 'none' })).dispose();
      else await assert.rejects(loadPipeline(copy, { clip: 'none' }), /dVAE identity: dvae\/ has "[0-9a-f]{64}" but transformer\/ \(trained on codes of\) has/);
    }
    base.dispose();
    await assert.rejects(loadPipeline(weights.dir), /no CLIP model at .*clip: pass --clip none/);
    await assert.rejects(loadPipeline(path.join(root, 'nothing')), /does not exist/);
    await assert.rejects(loadPipeline(weights.dir, { clip: path.join(root, 'no-clip') }), /no CLIP folder at .*no-clip/);
  });
});

describe('sampler/pipeline with CLIP', function () {
  this.timeout(TRAINING);
  let root: string;
  before(() => (root = mkdtempSync(path.join(tmpdir(), 'sampler-clip-'))));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('reranks with the weights folder clip/ by default: best CLIP score first', async () => {
    const w = await makeTinyWeights({ dir: path.join(root, 'w'), clip: true });
    const p = await loadPipeline(w.dir);
    try {
      assert.equal(p.rerankerName, path.join(w.dir, 'clip'));
      const r = await generate('a red heart', { pipeline: p, n: 3, numCandidates: 4, batchSize: 3 });
      const scores = r.candidates.map((c) => c.clipScore!);
      assert.ok(scores.every((s) => Number.isFinite(s)));
      assert.deepEqual(r.images.map((i) => i.clipScore), [...scores].sort((a, b) => b - a).slice(0, 3));
    } finally {
      await p.dispose();
    }
  });
});
