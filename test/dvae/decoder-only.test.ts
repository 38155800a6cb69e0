// The decoder-only fine-tune: the codebook and decoder train on the frozen encoder's hard codes,
// so every image keeps its codes; the model records whose codes it keeps, loadDvae checks that
// record against the encoder weights, and dvaeCodesId names the codes a transformer was trained on.
import { strict as assert } from 'node:assert';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Dvae, DVAE_PRESETS, batchTensor, dvaeCodesId, dvaeIdentity, encoderIdentity, evaluateDvae, isEncoderKey, loadDvae, saveDvae, trainDvae, type DvaeTrainConfig } from '@dalle/dvae';
import { currentBackend } from '@dalle/core';
import { TRAINING } from '../helpers/timeouts.ts';
import { syntheticImages } from './fixtures.ts';

describe('dVAE decoder-only fine-tune', function () {
  this.timeout(TRAINING);
  let dir: string;
  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dvae-decoder-only-'));
  });
  afterEach(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  const images = syntheticImages(6, 16, 4);
  const train: Partial<DvaeTrainConfig> = { decoderOnly: true, steps: 30, batchSize: 3, lr: 1e-2, lrMin: 1e-3, warmupSteps: 0, logEvery: 1000, seed: 2 };
  const values = (t: tf.Tensor) => Array.from(t.dataSync());

  it('keeps every code and encoder weight, trains the decoder, and lowers the hard-code error', async () => {
    const base = Dvae.create(DVAE_PRESETS.tiny, 5);
    const x = batchTensor(images, 16);
    const codesBefore = base.encode(x);
    const before = await evaluateDvae(base, images);
    const r = await trainDvae({ images, init: base, train });
    try {
      const codesAfter = r.dvae.encode(x);
      assert.deepEqual(values(codesAfter), values(codesBefore));
      codesAfter.dispose();
      for (const [key, v] of Object.entries(base.params)) {
        const same = values(v).every((a, i) => a === values(r.dvae.params[key])[i]);
        if (isEncoderKey(key)) assert.ok(same, `${key} changed`);
        else if (key === 'codebook' || key === 'dec.out.kernel') assert.ok(!same, `${key} did not train`);
      }
      const after = await evaluateDvae(r.dvae, images);
      assert.ok(after.psnr > before.psnr + 1, `hard-code PSNR ${before.psnr.toFixed(2)} -> ${after.psnr.toFixed(2)} dB`);
      assert.equal(after.codesUsed, before.codesUsed);
      assert.ok(r.history.every((h) => h.kl === 0 && h.loss === h.recon));
      // The step's PSNR is of the hard codes, so the last one is close to the evaluation's.
      assert.ok(Math.abs(r.history[r.history.length - 1].psnr - after.psnr) < 1.5);
      // It keeps the base model's codes and says so; its own identity differs.
      assert.equal(r.dvae.codesFrom, dvaeIdentity(base));
      assert.equal(dvaeCodesId(r.dvae), dvaeIdentity(base));
      assert.notEqual(dvaeIdentity(r.dvae), dvaeIdentity(base));
      assert.equal(encoderIdentity(r.dvae), encoderIdentity(base));
      assert.equal(dvaeCodesId(base), dvaeIdentity(base));
    } finally {
      tf.dispose([x, codesBefore]);
      r.dvae.dispose();
      base.dispose();
    }
  });

  it('save -> load keeps whose codes it has; a changed encoder is refused; fine-tunes chain', async () => {
    const base = Dvae.create(DVAE_PRESETS.tiny, 6);
    const first = await trainDvae({ images, init: base, train: { ...train, steps: 2 } });
    const a = path.join(dir, 'a');
    await saveDvae(a, first.dvae, { steps: 2 });
    const info = JSON.parse(await fsp.readFile(path.join(a, 'config.json'), 'utf8')).info;
    assert.deepEqual(info, { steps: 2, codesFrom: dvaeIdentity(base), encoderIdentity: encoderIdentity(base) });
    const loaded = await loadDvae(a);
    assert.equal(loaded.codesFrom, dvaeIdentity(base));
    assert.equal(dvaeIdentity(loaded), dvaeIdentity(first.dvae));

    // A second decoder-only fine-tune still names the base model; a full one has codes of its own.
    const second = await trainDvae({ images, init: loaded, train: { ...train, steps: 2 } });
    assert.equal(dvaeCodesId(second.dvae), dvaeIdentity(base));
    const full = await trainDvae({ images, init: loaded, train: { ...train, decoderOnly: false, steps: 2 } });
    assert.equal(full.dvae.codesFrom, undefined);
    assert.equal(dvaeCodesId(full.dvae), dvaeIdentity(full.dvae));

    // The weights of `full` (another encoder) under a's config.json: refused, naming the fix.
    const b = path.join(dir, 'b');
    await saveDvae(b, full.dvae);
    await fsp.copyFile(path.join(a, 'config.json'), path.join(b, 'config.json'));
    const count = tf.memory().numTensors;
    await assert.rejects(loadDvae(b), /b: config.json says this dVAE keeps the codes of dVAE [0-9a-f]{12}, but its encoder weights are not the ones recorded in info.encoderIdentity; re-export the model/);
    assert.equal(tf.memory().numTensors, count, 'a refused model leaves no tensors behind');
    const bad = { ...info, codesFrom: 'not-a-hash' };
    await fsp.writeFile(path.join(b, 'config.json'), JSON.stringify({ ...JSON.parse(await fsp.readFile(path.join(a, 'config.json'), 'utf8')), info: bad }));
    await assert.rejects(loadDvae(b), /info.codesFrom must be a dVAE identity \(64 hex digits\), got "not-a-hash"/);
    for (const m of [base, first.dvae, loaded, second.dvae, full.dvae]) m.dispose();
  });

  // Skipped on the cpu backend, where the 60 steps of a fresh decoder take minutes.
  it('a wider, deeper decoder trains on the same codes; the encoder config may not change', async function () {
    if (currentBackend()?.name === 'cpu') this.skip();
    const base = Dvae.create(DVAE_PRESETS.tiny, 8);
    const x = batchTensor(images, 16);
    const codes = base.encode(x);
    const config = { ...DVAE_PRESETS.tiny, decoderHiddenChannels: 16, decoderResBlocks: 2 };
    await assert.rejects(trainDvae({ images, init: base, config: { ...config, hiddenChannels: 16 }, train }), /may change only the decoder \(decoderHiddenChannels, decoderResBlocks\)/);
    await assert.rejects(trainDvae({ images, init: base, config, train: { ...train, decoderOnly: false } }), /decoderHiddenChannels is undefined in the checkpoint but 16 was requested/);
    const before = await evaluateDvae(base, images);
    // A fresh decoder needs a smaller step than the fine-tune (1e-2 diverged here).
    const r = await trainDvae({ images, init: base, config, train: { ...train, steps: 60, lr: 1e-3, lrMin: 1e-4 } });
    try {
      assert.equal(r.dvae.config.decoderHiddenChannels, 16);
      assert.equal(r.dvae.config.decoderResBlocks, 2);
      assert.deepEqual(r.dvae.params['dec.out.kernel'].shape, [1, 1, 16, 3]);
      const after = r.dvae.encode(x);
      assert.deepEqual(values(after), values(codes));
      after.dispose();
      assert.equal(encoderIdentity(r.dvae), encoderIdentity(base));
      assert.equal(dvaeCodesId(r.dvae), dvaeIdentity(base));
      const afterPsnr = (await evaluateDvae(r.dvae, images)).psnr;
      assert.ok(afterPsnr > before.psnr + 2, `hard-code PSNR ${before.psnr.toFixed(2)} -> ${afterPsnr.toFixed(2)} dB`);
      // The resized decoder round-trips through its folder.
      await saveDvae(path.join(dir, 'wide'), r.dvae);
      const loaded = await loadDvae(path.join(dir, 'wide'));
      assert.deepEqual(loaded.config, r.dvae.config);
      assert.equal(dvaeIdentity(loaded), dvaeIdentity(r.dvae));
      loaded.dispose();
    } finally {
      tf.dispose([x, codes]);
      r.dvae.dispose();
      base.dispose();
    }
  });

  it('needs a model to start from, and resumes exactly', async () => {
    await assert.rejects(trainDvae({ images, config: DVAE_PRESETS.tiny, train }), /decoderOnly trains the decoder on the codes of a trained encoder: start from one \(--init\)/);
    const base = Dvae.create(DVAE_PRESETS.tiny, 7);
    const t = { ...train, steps: 6, checkpointEvery: 2 };
    const whole = await trainDvae({ images, init: base, train: t, runDir: path.join(dir, 'whole') });
    const controller = new AbortController();
    const cut = await trainDvae({ images, init: base, train: t, runDir: path.join(dir, 'cut'), signal: controller.signal, onStep: (l) => l.step === 3 && controller.abort() });
    assert.equal(cut.step, 3);
    const resumed = await trainDvae({ images, runDir: path.join(dir, 'cut'), resume: true });
    try {
      assert.deepEqual(resumed.history.map((h) => h.loss), whole.history.slice(3).map((h) => h.loss));
      assert.equal(resumed.dvae.codesFrom, dvaeIdentity(base));
      assert.equal(dvaeIdentity(resumed.dvae), dvaeIdentity(whole.dvae));
    } finally {
      for (const m of [base, whole.dvae, cut.dvae, resumed.dvae]) m.dispose();
    }
  });
});
