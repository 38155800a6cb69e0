import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '@dalle/core';
import { DVAE_PRESETS, Dvae, batchTensor, dvaeIdentity, loadDvae, saveDvae } from '@dalle/dvae';
import { FAST } from '../helpers/timeouts.ts';
import { syntheticImages } from './fixtures.ts';

describe('dvae model folder I/O', function () {
  this.timeout(FAST * 3);
  let dir: string;
  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dvae-io-'));
  });
  afterEach(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('save -> load gives identical codes, images and identity', async () => {
    const a = Dvae.create(DVAE_PRESETS.tiny, 4);
    await saveDvae(path.join(dir, 'm'), a, { note: 'test' });
    const b = await loadDvae(path.join(dir, 'm'));
    const x = batchTensor(syntheticImages(3, 16), 16);
    const ca = a.encode(x);
    const cb = b.encode(x);
    const ya = a.decode(ca);
    const yb = b.decode(cb);
    try {
      assert.deepEqual(b.config, a.config);
      assert.deepEqual(Array.from(ca.dataSync()), Array.from(cb.dataSync()));
      assert.deepEqual(Array.from(ya.dataSync()), Array.from(yb.dataSync()));
      assert.equal(dvaeIdentity(a), dvaeIdentity(b));
      assert.match(dvaeIdentity(a), /^[0-9a-f]{64}$/);
      const c = Dvae.create(DVAE_PRESETS.tiny, 5);
      assert.notEqual(dvaeIdentity(c), dvaeIdentity(a));
      c.dispose();
    } finally {
      tf.dispose([x, ca, cb, ya, yb]);
      a.dispose();
      b.dispose();
    }
  });

  it('refuses another kind and another format version', async () => {
    const a = Dvae.create(DVAE_PRESETS.tiny, 4);
    await saveDvae(path.join(dir, 'm'), a);
    a.dispose();
    const file = path.join(dir, 'm', 'config.json');
    const json = JSON.parse(await fsp.readFile(file, 'utf8'));
    await fsp.writeFile(file, JSON.stringify({ ...json, kind: 'dalle-transformer' }));
    await assert.rejects(loadDvae(path.join(dir, 'm')), /expected a model of kind "dalle-dvae" but found "dalle-transformer"/);
    await fsp.writeFile(file, JSON.stringify({ ...json, formatVersion: 99 }));
    await assert.rejects(loadDvae(path.join(dir, 'm')), /format version 99 is not supported/);
  });

  it('refuses a config.json that does not match the weights, naming both values', async () => {
    const a = Dvae.create(DVAE_PRESETS.tiny, 4);
    await saveDvae(path.join(dir, 'm'), a);
    a.dispose();
    const file = path.join(dir, 'm', 'config.json');
    const json = JSON.parse(await fsp.readFile(file, 'utf8'));
    json.config.codebookSize = 64;
    await fsp.writeFile(file, JSON.stringify(json));
    const before = tf.memory().numTensors;
    await assert.rejects(loadDvae(path.join(dir, 'm')), (err: Error) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /config\.json does not match model\.safetensors/);
      assert.match(err.message, /"codebook" has shape \[32,32\] but the model expects \[64,32\]/);
      return true;
    });
    assert.equal(tf.memory().numTensors, before, 'a refused load leaves no tensors behind');
  });

  it('refuses a model whose config differs from the expected one, naming the field and both values', async () => {
    const a = Dvae.create(DVAE_PRESETS.tiny, 4);
    await saveDvae(path.join(dir, 'm'), a);
    a.dispose();
    await assert.rejects(loadDvae(path.join(dir, 'm'), { expect: { codebookSize: 512 } }), /codebookSize is 32 in the checkpoint but 512 was requested/);
  });
});
