import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { latestCheckpoint, loadClip, shiftImageInto, trainClipRun, type ClipTrainOptions } from '@dalle/clip';
import { UsageError } from '@dalle/core';
import { TRAINING } from '../helpers/timeouts.ts';
import { TRAIN_STEPS, tinyConfig, trainedTinyClip, writeSyntheticFolder, writeTinyTokenizer } from './helpers.ts';

describe('clip training run', function () {
  this.timeout(TRAINING);
  let root: string;
  const cfg = tinyConfig();
  before(async () => {
    root = await fsp.mkdtemp(path.join(os.tmpdir(), 'clip-run-'));
    await writeTinyTokenizer(path.join(root, 'tok'), cfg.textSeqLen!);
    await writeSyntheticFolder(path.join(root, 'data'), cfg.imageSize!);
  });
  after(() => fsp.rm(root, { recursive: true, force: true }));

  const options = (outDir: string, over: Partial<ClipTrainOptions> = {}): ClipTrainOptions => ({
    data: path.join(root, 'data'),
    tokenizerDir: path.join(root, 'tok'),
    outDir,
    config: cfg,
    steps: 8,
    batchSize: 5, // not a divisor of 8: batches cross epoch ends
    learningRate: 2e-3,
    warmupSteps: 2,
    weightDecay: 0.1,
    checkpointEvery: 3,
    logEvery: 1,
    seed: 9,
    resume: false,
    quiet: true,
    log: () => {},
    ...over,
  });

  it('an abort from a timer (as the Ctrl-C handler runs) stops the run within a step', async () => {
    const controller = new AbortController();
    const onStep = (s: number) => {
      if (s === 1) setTimeout(() => controller.abort(), 0); // no log or checkpoint writes: nothing else turns the event loop
    };
    const r = await trainClipRun(options(path.join(root, 'timer'), { steps: 30, logEvery: 1000, checkpointEvery: 1000, signal: controller.signal, onStep }));
    assert.equal(r.stopped, true);
    assert.ok(r.step <= 3, `stopped at step ${r.step} of 30`);
  });

  it('stopping at step 4 and resuming gives exactly the weights of an uninterrupted run', async () => {
    const before = tf.memory().numTensors;
    const straight = await trainClipRun(options(path.join(root, 'a')));
    assert.equal(tf.memory().numTensors, before, 'a training run must dispose everything it made');
    assert.equal(straight.step, 8);
    assert.equal(straight.stopped, false);
    const controller = new AbortController();
    const first = await trainClipRun(options(path.join(root, 'b'), { signal: controller.signal, onStep: (s) => s === 4 && controller.abort() }));
    assert.equal(first.stopped, true);
    assert.equal(first.step, 4);
    assert.equal(await latestCheckpoint(path.join(root, 'b')), path.join(root, 'b', 'checkpoints', 'step-4'));
    assert.ok(!existsSync(path.join(root, 'b', 'final')), 'a stopped run writes no final model');
    const resumed = await trainClipRun(options(path.join(root, 'b'), { resume: true }));
    assert.equal(resumed.step, 8);
    const [a, b] = [await loadClip(straight.finalDir), await loadClip(resumed.finalDir)];
    for (const [k, v] of Object.entries(a.variables())) assert.deepEqual(b.variables()[k].dataSync(), v.dataSync(), `${k} differs after resume`);
    a.dispose();
    b.dispose();
    const log = (await fsp.readFile(path.join(root, 'a', 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(log.length, 8);
    assert.ok(log.every((r) => Number.isFinite(r.loss) && r.accuracy >= 0 && r.accuracy <= 1));
    const checkpoints = (await fsp.readdir(path.join(root, 'a', 'checkpoints'))).sort();
    assert.deepEqual(checkpoints, ['step-3', 'step-6', 'step-8']);
    const files = await fsp.readdir(path.join(root, 'a', 'checkpoints', 'step-8'));
    for (const f of ['config.json', 'model.safetensors', 'optimizer.safetensors', 'train-state.json', 'tokenizer.json', 'tokenizer_config.json']) assert.ok(files.includes(f), `checkpoint lacks ${f}`);
  });

  it('refuses --resume without checkpoints, and too little data', async () => {
    await assert.rejects(trainClipRun(options(path.join(root, 'empty'), { resume: true })), UsageError);
    await assert.rejects(trainClipRun(options(path.join(root, 'c'), { limit: 1 })), /at least 2 images/);
  });

  it('--init warm-starts from a model folder: with a vanishing learning rate the weights stay those of the init', async () => {
    const t = await trainedTinyClip();
    const run = await trainClipRun(options(path.join(root, 'warm'), { init: path.join(t.run, 'final'), steps: 2, learningRate: 1e-12, weightDecay: 0, seed: 3 }));
    const [init, warm] = [await loadClip(path.join(t.run, 'final')), await loadClip(run.finalDir)];
    for (const [k, v] of Object.entries(init.variables())) {
      const a = v.dataSync();
      const b = warm.variables()[k].dataSync();
      let maxDiff = 0;
      for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
      assert.ok(maxDiff < 1e-6, `${k} moved by ${maxDiff}`);
    }
    init.dispose();
    warm.dispose();
  });

  it('--init refuses a model trained with another tokenizer', async () => {
    const t = await trainedTinyClip();
    const other = path.join(root, 'tok-other');
    await writeTinyTokenizer(other, cfg.textSeqLen!);
    const json = JSON.parse(await fsp.readFile(path.join(other, 'tokenizer.json'), 'utf8'));
    json.model.vocab.zebra = Object.keys(json.model.vocab).length;
    await fsp.writeFile(path.join(other, 'tokenizer.json'), JSON.stringify(json));
    await assert.rejects(trainClipRun(options(path.join(root, 'warm-bad'), { init: path.join(t.run, 'final'), tokenizerDir: other })), /another tokenizer/);
  });

  it('shiftImageInto moves pixels by (dx, dy), replicates edges, and is the identity at (0, 0)', () => {
    const size = 4;
    const src = new Uint8Array(size * size * 3).map((_, i) => i % 251);
    const at = (img: ArrayLike<number>, y: number, x: number) => Array.from({ length: 3 }, (_, c) => img[(y * size + x) * 3 + c]);
    const same = new Float32Array(size * size * 3);
    shiftImageInto(src, size, 0, 0, same, 0);
    assert.deepEqual(Array.from(same), Array.from(src, (v) => Math.fround(v / 255)));
    const out = new Float32Array(2 + size * size * 3);
    shiftImageInto(src, size, 1, -2, out, 2);
    const view = out.subarray(2);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const sy = Math.min(size - 1, Math.max(0, y + 2));
        const sx = Math.min(size - 1, Math.max(0, x - 1));
        assert.deepEqual(at(view, y, x), at(src, sy, sx).map((v) => Math.fround(v / 255)), `pixel (${y}, ${x})`);
      }
    }
    assert.deepEqual(Array.from(out.subarray(0, 2)), [0, 0], 'nothing before the offset is written');
    assert.throws(() => shiftImageInto(src, 5, 0, 0, out, 0), /expected 5x5x3 bytes/);
  });

  it('a run with --shift augmentation resumes exactly', async () => {
    const straight = await trainClipRun(options(path.join(root, 'sa'), { shift: 2 }));
    const controller = new AbortController();
    await trainClipRun(options(path.join(root, 'sb'), { shift: 2, signal: controller.signal, onStep: (s) => s === 5 && controller.abort() }));
    const resumed = await trainClipRun(options(path.join(root, 'sb'), { shift: 2, resume: true }));
    const [a, b] = [await loadClip(straight.finalDir), await loadClip(resumed.finalDir)];
    for (const [k, v] of Object.entries(a.variables())) assert.deepEqual(b.variables()[k].dataSync(), v.dataSync(), `${k} differs after resume`);
    const plain = await loadClip((await trainClipRun(options(path.join(root, 'sc')))).finalDir);
    const moved = Object.entries(plain.variables()).some(([k, v]) => {
      const x = v.dataSync();
      const y = a.variables()[k].dataSync();
      return x.some((value, i) => value !== y[i]);
    });
    assert.ok(moved, 'shifted images must change what the model learns');
    for (const m of [a, b, plain]) m.dispose();
  });

  it('the shared fixture run trained to a low loss and exported', async () => {
    const t = await trainedTinyClip();
    const log = (await fsp.readFile(path.join(t.run, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    const last = log[log.length - 1];
    assert.equal(last.step, TRAIN_STEPS);
    assert.ok(last.loss < log[0].loss / 4, `loss ${log[0].loss} -> ${last.loss}`);
    assert.equal(last.accuracy, 1);
    assert.ok(existsSync(path.join(t.exported, 'onnx', 'vision_model_quantized.onnx')));
  });
});
