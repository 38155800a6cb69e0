// evaluateModel in process on the tiny weights folder: the transformer phase gives the same losses
// from a --tokens dataset as from the held-out images encoded on the fly, a dataset that does not
// fit the model is refused by name, and a whole run leaves no tensor behind.
import { encodePng, UsageError } from '@dalle/core';
import { encodeText, loadTextTokenizer, TokenDatasetWriter } from '@dalle/data';
import { loadDvae } from '@dalle/dvae';
import { loadTransformer, disposeTransformer } from '@dalle/transformer';
import { evaluateModel, readHeldOut, type EvalPhase } from '@dalle/sampler';
import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { expectNoLeak } from '../helpers/memory.ts';
import { CLI } from '../helpers/timeouts.ts';
import { FIXTURE_CAPTIONS, makeTinyWeights, type TinyWeights } from './fixture.ts';

const ONLY_TRANSFORMER: EvalPhase[] = ['dvae', 'clip', 'generation', 'sheet'];

describe('sampler/eval evaluateModel', function () {
  this.timeout(CLI);
  let root: string;
  let weights: TinyWeights;
  let images: string;

  before(async function () {
    this.timeout(CLI);
    root = mkdtempSync(path.join(tmpdir(), 'eval-run-'));
    weights = await makeTinyWeights({ dir: path.join(root, 'weights') });
    images = path.join(root, 'held-out');
    mkdirSync(images);
    const s = weights.imageSize;
    for (let k = 0; k < FIXTURE_CAPTIONS.length; k++) {
      const px = Float32Array.from({ length: s * s * 3 }, (_, i) => ((i * (k + 2) * 7919) % 101) / 100);
      // PNG rounds to 8 bits: the dataset below encodes the decoded file, as the evaluation does.
      writeFileSync(path.join(images, `img-${k}.png`), await encodePng(px, s, s));
      writeFileSync(path.join(images, `img-${k}.txt`), `${FIXTURE_CAPTIONS[k]}\nsomething else\n`);
    }
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  /** A token dataset of the held-out images (first caption each), as dvae-encode would write it. */
  async function writeTokens(dir: string, override: { gridSize?: number } = {}): Promise<void> {
    const tok = await loadTextTokenizer(path.join(weights.dir, 'tokenizer'));
    const dvae = await loadDvae(path.join(weights.dir, 'dvae'));
    const model = await loadTransformer(path.join(weights.dir, 'transformer'));
    const held = await readHeldOut(images, dvae.imageSize, null);
    const info = {
      textSeqLen: model.config.textSeqLen,
      gridSize: override.gridSize ?? dvae.gridSize,
      codebookSize: dvae.codebookSize,
      textVocabSize: model.config.textVocabSize,
      dvaeId: String(model.info.dvaeId),
      tokenizerId: String(model.info.tokenizerId),
    };
    disposeTransformer(model);
    const writer = await TokenDatasetWriter.create(dir, info);
    try {
      const G2 = info.gridSize ** 2;
      for (let k = 0; k < held.images.length; k++) {
        const s = dvae.imageSize;
        const codes = tf.tidy(() => dvae.encode(tf.tensor4d(held.images[k], [1, s, s, 3])));
        const ids = Array.from(await codes.data()).slice(0, G2);
        while (ids.length < G2) ids.push(0);
        codes.dispose();
        await writer.add(encodeText(tok, held.captions[k], info.textSeqLen).ids, ids);
      }
      await writer.close();
    } finally {
      dvae.dispose();
    }
  }

  it('--tokens gives the same transformer losses as encoding the held-out images here', async () => {
    const tokens = path.join(root, 'tokens');
    await writeTokens(tokens);
    const here = await evaluateModel({ weights: weights.dir, images, skip: ONLY_TRANSFORMER });
    const fromTokens = await evaluateModel({ weights: weights.dir, tokens, skip: ONLY_TRANSFORMER });
    const a = here.report.transformer!;
    const b = fromTokens.report.transformer!;
    assert.equal(b.records, FIXTURE_CAPTIONS.length);
    assert.equal(b.source, path.resolve(tokens));
    assert.equal(fromTokens.report.heldOut, null, 'no images are read when --tokens feeds the only phase');
    for (const [x, y] of [[a.trueCaptions.text, b.trueCaptions.text], [a.trueCaptions.image, b.trueCaptions.image], [a.shuffledCaptions.image, b.shuffledCaptions.image], [a.conditionalGain, b.conditionalGain]]) {
      assert.ok(Math.abs(x - y) < 1e-5, `${x} vs ${y}`);
    }
  });

  it('refuses a token dataset that does not fit the model, naming the field', async () => {
    const tokens = path.join(root, 'tokens-3x3');
    await writeTokens(tokens, { gridSize: 3 });
    await assert.rejects(evaluateModel({ weights: weights.dir, tokens, skip: ONLY_TRANSFORMER }), (err: Error) => err instanceof UsageError && /dataset gridSize is 3 but the model expects 4/.test(err.message));
  });

  it('a run (no CLIP: sheet reranked by self-score) leaves no tensor behind and is reproducible', async () => {
    const opts = { weights: weights.dir, images, skip: ['clip', 'generation'] as EvalPhase[], numCandidates: 2, perPrompt: 2, sheetCandidates: 3, sheetPrompts: ['a red heart', 'a cat'], seed: 5 };
    const first = await expectNoLeak(() => evaluateModel(opts));
    const second = await evaluateModel(opts);
    assert.deepEqual(second.report.dvae, first.report.dvae);
    assert.deepEqual(second.report.transformer, first.report.transformer);
    assert.deepEqual(second.sheetPng, first.sheetPng);
    assert.equal(first.report.sheet!.numCandidates, 3);
  });

  it('samples with the weights\' recommended settings (manifest "sampling") unless told otherwise', async () => {
    const tuned = path.join(root, 'tuned');
    mkdirSync(tuned);
    for (const part of ['tokenizer', 'dvae', 'transformer']) symlinkSync(path.join(weights.dir, part), path.join(tuned, part));
    const manifest = JSON.parse(readFileSync(path.join(weights.dir, 'manifest.json'), 'utf8'));
    writeFileSync(path.join(tuned, 'manifest.json'), JSON.stringify({ ...manifest, sampling: { condScale: 1.5, topK: 4, temperature: 0.5, topP: 0.9 } }));
    const opts = { images, skip: ['dvae', 'transformer', 'clip', 'generation'] as EvalPhase[], perPrompt: 1, sheetCandidates: 1, sheetPrompts: ['a cat'] };
    const r = await evaluateModel({ ...opts, weights: tuned });
    const { condScale, topK, temperature, topP } = r.report.settings;
    assert.deepEqual([condScale, topK, temperature, topP], [1.5, 4, 0.5, 0.9]);
    const byHand = await evaluateModel({ ...opts, weights: weights.dir, condScale: 1.5, topK: 4, temperature: 0.5, topP: 0.9 });
    assert.deepEqual(r.sheetPng, byHand.sheetPng);
    // the temperature reaches the sampler: the same settings at temperature 1 draw another sheet
    const warmer = await evaluateModel({ ...opts, weights: weights.dir, condScale: 1.5, topK: 4, temperature: 1, topP: 0.9 });
    assert.notDeepEqual(warmer.sheetPng, byHand.sheetPng);
    const over = await evaluateModel({ ...opts, weights: tuned, condScale: 1, temperature: 2 });
    assert.deepEqual([over.report.settings.condScale, over.report.settings.temperature, over.report.settings.topP], [1, 2, 0.9]);
  });
});
