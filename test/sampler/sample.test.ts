// Batched sampling over fake priors: reproducibility, greedy equivalence of top-k 1, the top-k
// support, guidance batching, priming, the self-score and tensor hygiene.
import { argsortDescending, logProbOf, sampleImageBatch, type ImagePrior, type SampleBatchOptions } from '@dalle/sampler';
import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import { expectNoLeak } from '../helpers/memory.ts';
import { FAST } from '../helpers/timeouts.ts';
import { bigramPrior, fixedLogitsPrior, type FakePrior } from './fakes.ts';

const T = 4;
const G = 3;
const K = 12;
const text = Int32Array.from([3, 5, 0, 0]);

function opts(over: Partial<SampleBatchOptions> = {}): SampleBatchOptions {
  return { temperature: 1, topK: K, topP: 1, condScale: 1, textIds: text, padId: 0, seeds: [0, 1, 2], ...over };
}

/** Greedy decoding driven by hand through the decoder, for comparison. */
async function greedy(prior: ImagePrior, rows: number): Promise<Int32Array> {
  const S = prior.imageSeqLen;
  const dec = prior.createDecoder(rows);
  const out = new Int32Array(rows * S);
  const textT = tf.tensor2d(Int32Array.from({ length: rows * T }, (_, i) => text[i % T]), [rows, T], 'int32');
  let logits = dec.prefill(textT);
  textT.dispose();
  for (let pos = 0; pos < S; pos++) {
    const data = await logits.data();
    logits.dispose();
    const ids = new Int32Array(rows);
    for (let b = 0; b < rows; b++) ids[b] = out[b * S + pos] = argsortDescending(data.subarray(b * K, (b + 1) * K))[0];
    if (pos < S - 1) {
      const idsT = tf.tensor1d(ids, 'int32');
      logits = dec.step(idsT);
      idsT.dispose();
    }
  }
  dec.dispose();
  return out;
}

describe('sampler/sample', function () {
  this.timeout(FAST);
  let prior: FakePrior;
  beforeEach(() => {
    prior = bigramPrior({ textSeqLen: T, textVocab: 8, gridSize: G, codebookSize: K, seed: 42 });
  });
  afterEach(() => prior.dispose());

  it('returns B x G*G codes in range and is reproducible per seed', async () => {
    const a = await sampleImageBatch(prior, opts());
    const b = await sampleImageBatch(prior, opts());
    assert.equal(a.codes.length, 3 * G * G);
    assert.ok(a.codes.every((c) => c >= 0 && c < K));
    assert.deepEqual(a.codes, b.codes);
    assert.deepEqual(a.selfScores, b.selfScores);
    const c = await sampleImageBatch(prior, opts({ seeds: [7, 8, 9] }));
    assert.notDeepEqual(a.codes, c.codes);
  });

  it('a candidate depends only on its own seed, not on its batch mates', async () => {
    const together = await sampleImageBatch(prior, opts({ seeds: [5, 6] }));
    const alone = await sampleImageBatch(prior, opts({ seeds: [6] }));
    assert.deepEqual(together.codes.subarray(G * G), alone.codes);
  });

  it('top-k = 1 equals greedy decoding', async () => {
    const s = await sampleImageBatch(prior, opts({ topK: 1, temperature: 0.8 }));
    assert.deepEqual(s.codes, await greedy(prior, 3));
  });

  it('top-k never emits an id outside the top k of fixed logits', async () => {
    const logits = Float32Array.from({ length: K }, (_, i) => Math.sin(i * 1.7) * 2);
    const fixed = fixedLogitsPrior(logits, 25, T);
    const allowed = new Set(argsortDescending(logits).slice(0, 3));
    const s = await sampleImageBatch(fixed, opts({ topK: 3, temperature: 5, seeds: [1, 2, 3, 4, 5, 6, 7, 8] }));
    assert.ok(s.codes.every((c) => allowed.has(c)), `emitted ${[...new Set(s.codes)]} outside ${[...allowed]}`);
    assert.equal(new Set(s.codes).size, 3, 'with a high temperature all three allowed ids appear');
  });

  it('condScale 1 runs a single batch; guidance runs caption + empty caption as one doubled batch', async () => {
    await sampleImageBatch(prior, opts({ condScale: 1 }));
    assert.deepEqual(prior.batches, [3]);
    const guided = await sampleImageBatch(prior, opts({ condScale: 3 }));
    assert.deepEqual(prior.batches, [3, 6]);
    const fed = prior.prefills[1];
    assert.deepEqual(Array.from(fed.subarray(0, 3 * T)), [...text, ...text, ...text]);
    assert.ok(fed.subarray(3 * T).every((id) => id === 0), 'unconditional half is all pad');
    const plain = await sampleImageBatch(prior, opts({ condScale: 1 }));
    assert.notDeepEqual(guided.codes, plain.codes);
  });

  it('priming keeps the primed positions exactly and the self-score is the mean conditional log-likelihood', async () => {
    const prime = [11, 0, 4, 7];
    const s = await sampleImageBatch(prior, opts({ prime, condScale: 2 }));
    for (let b = 0; b < 3; b++) assert.deepEqual(Array.from(s.codes.subarray(b * G * G, b * G * G + 4)), prime);
    // Recompute row 0's self-score by teacher forcing through an unguided decoder.
    const dec = prior.createDecoder(1);
    const textT = tf.tensor2d(text, [1, T], 'int32');
    let logits = dec.prefill(textT);
    textT.dispose();
    let sum = 0;
    for (let pos = 0; pos < G * G; pos++) {
      const row = await logits.data();
      logits.dispose();
      sum += logProbOf(row, s.codes[pos]);
      if (pos < G * G - 1) {
        const idsT = tf.tensor1d([s.codes[pos]], 'int32');
        logits = dec.step(idsT);
        idsT.dispose();
      }
    }
    dec.dispose();
    assert.ok(Math.abs(sum / (G * G) - s.selfScores[0]) < 1e-5, `${sum / (G * G)} vs ${s.selfScores[0]}`);
  });

  it('numTensors stays flat across repeated sampling calls', async () => {
    await sampleImageBatch(prior, opts({ condScale: 3 })); // warm-up
    for (let i = 0; i < 3; i++) await expectNoLeak(() => sampleImageBatch(prior, opts({ condScale: 3, topP: 0.9, seeds: [i] })));
  });
});
