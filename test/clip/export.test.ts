import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClipModel, embedImages, embedTexts, exportTransformersJs, loadClip, loadClipScorer, ONNX_FILES } from '@dalle/clip';
import { imagesToTensor } from '@dalle/core';
import { expectNoLeak } from '../helpers/memory.ts';
import { CLI } from '../helpers/timeouts.ts';
import { syntheticPairs, tinyConfig, wordIds, writeTinyTokenizer } from './helpers.ts';

const TOL = 1e-4;

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

describe('clip export (transformers.js layout)', function () {
  this.timeout(CLI);
  let dir: string;
  let model: ClipModel;
  const cfg = tinyConfig();

  before(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'clip-export-'));
    await writeTinyTokenizer(path.join(dir, 'tok'), 64);
    model = new ClipModel(cfg, 11);
    await exportTransformersJs(model, path.join(dir, 'tok'), path.join(dir, 'out'));
  });
  after(async () => {
    model.dispose();
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('writes config, tokenizer, preprocessor and both ONNX graphs (plain and _quantized names)', async () => {
    const files = await fsp.readdir(path.join(dir, 'out'));
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json', 'model.safetensors']) assert.ok(files.includes(f), `missing ${f}`);
    const onnx = await fsp.readdir(path.join(dir, 'out', 'onnx'));
    assert.deepEqual(onnx.sort(), [...ONNX_FILES].sort());
    const config = JSON.parse(await fsp.readFile(path.join(dir, 'out', 'config.json'), 'utf8'));
    assert.equal(config.model_type, 'clip');
    assert.equal(config.projection_dim, cfg.embedDim);
    const tokConfig = JSON.parse(await fsp.readFile(path.join(dir, 'out', 'tokenizer_config.json'), 'utf8'));
    assert.equal(tokConfig.model_max_length, cfg.textSeqLen, 'tokenizer must truncate at the model text length');
  });

  it('the exported folder is also a loadClip folder with identical weights', async () => {
    const loaded = await loadClip(path.join(dir, 'out'));
    for (const [k, v] of Object.entries(model.variables())) assert.deepEqual(loaded.variables()[k].dataSync(), v.dataSync(), k);
    loaded.dispose();
  });

  for (const quantized of [false, true]) {
    it(`transformers.js embeddings match the TensorFlow.js model within ${TOL} (quantized: ${quantized})`, async () => {
      const scorer = await loadClipScorer(path.join(dir, 'out'), { quantized });
      try {
        const texts = ['a red square', 'a blue circle', 'photo of a yellow square', 'green', 'an unknown word'];
        const ids = tf.tensor2d(texts.map((t) => wordIds(t, cfg.textSeqLen!)), [texts.length, cfg.textSeqLen!], 'int32');
        const want = embedTexts(model, ids);
        const got = await expectNoLeak(() => scorer.embedTexts(texts), 1);
        assert.deepEqual(got.shape, want.shape);
        const dText = maxAbsDiff(got, want);
        assert.ok(dText < TOL, `text embeddings differ by ${dText}`);

        const pairs = syntheticPairs(cfg.imageSize!);
        const images = imagesToTensor(pairs.map((p) => p.image), cfg.imageSize!);
        const wantImg = embedImages(model, images);
        const gotImg = await expectNoLeak(() => scorer.embedImages(images), 1);
        const dImg = maxAbsDiff(gotImg, wantImg);
        assert.ok(dImg < TOL, `image embeddings differ by ${dImg}`);
        tf.dispose([ids, want, got, images, wantImg, gotImg]);
      } finally {
        await scorer.dispose();
      }
    });
  }

  it('scorer: similarity, score and classify agree and leave no tensors behind', async () => {
    const scorer = await loadClipScorer(path.join(dir, 'out'));
    try {
      const pairs = syntheticPairs(cfg.imageSize!).slice(0, 3);
      const images = imagesToTensor(pairs.map((p) => p.image), cfg.imageSize!);
      const labels = ['a red square', 'a blue circle'];
      const sims = await expectNoLeak(() => scorer.similarity(images, labels), 1);
      assert.deepEqual(sims.shape, [3, 2]);
      const rows = sims.arraySync();
      const scores = await expectNoLeak(() => scorer.score(labels[1], images));
      scores.forEach((v, i) => assert.ok(Math.abs(v - rows[i][1]) < 1e-6));
      const probs = await expectNoLeak(() => scorer.classify(images, labels));
      probs.forEach((p, i) => {
        const e = labels.map((_, j) => Math.exp(scorer.logitScale * rows[i][j]));
        const z = e[0] + e[1];
        p.forEach((v, j) => assert.ok(Math.abs(v - e[j] / z) < 1e-5, `p ${v} vs ${e[j] / z}`));
      });
      const asArrays = await scorer.score(labels[1], pairs.map((p) => ({ data: p.image, width: cfg.imageSize!, height: cfg.imageSize! })));
      asArrays.forEach((v, i) => assert.ok(Math.abs(v - scores[i]) < 1e-6, 'HWC arrays and tensors must score the same'));
      tf.dispose([sims, images]);
    } finally {
      await scorer.dispose();
    }
  });

  it('refuses a missing folder unless remote loading is allowed', async () => {
    await assert.rejects(loadClipScorer(path.join(dir, 'nope')), /--allow-remote/);
  });
});

describe('clip export with the project tokenizer (@dalle/data byte-level BPE)', function () {
  this.timeout(CLI);

  it('transformers.js tokenises like encodeText, so prompts embed the same as in TensorFlow.js (1e-4)', async () => {
    const { trainTextTokenizer, loadTextTokenizer, encodeText } = await import('@dalle/data');
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'clip-bpe-'));
    try {
      const captions = ['a red square', 'a blue circle', 'a smiling face with sunglasses', 'two cats on a mat', 'The Red Car'];
      await trainTextTokenizer(captions, { outDir: path.join(dir, 'tok'), vocabSize: 300 });
      const tok = await loadTextTokenizer(path.join(dir, 'tok'));
      const cfg = tinyConfig({ textVocabSize: tok.vocabSize, padId: tok.padId, textSeqLen: 12 });
      const model = new ClipModel(cfg, 5);
      await exportTransformersJs(model, path.join(dir, 'tok'), path.join(dir, 'out'));
      const scorer = await loadClipScorer(path.join(dir, 'out'));
      try {
        const texts = ['A  Red SQUARE', 'two cats', 'a smiling face with sunglasses on a very long line of words that gets truncated', 'zebra!'];
        const ids = tf.tensor2d(texts.map((t) => Array.from(encodeText(tok, t, cfg.textSeqLen!).ids)), [texts.length, cfg.textSeqLen!], 'int32');
        const want = embedTexts(model, ids);
        const got = await scorer.embedTexts(texts);
        const d = maxAbsDiff(got, want);
        assert.ok(d < TOL, `text embeddings differ by ${d}`);
        tf.dispose([ids, want, got]);
      } finally {
        await scorer.dispose();
        model.dispose();
      }
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
