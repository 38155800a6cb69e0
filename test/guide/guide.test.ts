import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { Rng } from '@dalle/core';
import { clipGuide, codesOfPixels, type GuideFrame, type GuideResult, type StepInfo } from '@dalle/guide';
import { expectNoLeak } from '../helpers/memory.ts';
import { TRAINING } from '../helpers/timeouts.ts';
import { tinyModels, wordTokenizer, type TinyModels } from './fixtures.ts';

const PROMPT = 'a red heart';
/** Small and quick: 2 images, 4 cutouts per step. */
const QUICK = { n: 2, cutouts: 4 };

async function run(m: TinyModels, options: Parameters<typeof clipGuide>[1] extends infer O ? Partial<O> : never = {}): Promise<GuideResult> {
  return clipGuide(PROMPT, { ...QUICK, dvae: m.dvae, clip: m.clip, tokenizer: wordTokenizer, ...options });
}

function disposeResult(r: GuideResult): void {
  r.codes.dispose();
  r.images.dispose();
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('clipGuide', function () {
  this.timeout(TRAINING);
  let m: TinyModels;
  before(() => {
    m = tinyModels(1);
  });
  after(() => m.dispose());

  it('raises the CLIP score on average: the last steps score above the first ones', async () => {
    const steps: StepInfo[] = [];
    const r = await run(m, { steps: 30, lr: 0.3, seed: 3, onStep: (s) => steps.push(s) });
    disposeResult(r);
    assert.equal(steps.length, 30);
    assert.deepEqual(steps.map((s) => s.step), Array.from({ length: 30 }, (_, i) => i + 1));
    assert.deepEqual(r.stepScores, steps.map((s) => s.score));
    const first = mean(r.stepScores.slice(0, 5));
    const last = mean(r.stepScores.slice(-5));
    assert.ok(last > first, `mean score of the last 5 steps ${last} should exceed that of the first 5 ${first}`);
    // the temperature anneals from tauStart to tauEnd
    assert.equal(steps[0].temperature, 1);
    assert.ok(Math.abs(steps[29].temperature - 1 / 16) < 1e-9);
  });

  it('returns a valid token grid whose dVAE decode is exactly the returned images', async () => {
    const r = await run(m, { steps: 3, seed: 1 });
    try {
      const T = m.dvae.gridSize ** 2;
      assert.equal(r.codes.dtype, 'int32');
      assert.deepEqual(r.codes.shape, [2, T]);
      const codes = await r.codes.data();
      assert.ok(codes.every((c) => Number.isInteger(c) && c >= 0 && c < m.dvae.codebookSize));
      const again = m.dvae.decode(r.codes);
      assert.deepEqual(r.images.shape, [2, m.dvae.imageSize, m.dvae.imageSize, 3]);
      assert.deepEqual(await again.data(), await r.images.data());
      again.dispose();
      assert.equal(r.scores.length, 2);
      assert.ok(r.scores.every((s) => Number.isFinite(s) && s >= -1 - 1e-5 && s <= 1 + 1e-5));
    } finally {
      disposeResult(r);
    }
  });

  it('the final scores are CLIP cosines of the whole decoded images with the prompt', async () => {
    const r = await run(m, { steps: 2, seed: 4 });
    try {
      const ids = tf.tensor2d([[2, 3, 6, 0, 0, 0, 0, 0]], [1, 8], 'int32'); // "a red heart", padded to 8
      const { embedImages, embedTexts } = await import('@dalle/clip');
      const sims = tf.tidy(() => tf.matMul(embedImages(m.clip, r.images), embedTexts(m.clip, ids), false, true));
      const want = Array.from(await sims.data());
      r.scores.forEach((s, i) => assert.ok(Math.abs(s - want[i]) < 1e-4, `image ${i}: ${s} vs ${want[i]}`));
      tf.dispose([ids, sims]);
    } finally {
      disposeResult(r);
    }
  });

  it('a fixed seed gives identical codes, pixels and scores; another seed differs', async () => {
    const a = await run(m, { steps: 4, seed: 7 });
    const b = await run(m, { steps: 4, seed: 7 });
    const c = await run(m, { steps: 4, seed: 8 });
    try {
      assert.deepEqual(await a.codes.data(), await b.codes.data());
      assert.deepEqual(await a.images.data(), await b.images.data());
      assert.deepEqual(a.scores, b.scores);
      assert.deepEqual(a.stepScores, b.stepScores);
      assert.notDeepEqual(await a.codes.data(), await c.codes.data());
    } finally {
      [a, b, c].forEach(disposeResult);
    }
  });

  it('--init: with no optimisation the codes are the dVAE encoding of the image', async () => {
    const rng = new Rng(9);
    const S = m.dvae.imageSize;
    const pixels = Float32Array.from({ length: S * S * 3 }, (_, i) => (Math.floor(i / (S * 3 * 4)) % 2 === 0 ? 0.9 : 0.1) * (0.8 + 0.2 * rng.next()));
    const initCodes = await codesOfPixels(m.dvae, pixels);
    const img = tf.tensor4d(pixels, [1, S, S, 3]);
    const direct = m.dvae.encode(img);
    assert.deepEqual(Array.from(initCodes), Array.from(await direct.data()));
    tf.dispose([img, direct]);
    const r = await run(m, { steps: 0, initCodes });
    try {
      const codes = await r.codes.data();
      for (let b = 0; b < 2; b++) assert.deepEqual(Array.from(codes.subarray(b * initCodes.length, (b + 1) * initCodes.length)), Array.from(initCodes));
      assert.deepEqual(r.stepScores, []);
    } finally {
      disposeResult(r);
    }
    // a few steps from the image's codes keep most of them (the one-hot start is high)
    const moved = await run(m, { steps: 2, lr: 0.05, initCodes });
    const kept = Array.from((await moved.codes.data()).subarray(0, initCodes.length)).filter((c, i) => c === initCodes[i]).length;
    disposeResult(moved);
    assert.ok(kept >= initCodes.length / 2, `kept ${kept} of ${initCodes.length} codes`);
  });

  it('reports frames of the hard decode at step 0 and every frameEvery steps', async () => {
    const frames: GuideFrame[] = [];
    const r = await run(m, { steps: 4, frameEvery: 2, onFrame: (f) => void frames.push(f) });
    try {
      assert.deepEqual(frames.map((f) => f.step), [0, 2, 4]);
      const last = frames[2];
      assert.equal(last.images.length, 2);
      assert.equal(last.images[0].length, m.dvae.imageSize ** 2 * 3);
      // the frame after the last step is the returned result
      const codes = await r.codes.data();
      assert.deepEqual(Array.from(last.codes[1]), Array.from(codes.subarray(last.codes[0].length)));
      assert.deepEqual(Array.from(last.images[0]), Array.from((await r.images.data()).subarray(0, last.images[0].length)));
    } finally {
      disposeResult(r);
    }
  });

  it('leaves no tensors behind across calls (only the returned codes and images)', async () => {
    const r1 = await expectNoLeak(() => run(m, { steps: 2, frameEvery: 1, onFrame: () => undefined }), 2);
    disposeResult(r1);
    const r2 = await expectNoLeak(() => run(m, { steps: 1, initCodes: new Int32Array(m.dvae.gridSize ** 2) }), 2);
    disposeResult(r2);
    await expectNoLeak(async () => {
      await assert.rejects(run(m, { steps: 1, initCodes: [1, 2, 3] }));
    });
  });

  it('rejects an empty prompt, bad settings and bad initial codes with usage errors', async () => {
    await assert.rejects(clipGuide('  ', { dvae: m.dvae, clip: m.clip, tokenizer: wordTokenizer }), /prompt is empty/);
    await assert.rejects(run(m, { steps: -1 }), /steps must be an integer/);
    await assert.rejects(run(m, { lr: 0 }), /lr must be a number > 0/);
    await assert.rejects(run(m, { initCodes: [1, 2, 3] }), /must number G\*G = 16 .* or n\*G\*G = 32, got 3/);
    await assert.rejects(run(m, { initCodes: new Int32Array(16).fill(99) }), /initial code 99 at position 0 is outside \[0, 32\)/);
    const other = tinyModels(2, 5); // CLIP with a 5-word vocabulary: "heart" (6) is outside it
    try {
      await assert.rejects(clipGuide(PROMPT, { dvae: other.dvae, clip: other.clip, tokenizer: wordTokenizer }), /outside CLIP's vocabulary of 5/);
    } finally {
      other.dispose();
    }
  });
});

describe('clipGuide with a trained CLIP', function () {
  this.timeout(TRAINING);

  it('steers the images toward the prompt: "a blue circle" makes a random dVAE\'s output bluer', async () => {
    // the tiny CLIP the clip tests train (150 steps on coloured squares and circles), and an untrained dVAE
    const { trainedTinyClip } = await import('../clip/helpers.ts');
    const { loadClip } = await import('@dalle/clip');
    const { loadTextTokenizer } = await import('@dalle/data');
    const t = await trainedTinyClip();
    const clip = await loadClip(path.join(t.run, 'final'));
    const tokenizer = await loadTextTokenizer(t.tokenizer);
    const m = tinyModels(1);
    const blueness = async (images: tf.Tensor4D) => {
      const rgb = tf.tidy(() => tf.mean(images, [0, 1, 2]));
      const [r, g, b] = Array.from(await rgb.data());
      rgb.dispose();
      return b - Math.max(r, g);
    };
    try {
      const options = { dvae: m.dvae, clip, tokenizer, n: 2, cutouts: 8, seed: 0 };
      const start = await clipGuide('a blue circle', { ...options, steps: 0 });
      const end = await clipGuide('a blue circle', { ...options, steps: 30, lr: 0.2 });
      const before = await blueness(start.images);
      const after = await blueness(end.images);
      assert.ok(after > before + 0.1 && after > 0.1, `blue minus the larger of red and green: ${before.toFixed(3)} at the start, ${after.toFixed(3)} after 30 steps`);
      assert.ok(mean(end.stepScores.slice(-5)) > mean(end.stepScores.slice(0, 5)) + 0.1, `step scores ${end.stepScores.map((x) => x.toFixed(2)).join(' ')}`);
      assert.ok(mean(end.scores) > mean(start.scores), `final scores ${end.scores} vs start ${start.scores}`);
      [start, end].forEach(disposeResult);
    } finally {
      clip.dispose();
      m.dispose();
    }
  });
});

