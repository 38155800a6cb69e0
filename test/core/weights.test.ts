import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import { mkdtempSync, promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { assignVariables, loadModelDir, readModelConfig, saveModelDir, tensorsToData, UsageError, writeDirAtomic, writeFileAtomic } from '@dalle/core';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'w-'));

describe('weights folders', () => {
  it('saves and loads config + tensors, then assigns them into variables', async () => {
    const dir = path.join(tmp(), 'model');
    const a = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    const b = tf.tensor1d([7, 8], 'int32');
    await saveModelDir(dir, { kind: 'toy', formatVersion: 1, config: { width: 3 } }, tensorsToData({ 'layer.w': a, 'layer.ids': b }));
    const { file, tensors } = await loadModelDir<{ width: number }>(dir, { kind: 'toy', formatVersion: 1 });
    assert.equal(file.config.width, 3);
    const vars = { 'layer.w': tf.variable(tf.zeros([2, 3])), 'layer.ids': tf.variable(tf.zeros([2], 'int32')) };
    assignVariables(vars, tensors, dir);
    assert.deepEqual(Array.from(vars['layer.w'].dataSync()), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(Array.from(vars['layer.ids'].dataSync()), [7, 8]);
    tf.dispose([a, b, ...Object.values(vars)]);
  });

  it('names the first missing, extra or mis-shaped tensor before assigning anything', async () => {
    const dir = path.join(tmp(), 'model');
    await saveModelDir(dir, { kind: 'toy', formatVersion: 1, config: {} }, tensorsToData({ w: tf.zeros([2, 2]), b: tf.zeros([2]) }));
    const { tensors } = await loadModelDir(dir, { kind: 'toy', formatVersion: 1 });
    const w = tf.variable(tf.ones([2, 2]));
    assert.throws(() => assignVariables({ w, b: tf.variable(tf.ones([3])) }, tensors, 'ckpt'), /ckpt: tensor "b" has shape \[2\] but the model expects \[3\]/);
    assert.throws(() => assignVariables({ w, b: tf.variable(tf.ones([2])), c: tf.variable(tf.ones([1])) }, tensors, 'ckpt'), /ckpt: missing tensor "c"/);
    assert.throws(() => assignVariables({ w }, tensors, 'ckpt'), /ckpt: unexpected tensor "b"/);
    assert.deepEqual(Array.from(w.dataSync()), [1, 1, 1, 1], 'nothing assigned after a failed check');
  });

  it('refuses the wrong kind, an unsupported version and a missing folder', async () => {
    const dir = path.join(tmp(), 'model');
    await saveModelDir(dir, { kind: 'dvae', formatVersion: 1, config: {} }, {});
    await assert.rejects(readModelConfig(dir, { kind: 'transformer', formatVersion: 1 }), (e: Error) => e instanceof UsageError && /expected a model of kind "transformer" but found "dvae"/.test(e.message));
    await assert.rejects(readModelConfig(dir, { kind: 'dvae', formatVersion: 2 }), /format version 1 is not supported \(this build reads version 2\)/);
    await assert.rejects(readModelConfig(path.join(dir, 'nope'), { kind: 'dvae', formatVersion: 1 }), /no config\.json in .*nope/);
  });

  it('replaces a folder atomically and keeps the old one when filling fails', async () => {
    const root = tmp();
    const dir = path.join(root, 'out');
    await writeDirAtomic(dir, async (t) => fsp.writeFile(path.join(t, 'a.txt'), 'one'));
    await assert.rejects(writeDirAtomic(dir, async (t) => {
      await fsp.writeFile(path.join(t, 'a.txt'), 'two');
      throw new Error('disk full');
    }), /disk full/);
    assert.equal(await fsp.readFile(path.join(dir, 'a.txt'), 'utf8'), 'one');
    await writeDirAtomic(dir, async (t) => fsp.writeFile(path.join(t, 'b.txt'), 'three'));
    assert.deepEqual(await fsp.readdir(dir), ['b.txt']);
    assert.deepEqual(await fsp.readdir(root), ['out'], 'no temporary folders left behind');
    await writeFileAtomic(path.join(root, 'f.json'), '{}');
    assert.deepEqual((await fsp.readdir(root)).sort(), ['f.json', 'out']);
  });
});
