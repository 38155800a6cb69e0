// Data-parallel training: shard splitting, parity of trainStepAsync with worker threads against
// the single-thread step, run-level option checks and tensor hygiene.
import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '@dalle/core';
import {
  GradientWorkers,
  TransformerTrainer,
  createEpochOrder,
  createTransformer,
  disposeTransformer,
  resolveTrainConfig,
  resolveTransformerConfig,
  splitBatch,
  trainTransformer,
  TRANSFORMER_PRESETS,
} from '@dalle/transformer';
import { TRAINING } from '../helpers/timeouts.ts';
import { memoryDataset } from './fixtures.ts';

const tiny = resolveTransformerConfig({ ...TRANSFORMER_PRESETS.tiny, captionDropout: 0.3 });

describe('transformer data-parallel training', function () {
  this.timeout(TRAINING);

  it('splitBatch: consecutive shards whose sizes differ by at most one, covering the batch', () => {
    const B = 5;
    const batch = { batchSize: B, inputIds: Int32Array.from({ length: B * 4 }, (_, i) => i), textTargets: Int32Array.from({ length: B * 2 }, (_, i) => 100 + i), imageTargets: Int32Array.from({ length: B * 3 }, (_, i) => 200 + i) };
    const shards = splitBatch(batch, 3);
    assert.deepEqual(shards.map((s) => s.batchSize), [2, 2, 1]);
    for (const key of ['inputIds', 'textTargets', 'imageTargets'] as const) {
      assert.deepEqual(Array.from(shards.flatMap((s) => Array.from(s[key]))), Array.from(batch[key]), key);
    }
    assert.deepEqual(Array.from(shards[2].inputIds), [16, 17, 18, 19]);
    assert.throws(() => splitBatch(batch, 6), (e: Error) => e instanceof UsageError && /cannot split a batch of 5 sequences into 6 shards/.test(e.message));
    assert.throws(() => splitBatch(batch, 0), /into 0 shards/);
    assert.equal(shards[0].dropout, undefined);
    const dropped = splitBatch({ ...batch, dropout: { rate: 0.1, seeds: Int32Array.from([1, 2, 3, 4, 5]) } }, 3);
    assert.deepEqual(dropped.map((s) => [s.dropout!.rate, Array.from(s.dropout!.seeds)]), [[0.1, [1, 2]], [0.1, [3, 4]], [0.1, [5]]]);
  });

  for (const [ways, batchSize, dropout] of [
    [2, 4, 0],
    [3, 5, 0.2],
  ] as const) {
    it(`${ways} ways on batches of ${batchSize}: the same losses and weights as one thread over 3 steps (caption dropout, dropout ${dropout} and 2 accumulated micro-batches included)`, async () => {
      const data = memoryDataset(tiny, 12, 4);
      const config = resolveTrainConfig({ batchSize, gradAccumSteps: 2, warmupSteps: 0, learningRate: 1e-2, seed: 5, dropout });
      const single = createTransformer(tiny, 7);
      const parallel = createTransformer(tiny, 7);
      const a = new TransformerTrainer(single, data, config, createEpochOrder);
      const b = new TransformerTrainer(parallel, data, config, createEpochOrder);
      const workers = await GradientWorkers.start(parallel, ways - 1);
      try {
        b.useWorkers(workers);
        let before = 0;
        for (let s = 0; s < 3; s++) {
          if (s === 1) before = tf.memory().numTensors; // after the first step has made the optimizer's moments
          const x = await a.trainStepAsync();
          const y = await b.trainStepAsync();
          assert.ok(Math.abs(x.loss - y.loss) < 1e-5, `step ${s + 1}: loss ${x.loss} vs ${y.loss}`);
          assert.ok(Math.abs(x.image - y.image) < 1e-5 && Math.abs(x.text - y.text) < 1e-5);
          assert.ok(Math.abs(x.gradNorm - y.gradNorm) < 1e-4 * x.gradNorm, `step ${s + 1}: grad norm ${x.gradNorm} vs ${y.gradNorm}`);
          assert.equal(x.tokens, y.tokens);
        }
        assert.equal(tf.memory().numTensors, before, 'parallel steps must not leak tensors');
        let maxDiff = 0;
        for (const [key, v] of Object.entries(single.params)) {
          const p = v.dataSync();
          const q = parallel.params[key as keyof typeof parallel.params].dataSync();
          for (let i = 0; i < p.length; i++) maxDiff = Math.max(maxDiff, Math.abs(p[i] - q[i]));
        }
        // AdamW divides by sqrt(v): float-rounding differences of tiny gradients move a weight by up
        // to a fraction of lr, so the bound is 1% of one step of lr 1e-2.
        assert.ok(maxDiff < 1e-4, `weights differ by up to ${maxDiff}`);
        assert.throws(() => b.trainStep(), /call trainStepAsync/);
      } finally {
        await workers.dispose();
        a.dispose();
        b.dispose();
        disposeTransformer(single);
        disposeTransformer(parallel);
      }
    });
  }

  it('trainTransformer with workers trains to the end and frees its threads; bad worker counts are refused', async () => {
    const data = memoryDataset(tiny, 8, 2);
    const model = createTransformer(tiny, 1);
    try {
      const result = await trainTransformer({ model, config: resolveTrainConfig({ batchSize: 4, steps: 2, warmupSteps: 0 }), train: data, createOrder: createEpochOrder, workers: 2 });
      assert.equal(result.reason, 'done');
      assert.equal(result.step, 2);
      assert.ok(result.history.every((h) => Number.isFinite(h.loss)));
      await assert.rejects(trainTransformer({ model, config: resolveTrainConfig({ batchSize: 2, steps: 1 }), train: data, createOrder: createEpochOrder, workers: 3 }), (e: Error) => e instanceof UsageError && /3 workers cannot share micro-batches of 2 sequences/.test(e.message));
      await assert.rejects(trainTransformer({ model, config: resolveTrainConfig({ batchSize: 2, steps: 1 }), train: data, createOrder: createEpochOrder, workers: 0 }), /workers must be an integer in \[1, 16\], got 0/);
    } finally {
      disposeTransformer(model);
    }
  });
});
