// Sampling with the real tiny transformer through its key/value-cache decoder: top-k 1 equals
// greedy decoding by full forward passes, the self-score equals imageLogLikelihood, no leaks.
import { argsortDescending, logProbOf, sampleImageBatch, transformerPrior } from '@dalle/sampler';
import { createTransformer, disposeTransformer, forward, imageLogLikelihood, imageSeqLen, imageTokenOffset, transformerLayout, transformerPreset, type TransformerModel } from '@dalle/transformer';
import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import { expectNoLeak } from '../helpers/memory.ts';
import { FAST } from '../helpers/timeouts.ts';

describe('sampler/transformer-prior', function () {
  this.timeout(FAST);
  let model: TransformerModel;
  before(() => {
    model = createTransformer(transformerPreset('tiny'), 7);
  });
  after(() => disposeTransformer(model));

  const textIds = () => Int32Array.from([3, 9, 0, 0]);

  it('top-k 1 equals greedy decoding by full forward passes', async () => {
    const cfg = model.config;
    const T = cfg.textSeqLen;
    const N = imageSeqLen(cfg);
    const K = cfg.imageVocabSize;
    const s = await sampleImageBatch(transformerPrior(model), { temperature: 1, topK: 1, topP: 1, condScale: 1, textIds: textIds(), padId: 0, seeds: [1] });
    const off = imageTokenOffset(transformerLayout(cfg));
    const greedy = new Int32Array(N);
    for (let i = 0; i < N; i++) {
      const logits = tf.tidy(() => forward(model.params, cfg, tf.tensor2d(textIds(), [1, T], 'int32'), tf.tensor2d(greedy, [1, N], 'int32')));
      const row = (await logits.data()).subarray((T + i) * logits.shape[2] + off, (T + i) * logits.shape[2] + off + K);
      logits.dispose();
      greedy[i] = argsortDescending(row)[0];
    }
    assert.deepEqual(s.codes, greedy);
  });

  // Reference: teacher-forced full forward pass, image-code logits sliced out, log-softmax in JS;
  // and the transformer's imageLogLikelihood.
  it('the self-score equals the mean teacher-forced log-likelihood, with or without guidance', async () => {
    const cfg = model.config;
    const T = cfg.textSeqLen;
    const N = imageSeqLen(cfg);
    const K = cfg.imageVocabSize;
    const off = imageTokenOffset(transformerLayout(cfg));
    for (const condScale of [1, 3]) {
      const s = await sampleImageBatch(transformerPrior(model), { temperature: 1.2, topK: 5, topP: 0.9, condScale, textIds: textIds(), padId: 0, seeds: [4, 5] });
      const logits = tf.tidy(() => forward(model.params, cfg, tf.tensor2d([...textIds(), ...textIds()], [2, T], 'int32'), tf.tensor2d(s.codes, [2, N], 'int32')));
      const V = logits.shape[2];
      const data = await logits.data();
      logits.dispose();
      for (let b = 0; b < 2; b++) {
        let sum = 0;
        for (let i = 0; i < N; i++) {
          const at = (b * (T + N) + T + i) * V + off;
          sum += logProbOf(data.subarray(at, at + K), s.codes[b * N + i]);
        }
        assert.ok(Math.abs(s.selfScores[b] - sum / N) < 1e-4, `condScale ${condScale} row ${b}: ${s.selfScores[b]} vs ${sum / N}`);
      }
      // The transformer's own scorer agrees too.
      const ll = tf.tidy(() => imageLogLikelihood(model, tf.tensor2d([...textIds(), ...textIds()], [2, T], 'int32'), tf.tensor2d(s.codes, [2, N], 'int32')));
      const ref = await ll.data();
      ll.dispose();
      s.selfScores.forEach((v, i) => assert.ok(Math.abs(v - ref[i]) < 1e-4, `imageLogLikelihood row ${i}: ${v} vs ${ref[i]}`));
    }
  });

  it('numTensors stays flat across 100 guided sampling calls', async function () {
    this.timeout(FAST * 3); // 100 sampling calls: over 10 s while other jobs hold both cores
    const opts = { temperature: 1, topK: 4, topP: 1, condScale: 2, textIds: textIds(), padId: 0, seeds: [0, 1, 2] };
    await sampleImageBatch(transformerPrior(model), opts);
    await expectNoLeak(async () => {
      for (let i = 0; i < 100; i++) await sampleImageBatch(transformerPrior(model), { ...opts, seeds: [i, i + 1, i + 2] });
    });
  });
});
