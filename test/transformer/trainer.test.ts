import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '@dalle/core';
import {
  NonFiniteLossError,
  TransformerTrainer,
  checkDatasetFits,
  conditionalGain,
  createDecoder,
  createEpochOrder,
  createTransformer,
  disposeTransformer,
  imageSeqLen,
  latestCheckpoint,
  learningRateAt,
  loadCheckpoint,
  resolveTrainConfig,
  resolveTransformerConfig,
  trainTransformer,
  TRANSFORMER_PRESETS,
} from '@dalle/transformer';
import { expectNoLeak } from '../helpers/memory.ts';
import { TRAINING } from '../helpers/timeouts.ts';
import { memoryDataset } from './fixtures.ts';

const tiny = resolveTransformerConfig({ ...TRANSFORMER_PRESETS.tiny, captionDropout: 0 });

describe('transformer trainer', function () {
  this.timeout(TRAINING);
  let dir: string;
  before(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'transformer-train-'));
  });
  after(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('learning rate: linear warm-up, then cosine down to the floor', () => {
    const cfg = resolveTrainConfig({ steps: 110, warmupSteps: 10, learningRate: 1e-3, minLearningRateFraction: 0.1 });
    assert.ok(Math.abs(learningRateAt(cfg, 5) - 5e-4) < 1e-12);
    assert.ok(Math.abs(learningRateAt(cfg, 10) - 1e-3) < 1e-12);
    assert.ok(Math.abs(learningRateAt(cfg, 60) - 5.5e-4) < 1e-12);
    assert.ok(Math.abs(learningRateAt(cfg, 110) - 1e-4) < 1e-12);
    for (let s = 11; s < 110; s++) assert.ok(learningRateAt(cfg, s + 1) <= learningRateAt(cfg, s));
  });

  it('rejects bad train settings and mismatched datasets with clear messages', () => {
    assert.throws(() => resolveTrainConfig({ batchSize: 0 }), /batchSize must be an integer >= 1, got 0/);
    assert.throws(() => resolveTrainConfig({ beta2: 1 }), /beta1 and beta2 must be below 1/);
    assert.throws(() => resolveTrainConfig({ balanceGroups: 'yes' as unknown as boolean }), /balanceGroups must be true or false, got "yes"/);
    // checkpoints saved before the field existed resume with the plain order
    const { balanceGroups: _, dropout: __, ...old } = resolveTrainConfig({});
    assert.equal(resolveTrainConfig(old).balanceGroups, false);
    assert.equal(resolveTrainConfig(old).dropout, 0);
    assert.throws(() => resolveTrainConfig({ dropout: 1 }), /dropout must be below 1 \(it is the probability of zeroing an activation\), got 1/);
    assert.throws(() => resolveTrainConfig({ dropout: -0.1 }), /dropout must be a number in \[0, 1\], got -0.1/);
    const data = memoryDataset(tiny, 2);
    checkDatasetFits(tiny, { dvaeId: 'dvae-test' }, data.manifest, 'd');
    assert.throws(() => checkDatasetFits(tiny, { dvaeId: 'other' }, data.manifest, 'd'), (e: Error) => e instanceof UsageError && /d: dataset dvaeId is "dvae-test" but the model expects "other"/.test(e.message));
    assert.throws(() => checkDatasetFits(resolveTransformerConfig({ ...tiny, gridSize: 4 }), {}, data.manifest, 'd'), /dataset gridSize is 3 but the model expects 4/);
    assert.throws(() => checkDatasetFits(tiny, { tokenizerId: 'x' }, data.manifest, 'd'), /tokenizerId is "tok-test" but the model expects "x"/);
  });

  it('overfits 8 caption/image pairs, then greedy decoding through the cache returns every image', async () => {
    const data = memoryDataset(tiny, 8, 3);
    const model = createTransformer(tiny, 11);
    const config = resolveTrainConfig({ steps: 70, batchSize: 8, learningRate: 1e-2, warmupSteps: 10, weightDecay: 0, logEvery: 50, checkpointEvery: 1000 });
    const result = await trainTransformer({ model, config, train: data, createOrder: createEpochOrder });
    const last = result.history.at(-1)!;
    assert.ok(last.image < 0.05, `image loss ${last.image}`);
    assert.ok(result.history[0].image > 1.5, `first image loss ${result.history[0].image}`);

    const N = imageSeqLen(tiny);
    const all = data.batch([...Array(8).keys()]);
    const text = tf.tensor2d(all.text, [8, tiny.textSeqLen], 'int32');
    const decoder = createDecoder(model, 8);
    const out = new Int32Array(8 * N);
    let logits = decoder.prefill(text);
    for (let i = 0; i < N; i++) {
      const next = tf.tidy(() => tf.argMax(logits, 1)) as tf.Tensor1D;
      next.dataSync().forEach((c, b) => (out[b * N + i] = c));
      logits.dispose();
      if (i < N - 1) logits = decoder.step(next);
      next.dispose();
    }
    decoder.dispose();
    text.dispose();
    assert.deepEqual([...out], [...all.codes]);

    const gain = conditionalGain(model, data, { batchSize: 8 });
    assert.ok(gain.gain > 0.2, `true ${gain.trueCaptions} vs shuffled ${gain.shuffledCaptions}`);
    disposeTransformer(model);
  });

  it('resuming from a checkpoint continues the same loss curve as an uninterrupted run (caption dropout and dropout included)', async () => {
    const cfg = resolveTransformerConfig({ ...TRANSFORMER_PRESETS.tiny, captionDropout: 0.3 });
    const data = memoryDataset(cfg, 5, 4);
    const config = resolveTrainConfig({ steps: 8, batchSize: 3, gradAccumSteps: 2, learningRate: 3e-3, warmupSteps: 3, checkpointEvery: 100, seed: 9, logEvery: 1, dropout: 0.2 });
    const full = createTransformer(cfg, 5);
    const a = await trainTransformer({ model: full, config, train: data, createOrder: createEpochOrder, runDir: path.join(dir, 'a') });
    assert.equal(a.reason, 'done');
    const partModel = createTransformer(cfg, 5);
    const runB = path.join(dir, 'b');
    const b1 = await trainTransformer({ model: partModel, config, train: data, createOrder: createEpochOrder, runDir: runB, stopAfterStep: 3 });
    assert.equal(b1.reason, 'stopped');
    disposeTransformer(partModel);
    const ckpt = await loadCheckpoint(await latestCheckpoint(runB));
    assert.equal(ckpt.state.step, 3);
    assert.deepEqual(ckpt.trainConfig, config);
    const b2 = await trainTransformer({ model: ckpt.model, config: ckpt.trainConfig, train: data, createOrder: createEpochOrder, runDir: runB, resume: ckpt });
    assert.equal(b2.step, 8);
    const losses = (h: { loss: number }[]) => h.map((s) => s.loss);
    assert.deepEqual([...losses(b1.history), ...losses(b2.history)], losses(a.history));
    assert.deepEqual(ckpt.model.params['blocks.2.mlp.fc.kernel'].dataSync(), full.params['blocks.2.mlp.fc.kernel'].dataSync());
    const log = (await fsp.readFile(path.join(runB, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(log.filter((e) => e.loss !== undefined).map((e) => e.step), [1, 2, 3, 4, 5, 6, 7, 8]);
    disposeTransformer(full);
    disposeTransformer(ckpt.model);
  });

  it('gradient accumulation: 2 micro-batches of 4 make the same step as one batch of 8', () => {
    const data = memoryDataset(tiny, 8, 6);
    const run = (batchSize: number, gradAccumSteps: number) => {
      const model = createTransformer(tiny, 3);
      const trainer = new TransformerTrainer(model, data, resolveTrainConfig({ batchSize, gradAccumSteps, warmupSteps: 0, learningRate: 1e-2, seed: 2 }), createEpochOrder);
      const stats = trainer.trainStep();
      const kernel = model.params['blocks.1.mlp.fc.kernel'].dataSync().slice();
      trainer.dispose();
      disposeTransformer(model);
      return { stats, kernel };
    };
    const one = run(8, 1);
    const two = run(4, 2);
    assert.ok(Math.abs(one.stats.loss - two.stats.loss) < 1e-5, `${one.stats.loss} vs ${two.stats.loss}`);
    assert.ok(Math.abs(one.stats.gradNorm - two.stats.gradNorm) < 1e-4 * one.stats.gradNorm);
    assert.equal(one.stats.tokens, two.stats.tokens);
    one.kernel.forEach((v, i) => assert.ok(Math.abs(v - two.kernel[i]) < 1e-5, `kernel[${i}] ${v} vs ${two.kernel[i]}`));
  });

  it('caption dropout 1 trains on empty captions only: the real captions make no difference', () => {
    const cfg = resolveTransformerConfig({ ...TRANSFORMER_PRESETS.tiny, captionDropout: 1 });
    const a = memoryDataset(cfg, 4, 1);
    const b = memoryDataset(cfg, 4, 1);
    const other = { ...b, batch: (indices: number[]) => ({ ...b.batch(indices), text: a.batch(indices.map((i) => (i + 1) % 4)).text }) };
    const losses = [a, other].map((data) => {
      const model = createTransformer(cfg, 3);
      const trainer = new TransformerTrainer(model, data, resolveTrainConfig({ batchSize: 4, seed: 1 }), createEpochOrder);
      const l = [trainer.trainStep().loss, trainer.trainStep().loss];
      trainer.dispose();
      disposeTransformer(model);
      return l;
    });
    assert.deepEqual(losses[0], losses[1]);
  });

  it('an interrupt (abort signal) writes a checkpoint and stops', async () => {
    const data = memoryDataset(tiny, 4);
    const model = createTransformer(tiny, 1);
    const controller = new AbortController();
    const result = await trainTransformer({
      model,
      config: resolveTrainConfig({ steps: 50, batchSize: 2, checkpointEvery: 100 }),
      train: data,
      createOrder: createEpochOrder,
      runDir: path.join(dir, 'c'),
      signal: controller.signal,
      onStep: (s) => s.step === 2 && controller.abort(),
    });
    assert.equal(result.reason, 'interrupted');
    assert.equal(result.step, 2);
    assert.equal(await latestCheckpoint(path.join(dir, 'c')), path.join(dir, 'c', 'checkpoints', 'step-2'));
    disposeTransformer(model);
  });

  it('an abort from a timer (as the Ctrl-C handler runs) stops the run within a step', async () => {
    const model = createTransformer(tiny, 1);
    const controller = new AbortController();
    const result = await trainTransformer({
      model,
      config: resolveTrainConfig({ steps: 40, batchSize: 2, logEvery: 1000 }),
      train: memoryDataset(tiny, 4),
      createOrder: createEpochOrder,
      signal: controller.signal,
      onStep: (s) => {
        if (s.step === 1) setTimeout(() => controller.abort(), 0); // no run folder: nothing else turns the event loop
      },
    });
    disposeTransformer(model);
    assert.equal(result.reason, 'interrupted');
    assert.ok(result.step <= 3, `stopped at step ${result.step} of 40`);
  });

  it('stops with a clear error on a non-finite loss, without applying the update', () => {
    const model = createTransformer(tiny, 1);
    const nan = tf.fill([tiny.imageVocabSize], NaN);
    model.params['head.image.bias'].assign(nan);
    nan.dispose();
    const trainer = new TransformerTrainer(model, memoryDataset(tiny, 4), resolveTrainConfig({ batchSize: 2 }), createEpochOrder);
    const before = model.params['blocks.0.attn.qkv.kernel'].dataSync().slice();
    assert.throws(() => trainer.trainStep(), (e: Error) => e instanceof NonFiniteLossError && /non-finite at step 1/.test(e.message));
    assert.deepEqual(model.params['blocks.0.attn.qkv.kernel'].dataSync(), before);
    assert.equal(trainer.step, 0);
    trainer.dispose();
    disposeTransformer(model);
  });

  it('does not leak: tensor count stays flat over 100 training steps', async () => {
    const model = createTransformer(tiny, 1);
    const trainer = new TransformerTrainer(model, memoryDataset(tiny, 4), resolveTrainConfig({ batchSize: 2, gradAccumSteps: 2 }), createEpochOrder);
    trainer.trainStep();
    await expectNoLeak(() => {
      for (let i = 0; i < 100; i++) trainer.trainStep();
    });
    trainer.dispose();
    disposeTransformer(model);
  });
});
