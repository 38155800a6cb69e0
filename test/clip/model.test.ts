import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClipModel, clipGradients, clipLogits, embedImages, embedTexts, loadClip, saveClip } from '@dalle/clip';
import { imagesToTensor, UsageError } from '@dalle/core';
import { expectNoLeak } from '../helpers/memory.ts';
import { FAST } from '../helpers/timeouts.ts';
import { syntheticPairs, tinyConfig, wordIds } from './helpers.ts';

describe('clip model', function () {
  this.timeout(FAST * 3);
  let model: ClipModel;
  const cfg = tinyConfig();
  before(() => {
    model = new ClipModel(cfg, 1);
  });
  after(() => model.dispose());

  const idsOf = (captions: string[], len = cfg.textSeqLen!) => tf.tensor2d(captions.map((c) => wordIds(c, len)), [captions.length, len], 'int32');

  it('embeds texts and images as unit vectors of embedDim, without leaks', async () => {
    const ids = idsOf(['a red square', 'a blue circle', 'photo']);
    const images = imagesToTensor(syntheticPairs(cfg.imageSize!).slice(0, 2).map((p) => p.image), cfg.imageSize!);
    const t = await expectNoLeak(() => embedTexts(model, ids), 1);
    const v = await expectNoLeak(() => embedImages(model, images), 1);
    assert.deepEqual(t.shape, [3, cfg.embedDim]);
    assert.deepEqual(v.shape, [2, cfg.embedDim]);
    for (const e of [t, v]) {
      const norms = tf.tidy(() => tf.sqrt(tf.sum(tf.square(e), 1)).arraySync() as number[]);
      for (const n of norms) assert.ok(Math.abs(n - 1) < 1e-5, `norm ${n}`);
    }
    const logits = await expectNoLeak(() => clipLogits(model, images, ids), 1);
    assert.deepEqual(logits.shape, [2, 3]);
    tf.dispose([ids, images, t, v, logits]);
  });

  it('a text embedding does not depend on how much padding follows it', () => {
    const short = idsOf(['a red square'], 3);
    const long = idsOf(['a red square'], cfg.textSeqLen);
    const [a, b] = [embedTexts(model, short), embedTexts(model, long)];
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
    tf.dispose([short, long, a, b]);
    assert.ok(diff < 1e-5, `max difference ${diff}`);
  });

  it('rejects images of the wrong size', () => {
    const bad = tf.zeros([1, cfg.imageSize! + 1, cfg.imageSize! + 1, 3]) as tf.Tensor4D;
    assert.throws(() => embedImages(model, bad), UsageError);
    bad.dispose();
  });

  it('gradients reach every variable, finite and non-zero', () => {
    const pairs = syntheticPairs(cfg.imageSize!).slice(0, 4);
    const images = imagesToTensor(pairs.map((p) => p.image), cfg.imageSize!);
    const ids = idsOf(pairs.map((p) => p.caption));
    const before = tf.memory().numTensors;
    const { loss, logits, grads } = clipGradients(model, images, ids);
    const keys = Object.keys(model.variables());
    assert.deepEqual(Object.keys(grads).sort(), keys.sort());
    for (const k of keys) {
      const g = grads[k].dataSync();
      assert.ok(g.every(Number.isFinite), `gradient of ${k} is not finite`);
      assert.ok(g.some((x) => x !== 0), `gradient of ${k} is all zero`);
    }
    tf.dispose([loss, logits, ...Object.values(grads)]);
    assert.equal(tf.memory().numTensors, before, 'clipGradients leaked tensors');
    tf.dispose([images, ids]);
  });

  it('saves and loads config.json + model.safetensors exactly; refuses a mismatched file', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'clip-model-'));
    try {
      await saveClip(model, path.join(dir, 'm'));
      const loaded = await loadClip(path.join(dir, 'm'));
      for (const [k, v] of Object.entries(model.variables())) {
        assert.deepEqual(loaded.variables()[k].dataSync(), v.dataSync(), `variable ${k} differs after reload`);
      }
      assert.deepEqual(loaded.config, model.config);
      loaded.dispose();
      const other = new ClipModel(tinyConfig({ textLayers: 2 }), 1);
      await saveClip(other, path.join(dir, 'o'));
      other.dispose();
      const cfgFile = path.join(dir, 'o', 'config.json');
      const json = JSON.parse(await fsp.readFile(cfgFile, 'utf8'));
      json.config.textLayers = 1;
      await fsp.writeFile(cfgFile, JSON.stringify(json));
      await assert.rejects(loadClip(path.join(dir, 'o')), /unexpected tensor "text\.blocks\.1\./);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('clip model: gradients with respect to images (for CLIP guidance)', function () {
  this.timeout(FAST * 3);
  it('d(similarity)/d(pixels) through embedImages is finite and non-zero', () => {
    const cfg = tinyConfig();
    const model = new ClipModel(cfg, 4);
    const images = imagesToTensor(syntheticPairs(cfg.imageSize!).slice(0, 2).map((p) => p.image), cfg.imageSize!);
    const ids = tf.tensor2d([wordIds('a red square', cfg.textSeqLen!)], [1, cfg.textSeqLen!], 'int32');
    const text = embedTexts(model, ids);
    const before = tf.memory().numTensors;
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.matMul(embedImages(model, x as tf.Tensor4D), text, false, true)))(images);
    assert.equal(tf.memory().numTensors, before + 1, 'only the gradient may remain');
    assert.deepEqual(g.shape, images.shape);
    const v = g.dataSync();
    assert.ok(v.every(Number.isFinite) && v.some((x) => x !== 0));
    tf.dispose([g, images, ids, text]);
    model.dispose();
  });
});
