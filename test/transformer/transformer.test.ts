import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import {
  ATTENTION_PATTERNS,
  MASKED_LOGIT,
  createTransformer,
  disposeTransformer,
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
