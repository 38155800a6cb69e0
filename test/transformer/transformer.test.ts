import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import {
  ATTENTION_PATTERNS,
  MASKED_LOGIT,
  createTransformer,
  disposeTransformer,
  dropoutMasks,
  dropoutSites,
  forward,
  imageLogLikelihood,
  imageSeqLen,
  logitRange,
  modelBatch,
  resolveTransformerConfig,
  sequenceLength,
  streamVocabSize,
  transformerLayout,
  transformerLoss,
  TRANSFORMER_PRESETS,
  type TransformerConfig,
  type TransformerModel,
} from '@dalle/transformer';
import { expectNoLeak } from '../helpers/memory.ts';
import { FAST } from '../helpers/timeouts.ts';

const tiny = resolveTransformerConfig({ ...TRANSFORMER_PRESETS.tiny });

/** Deterministic ids: B captions (the second half of each padded) and B code grids. */
function ids(cfg: TransformerConfig, B: number, salt = 0): { text: Int32Array; codes: Int32Array } {
  const T = cfg.textSeqLen;
  const N = imageSeqLen(cfg);
  const text = new Int32Array(B * T).map((_, i) => ((i % T) >= Math.ceil(T / 2) ? cfg.textPadId : 1 + ((i * 7 + salt) % (cfg.textVocabSize - 1))));
  const codes = new Int32Array(B * N).map((_, i) => (i * 5 + 3 + salt) % cfg.imageVocabSize);
  return { text, codes };
}

function logitsOf(model: TransformerModel, text: Int32Array, codes: Int32Array, B: number): number[][][] {
  const cfg = model.config;
  const t = tf.tensor2d(text, [B, cfg.textSeqLen], 'int32');
  const c = tf.tensor2d(codes, [B, imageSeqLen(cfg)], 'int32');
  const out = forward(model.params, cfg, t, c);
  const arr = out.arraySync();
  tf.dispose([t, c, out]);
  return arr;
}

describe('transformer', function () {
  this.timeout(FAST * 3);
  let model: TransformerModel;
  before(() => {
    model = createTransformer(tiny, 1);
  });
  after(() => disposeTransformer(model));

  it('forward: logits [B, T+N, streamVocabSize], finite, mask applied', () => {
    const B = 3;
    const { text, codes } = ids(tiny, B);
    const logits = logitsOf(model, text, codes, B);
    const L = sequenceLength(tiny);
    const V = streamVocabSize(transformerLayout(tiny));
    assert.equal(logits.length, B);
    assert.equal(logits[0].length, L);
    assert.equal(logits[0][0].length, V);
    for (const row of logits) {
      row.forEach((scores, p) => {
        const [lo, hi] = logitRange(transformerLayout(tiny), p);
        scores.forEach((v, id) => {
          if (id >= lo && id < hi) assert.ok(Number.isFinite(v) && Math.abs(v) < 100, `logit ${v}`);
          else assert.ok(v < MASKED_LOGIT / 2, `position ${p} may emit id ${id}`);
        });
      });
    }
  });

  it('same seed gives the same weights; another seed does not', () => {
    const again = createTransformer(tiny, 1);
    const other = createTransformer(tiny, 2);
    const a = model.params['blocks.1.attn.qkv.kernel'].dataSync();
    assert.deepEqual(again.params['blocks.1.attn.qkv.kernel'].dataSync(), a);
    assert.notDeepEqual(other.params['blocks.1.attn.qkv.kernel'].dataSync(), a);
    disposeTransformer(again);
    disposeTransformer(other);
  });

  it('rejects ids of the wrong shape, dtype or range', () => {
    const c = tf.zeros([1, imageSeqLen(tiny)], 'int32') as tf.Tensor2D;
    const wrongLen = tf.zeros([1, tiny.textSeqLen + 1], 'int32') as tf.Tensor2D;
    const wrongType = tf.zeros([1, tiny.textSeqLen]) as tf.Tensor2D;
    const outOfRange = tf.fill([1, tiny.textSeqLen], tiny.textVocabSize, 'int32') as tf.Tensor2D;
    assert.throws(() => forward(model.params, tiny, wrongLen, c), /text ids: expected shape \[1,4\], got \[1,5\]/);
    assert.throws(() => forward(model.params, tiny, wrongType, c), /expected int32 ids, got float32/);
    assert.throws(() => forward(model.params, tiny, outOfRange, c), /id 16 at index 0 is outside \[0, 16\)/);
    tf.dispose([c, wrongLen, wrongType, outOfRange]);
  });

  for (const pattern of ATTENTION_PATTERNS) {
    it(`causality (${pattern}): changing stream token s leaves logits at positions <= s unchanged`, () => {
      const cfg = resolveTransformerConfig({ ...TRANSFORMER_PRESETS.tiny, numLayers: 2, attentionPatterns: [pattern, pattern] });
      const m = createTransformer(cfg, 3);
      const T = cfg.textSeqLen;
      const L = sequenceLength(cfg);
      const { text, codes } = ids(cfg, 1);
      const base = logitsOf(m, text, codes, 1)[0];
      for (let s = 0; s < L; s++) {
        const t2 = text.slice();
        const c2 = codes.slice();
        if (s < T) t2[s] = (t2[s] % (cfg.textVocabSize - 1)) + 1 === t2[s] ? t2[s] + 1 : (t2[s] % (cfg.textVocabSize - 1)) + 1;
        else c2[s - T] = (c2[s - T] + 1) % cfg.imageVocabSize;
        const changed = logitsOf(m, t2, c2, 1)[0];
        for (let p = 0; p <= s; p++) assert.deepEqual(changed[p], base[p], `${pattern}: token ${s} changed position ${p}`);
        if (s + 1 < L) assert.notDeepEqual(changed[s + 1], base[s + 1], `${pattern}: token ${s} does not reach position ${s + 1}`);
      }
      disposeTransformer(m);
    });
  }

  it('training loss equals cross-entropy under the masked forward logits', () => {
    const B = 2;
    const { text, codes } = ids(tiny, B, 5);
    const batch = modelBatch(transformerLayout(tiny), text, codes, B);
    const parts = tf.tidy(() => {
      const l = transformerLoss(model.params, tiny, batch);
      return [l.loss, l.text, l.image].map((t) => t.arraySync() as number);
    });
    const logits = logitsOf(model, text, codes, B);
    const T = tiny.textSeqLen;
    const stream = [...Array(B).keys()].map((b) => [...batch.textTargets.subarray(b * T, b * T + T), ...[...batch.imageTargets.subarray(b * imageSeqLen(tiny), (b + 1) * imageSeqLen(tiny))].map((c) => c + logitRange(transformerLayout(tiny), T)[0])]);
    let textNll = 0;
    let imageNll = 0;
    for (let b = 0; b < B; b++) {
      logits[b].forEach((row, p) => {
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
        const nll = lse - row[stream[b][p]];
        if (p < T) textNll += nll;
        else imageNll += nll;
      });
    }
    textNll /= B * T;
    imageNll /= B * imageSeqLen(tiny);
    assert.ok(Math.abs(parts[1] - textNll) < 1e-4, `text ${parts[1]} vs ${textNll}`);
    assert.ok(Math.abs(parts[2] - imageNll) < 1e-4, `image ${parts[2]} vs ${imageNll}`);
    assert.ok(Math.abs(parts[0] - (tiny.textLossWeight * textNll + (1 - tiny.textLossWeight) * imageNll)) < 1e-4);
  });

  it('gradients reach every variable: present, finite and non-zero', () => {
    const B = 2;
    const { text, codes } = ids(tiny, B, 1);
    const batch = modelBatch(transformerLayout(tiny), text, codes, B);
    const { value, grads } = tf.variableGrads(() => transformerLoss(model.params, tiny, batch).loss, Object.values(model.params));
    for (const [key, v] of Object.entries(model.params)) {
      const g = grads[v.name];
      assert.ok(g, `no gradient for ${key}`);
      const data = g.dataSync();
      assert.ok(data.every(Number.isFinite), `non-finite gradient for ${key}`);
      assert.ok(data.some((x) => x !== 0), `zero gradient for ${key}`);
    }
    tf.dispose([value, ...Object.values(grads)]);
  });

  it('dropoutMasks: values 0 or 1 / (1 - rate), the rate of zeros, mean 1, one stream per sequence', () => {
    const seeds = Int32Array.from([3, -7, 3, 2 ** 31 - 1]);
    const [S, C, sites] = [48, 64, dropoutSites(tiny.numLayers)];
    assert.equal(sites, 1 + 2 * tiny.numLayers);
    const masks = dropoutMasks({ rate: 0.3, seeds }, sites, S, C);
    assert.equal(masks.length, sites);
    const all = masks.flatMap((m) => Array.from(m));
    assert.equal(all.length, sites * seeds.length * S * C);
    const keep = Math.fround(1 / 0.7);
    assert.ok(all.every((v) => v === 0 || v === keep), 'mask values must be 0 or 1 / (1 - rate)');
    const zeros = all.filter((v) => v === 0).length / all.length;
    assert.ok(Math.abs(zeros - 0.3) < 0.01, `zero fraction ${zeros}`); // 110,592 values: 0.01 is about 7 standard errors
    assert.ok(Math.abs(all.reduce((a, v) => a + v, 0) / all.length - 1) < 0.02);
    const slice = (m: Float32Array, b: number) => Array.from(m.subarray(b * S * C, (b + 1) * S * C));
    assert.deepEqual(slice(masks[1], 0), slice(masks[1], 2), 'equal seeds give equal masks');
    assert.notDeepEqual(slice(masks[1], 0), slice(masks[1], 1));
    assert.notDeepEqual(slice(masks[1], 0), slice(masks[2], 0), 'sites draw different masks');
    assert.deepEqual(dropoutMasks({ rate: 0.3, seeds: seeds.slice(2, 3) }, sites, S, C)[1], masks[1].slice(2 * S * C, 3 * S * C), 'a sequence draws its masks alone as in a batch');
    assert.ok(dropoutMasks({ rate: 0, seeds }, 1, S, C)[0].every((v) => v === 1));
    assert.throws(() => dropoutMasks({ rate: 1, seeds }, 1, S, C), /dropout rate must be in \[0, 1\), got 1/);
  });

  it('training loss with dropout: rate 0 changes nothing; a batch loses what its sequences lose alone; gradients flow', () => {
    const B = 3;
    const { text, codes } = ids(tiny, B, 2);
    const plain = modelBatch(transformerLayout(tiny), text, codes, B);
    const seeds = Int32Array.from([11, 12, 13]);
    const loss = (batch: ReturnType<typeof modelBatch>) => tf.tidy(() => transformerLoss(model.params, tiny, batch).loss.arraySync() as number);
    const base = loss(plain);
    assert.equal(loss({ ...plain, dropout: { rate: 0, seeds } }), base);
    const dropped = loss({ ...plain, dropout: { rate: 0.5, seeds } });
    assert.notEqual(dropped, base);
    assert.equal(loss({ ...plain, dropout: { rate: 0.5, seeds } }), dropped, 'the same seeds drop the same activations');
    assert.notEqual(loss({ ...plain, dropout: { rate: 0.5, seeds: Int32Array.from([11, 12, 14]) } }), dropped);
    // every sequence has the same number of text and image targets, so the batch loss is the mean of the sequences' losses
    const alone = [0, 1, 2].map((b) => {
      const one = modelBatch(transformerLayout(tiny), text.subarray(b * tiny.textSeqLen, (b + 1) * tiny.textSeqLen), codes.subarray(b * imageSeqLen(tiny), (b + 1) * imageSeqLen(tiny)), 1);
      return loss({ ...one, dropout: { rate: 0.5, seeds: seeds.slice(b, b + 1) } });
    });
    assert.ok(Math.abs(alone.reduce((a, v) => a + v, 0) / B - dropped) < 1e-5, `${alone} vs ${dropped}`);
    assert.throws(() => loss({ ...plain, dropout: { rate: 0.5, seeds: seeds.slice(0, 2) } }), /dropout: expected 3 seeds \(one per sequence\), got 2/);
    const { value, grads } = tf.variableGrads(() => transformerLoss(model.params, tiny, { ...plain, dropout: { rate: 0.5, seeds } }).loss, Object.values(model.params));
    for (const [key, v] of Object.entries(model.params)) assert.ok(grads[v.name].dataSync().every(Number.isFinite), `non-finite gradient for ${key}`);
    tf.dispose([value, ...Object.values(grads)]);
  });

  it('imageLogLikelihood: [B] mean log-prob per image token, matching the image loss', () => {
    const B = 2;
    const { text, codes } = ids(tiny, B, 2);
    const t = tf.tensor2d(text, [B, tiny.textSeqLen], 'int32');
    const c = tf.tensor2d(codes, [B, imageSeqLen(tiny)], 'int32');
    const ll = expectNoLeak(() => imageLogLikelihood(model, t, c), 1);
    return ll.then((out) => {
      assert.deepEqual(out.shape, [B]);
      const values = [...out.dataSync()];
      assert.ok(values.every((v) => v < 0 && Number.isFinite(v)));
      const image = tf.tidy(() => transformerLoss(model.params, tiny, modelBatch(transformerLayout(tiny), text, codes, B)).image.arraySync() as number);
      assert.ok(Math.abs(-(values[0] + values[1]) / 2 - image) < 1e-4);
      tf.dispose([t, c, out]);
    });
  });

  it('does not leak: forward, loss under tidy, gradients', async () => {
    const B = 2;
    const { text, codes } = ids(tiny, B);
    const t = tf.tensor2d(text, [B, tiny.textSeqLen], 'int32');
    const c = tf.tensor2d(codes, [B, imageSeqLen(tiny)], 'int32');
    const batch = modelBatch(transformerLayout(tiny), text, codes, B);
    for (let i = 0; i < 3; i++) {
      const out = await expectNoLeak(() => forward(model.params, tiny, t, c), 1);
      out.dispose();
      await expectNoLeak(() => tf.tidy(() => transformerLoss(model.params, tiny, batch).loss.dataSync()));
      await expectNoLeak(() => {
        const { value, grads } = tf.variableGrads(() => transformerLoss(model.params, tiny, batch).loss);
        tf.dispose([value, ...Object.values(grads)]);
      });
    }
    tf.dispose([t, c]);
  });
});
