import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { Adam, DVAE_PRESETS, Dvae, RECON_LOSSES, batchTensor, dvaeLoss, trainStep } from '@dalle/dvae';
import { expectNoLeak } from '../helpers/memory.ts';
import { TRAINING } from '../helpers/timeouts.ts';
import { syntheticImages } from './fixtures.ts';

describe('dvae training step', function () {
  this.timeout(TRAINING);

  for (const reconLoss of RECON_LOSSES) {
    for (const hard of reconLoss === 'mse' ? [false, true] : [false]) {
      it(`every variable gets a finite, non-zero gradient (${reconLoss}${hard ? ', straight-through' : ''}, KL on)`, () => {
        const dvae = Dvae.create({ ...DVAE_PRESETS.tiny, reconLoss }, 1);
        const x = batchTensor(syntheticImages(2, 16), 16);
        try {
          const vars = Object.values(dvae.params);
          const { value, grads } = tf.variableGrads(() => {
            const r = dvaeLoss(dvae, x, { temperature: 1, klWeight: 1, hard, noiseSeed: 4 });
            r.parts.dispose();
            return r.loss;
          }, vars);
          assert.ok(Number.isFinite(value.dataSync()[0]));
          for (const [key, v] of Object.entries(dvae.params)) {
            const g = grads[v.name];
            assert.ok(g, `no gradient for ${key}`);
            const d = g.dataSync();
            assert.ok(d.every(Number.isFinite), `non-finite gradient for ${key}`);
            assert.ok(d.some((e) => e !== 0), `zero gradient for ${key}`);
          }
          tf.dispose([value, ...Object.values(grads)]);
        } finally {
          x.dispose();
          dvae.dispose();
        }
      });
    }
  }

  it('one Adam step lowers nothing it should not leak, and reports finite metrics', async () => {
    const dvae = Dvae.create(DVAE_PRESETS.tiny, 2);
    const adam = new Adam(dvae.params);
    const x = batchTensor(syntheticImages(2, 16), 16);
    try {
      const settings = { lr: 1e-3, temperature: 1, klWeight: 1, hard: false, noiseSeed: 1 };
      await trainStep(dvae, adam, x, settings); // warm-up: the first step creates cached tensors
      const m = await expectNoLeak(() => trainStep(dvae, adam, x, settings));
      for (const v of Object.values(m)) assert.ok(Number.isFinite(v));
      assert.ok(m.perplexity >= 1 && m.perplexity <= dvae.codebookSize + 1e-3);
    } finally {
      x.dispose();
      adam.dispose();
      dvae.dispose();
    }
  });
});
