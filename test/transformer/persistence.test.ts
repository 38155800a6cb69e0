import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { CONFIG_FILE, UsageError } from '@dalle/core';
import { createTransformer, disposeTransformer, forward, imageSeqLen, loadTransformer, resolveTransformerConfig, saveTransformer, TRANSFORMER_PRESETS } from '@dalle/transformer';
import { FAST } from '../helpers/timeouts.ts';

describe('transformer persistence', function () {
  this.timeout(FAST);
  let dir: string;
  before(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'transformer-persist-'));
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  const cfg = resolveTransformerConfig({ ...TRANSFORMER_PRESETS.tiny });

  it('save -> load gives the same config, info and logits', async () => {
    const model = createTransformer(cfg, 4);
    await saveTransformer(path.join(dir, 'm'), model, { dvaeId: 'dvae-x', tokenizerId: 'tok-y' });
    const loaded = await loadTransformer(path.join(dir, 'm'));
    assert.deepEqual(loaded.config, cfg);
    assert.equal(loaded.info.dvaeId, 'dvae-x');
    assert.equal(loaded.info.tokenizerId, 'tok-y');
    const text = tf.tensor2d([[3, 5, 0, 0]], [1, 4], 'int32');
    const image = tf.tensor2d([[0, 1, 2, 3, 4, 5, 6, 7, 0]], [1, imageSeqLen(cfg)], 'int32');
    const a = forward(model.params, cfg, text, image);
    const b = forward(loaded.params, loaded.config, text, image);
    assert.deepEqual(b.dataSync(), a.dataSync());
    tf.dispose([text, image, a, b]);
    disposeTransformer(model);
    disposeTransformer(loaded);
  });

  it('refuses another kind or format version, naming both', async () => {
    const model = createTransformer(cfg, 4);
    await saveTransformer(path.join(dir, 'k'), model);
    disposeTransformer(model);
    const file = path.join(dir, 'k', CONFIG_FILE);
    const json = JSON.parse(await fsp.readFile(file, 'utf8'));
    await fsp.writeFile(file, JSON.stringify({ ...json, kind: 'dvae' }));
    await assert.rejects(loadTransformer(path.join(dir, 'k')), (e: Error) => e instanceof UsageError && /expected a model of kind "dalle-transformer" but found "dvae"/.test(e.message));
    await fsp.writeFile(file, JSON.stringify({ ...json, formatVersion: 9 }));
    await assert.rejects(loadTransformer(path.join(dir, 'k')), /format version 9 is not supported/);
  });

  it('refuses weights that do not fit the config, naming the tensor', async () => {
    const model = createTransformer(cfg, 4);
    await saveTransformer(path.join(dir, 's'), model);
    disposeTransformer(model);
    const file = path.join(dir, 's', CONFIG_FILE);
    const json = JSON.parse(await fsp.readFile(file, 'utf8'));
    await fsp.writeFile(file, JSON.stringify({ ...json, config: { ...json.config, dModel: 16 } }));
    const before = tf.memory().numTensors;
    await assert.rejects(loadTransformer(path.join(dir, 's')), /tensor "[^"]+" has shape \[[0-9,]+\] but the model expects/);
    assert.equal(tf.memory().numTensors, before, 'a failed load frees its variables');
  });
});
