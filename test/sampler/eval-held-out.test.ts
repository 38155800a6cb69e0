// The evaluation's held-out helpers: reading captioned images, one encode pass with its PSNR and
// code perplexity (checked against dvae's evaluateDvae, and leak-free), the in-memory token source,
// and the caption derangement (checked against transformer's conditionalGain, same seed).
import { encodePng } from '@dalle/core';
import { Dvae, DVAE_PRESETS, evaluateDvae } from '@dalle/dvae';
import { conditionalGain, createTransformer, disposeTransformer, evaluateLoss, resolveTransformerConfig, TRANSFORMER_PRESETS, type TokenBatchSource } from '@dalle/transformer';
import { encodeHeldOut, histogramPerplexity, memoryTokenSource, readHeldOut, shuffledCaptions, type PromptEncoder } from '@dalle/sampler';
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { expectNoLeak } from '../helpers/memory.ts';
import { FAST } from '../helpers/timeouts.ts';

/** A prompt encoder whose ids are the caption's character codes (mod vocab), padded with 0. */
function charEncoder(textSeqLen: number, vocab: number): PromptEncoder {
  return {
    textSeqLen,
    padId: 0,
    encode: (prompt) => {
      const ids = new Int32Array(textSeqLen);
      for (let i = 0; i < Math.min(textSeqLen, prompt.length); i++) ids[i] = 1 + (prompt.charCodeAt(i) % (vocab - 1));
      return { ids, truncated: prompt.length > textSeqLen };
    },
  };
}

function randomImages(n: number, size: number, seed: number): Float32Array[] {
  return Array.from({ length: n }, (_, k) => Float32Array.from({ length: size * size * 3 }, (_, i) => (((i + 1) * (k + seed) * 7919) % 101) / 100));
}

describe('sampler/eval held-out helpers', function () {
  this.timeout(FAST * 3);
  let dvae: Dvae;
  before(() => {
    dvae = Dvae.create(DVAE_PRESETS.tiny, 3);
  });
  after(() => dvae.dispose());

  it('encodeHeldOut: one code row per image, and the same PSNR / perplexity as evaluateDvae', async () => {
    const images = randomImages(5, dvae.imageSize, 2);
    const { codes, metrics } = await expectNoLeak(() => encodeHeldOut(dvae, images, 2));
    assert.equal(codes.length, 5);
    for (const c of codes) {
      assert.equal(c.length, dvae.gridSize ** 2);
      assert.ok(c.every((id) => id >= 0 && id < dvae.codebookSize));
    }
    const counts = new Array<number>(dvae.codebookSize).fill(0);
    for (const c of codes) for (const id of c) counts[id]++;
    assert.deepEqual({ perplexity: metrics.perplexity, codesUsed: metrics.codesUsed }, histogramPerplexity(counts));
    assert.ok(Math.abs(metrics.perplexityPercentOfK - (100 * metrics.perplexity) / dvae.codebookSize) < 1e-9);
    const reference = await evaluateDvae(dvae, images, 3);
    assert.ok(Math.abs(metrics.psnr - reference.psnr) < 1e-3, `psnr ${metrics.psnr} vs evaluateDvae ${reference.psnr}`);
    assert.ok(Math.abs(metrics.perplexity - reference.perplexity) < 1e-9);
    assert.equal(metrics.codesUsed, reference.codesUsed);
  });

  it('memoryTokenSource pairs each image\'s codes with its caption\'s ids; shuffledCaptions deranges the captions only', () => {
    const n = 7;
    const T = 6;
    const enc = charEncoder(T, 16);
    const captions = Array.from({ length: n }, (_, i) => `cap ${String.fromCharCode(97 + i)}`);
    const codes = Array.from({ length: n }, (_, i) => Int32Array.from({ length: 4 }, (_, j) => (i * 4 + j) % 32));
    const manifest = { textSeqLen: T, gridSize: 2, codebookSize: 32, textVocabSize: 16, dvaeId: '', tokenizerId: '' };
    const src = memoryTokenSource(captions, codes, enc, manifest);
    const own = src.batch([3, 0]);
    assert.deepEqual(Array.from(own.text.subarray(0, T)), Array.from(enc.encode(captions[3]).ids));
    assert.deepEqual(Array.from(own.codes.subarray(4, 8)), Array.from(codes[0]));
    const sh = shuffledCaptions(src, n, 11);
    const all = Array.from({ length: n }, (_, i) => i);
    const moved = sh.batch(all);
    const original = src.batch(all);
    assert.deepEqual(moved.codes, original.codes, 'images stay in place');
    const takenFrom = all.map((i) => captions.findIndex((c) => Array.from(enc.encode(c).ids).join() === Array.from(moved.text.subarray(i * T, (i + 1) * T)).join()));
    assert.deepEqual([...takenFrom].sort((a, b) => a - b), all, 'a permutation of the captions');
    assert.ok(takenFrom.every((j, i) => j !== i), 'no image keeps its own caption');
    assert.deepEqual(shuffledCaptions(src, n, 11).batch(all).text, moved.text, 'seeded');
    assert.throws(() => shuffledCaptions(src, 1, 0), /at least 2 records, got 1/);
    assert.throws(() => memoryTokenSource(captions.slice(1), codes, enc, manifest), /6 captions but 7 code rows/);
  });

  it('the shuffled-caption image loss equals transformer\'s conditionalGain for the same seed', () => {
    const cfg = resolveTransformerConfig(TRANSFORMER_PRESETS.tiny);
    const model = createTransformer(cfg, 4);
    try {
      const n = 6;
      const G2 = cfg.gridSize ** 2;
      const enc = charEncoder(cfg.textSeqLen, cfg.textVocabSize);
      const captions = Array.from({ length: n }, (_, i) => `${'xyzuvw'[i]}${'abcdef'[(i * 5) % 6]}q`);
      const codes = Array.from({ length: n }, (_, i) => Int32Array.from({ length: G2 }, (_, j) => (i * 7 + j * 3) % cfg.imageVocabSize));
      const src: TokenBatchSource = memoryTokenSource(captions, codes, enc, { textSeqLen: cfg.textSeqLen, gridSize: cfg.gridSize, codebookSize: cfg.imageVocabSize, textVocabSize: cfg.textVocabSize, dvaeId: '', tokenizerId: '' });
      const reference = conditionalGain(model, src, { seed: 9, batchSize: 4 });
      const shuffled = evaluateLoss(model, shuffledCaptions(src, n, 9), { batchSize: 4 });
      const own = evaluateLoss(model, src, { batchSize: 4 });
      assert.ok(Math.abs(shuffled.image - reference.shuffledCaptions) < 1e-5, `${shuffled.image} vs ${reference.shuffledCaptions}`);
      assert.ok(Math.abs(own.image - reference.trueCaptions) < 1e-5);
      assert.ok(Math.abs(shuffled.text - own.text) < 1e-5, 'the text loss does not depend on the pairing');
    } finally {
      disposeTransformer(model);
    }
  });

  it('readHeldOut keeps each image\'s first caption and honours the limit', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'eval-held-out-'));
    try {
      const src = path.join(dir, 'imgs');
      mkdirSync(src);
      const imgs = randomImages(3, 8, 1);
      for (let k = 0; k < 3; k++) {
        writeFileSync(path.join(src, `e${k}.png`), await encodePng(imgs[k], 8, 8));
        writeFileSync(path.join(src, `e${k}.txt`), `first ${k}\nsecond ${k}\n`);
      }
      const all = await readHeldOut(src, 16, null);
      assert.deepEqual(all.captions, ['first 0', 'first 1', 'first 2']);
      assert.equal(all.images[0].length, 16 * 16 * 3);
      assert.equal((await readHeldOut(src, 16, 2)).images.length, 2);
      const empty = path.join(dir, 'empty');
      mkdirSync(empty);
      await assert.rejects(readHeldOut(empty, 16, null), /no captioned images in/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
