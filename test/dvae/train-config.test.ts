import { strict as assert } from 'node:assert';
import { DVAE_TRAIN_DEFAULTS, klWeightAt, learningRateAt, resolveDvaeTrainConfig, temperatureAt } from '@dalle/dvae';

describe('dvae training config and schedules', () => {
  const c = resolveDvaeTrainConfig({ steps: 1000, warmupSteps: 100, lr: 1e-3, lrMin: 1e-5, temperatureStart: 1, temperatureEnd: 1 / 16, temperatureAnnealFraction: 0.5, klWeight: 2, klWarmupFraction: 0.2 });

  it('fills defaults and validates ranges', () => {
    assert.deepEqual(resolveDvaeTrainConfig(), DVAE_TRAIN_DEFAULTS);
    assert.throws(() => resolveDvaeTrainConfig({ batchSize: 0 }), /batchSize must be an integer in \[1, 4096\], got 0/);
    assert.throws(() => resolveDvaeTrainConfig({ temperatureEnd: 2 }), /temperatureEnd must be a number in \(0, 1\], got 2/);
    assert.throws(() => resolveDvaeTrainConfig({ lrMin: 1 }), /lrMin must be a number/);
    assert.throws(() => resolveDvaeTrainConfig({ stepz: 1 } as never), /unknown dVAE training field "stepz"/);
  });

  it('learning rate warms up linearly, peaks, then decays by cosine to lrMin', () => {
    assert.ok(Math.abs(learningRateAt(c, 0) - 1e-5) < 1e-12);
    assert.ok(Math.abs(learningRateAt(c, 99) - 1e-3) < 1e-12);
    assert.ok(learningRateAt(c, 500) < 1e-3 && learningRateAt(c, 500) > 1e-5);
    assert.ok(Math.abs(learningRateAt(c, 1000) - 1e-5) < 1e-12);
    for (let s = 100; s < 1000; s += 50) assert.ok(learningRateAt(c, s + 50) <= learningRateAt(c, s));
  });

  it('temperature anneals 1 -> 1/16 over the anneal fraction, then stays', () => {
    assert.equal(temperatureAt(c, 0), 1);
    assert.ok(Math.abs(temperatureAt(c, 500) - 1 / 16) < 1e-12);
    assert.ok(Math.abs(temperatureAt(c, 900) - 1 / 16) < 1e-12);
    assert.ok(temperatureAt(c, 250) < 1 && temperatureAt(c, 250) > 1 / 16);
  });

  it('KL weight ramps from 0 to klWeight over its warmup fraction', () => {
    assert.equal(klWeightAt(c, 0), 0);
    assert.ok(Math.abs(klWeightAt(c, 200) - 2) < 1e-12);
    assert.ok(Math.abs(klWeightAt(c, 999) - 2) < 1e-12);
    assert.ok(klWeightAt(c, 50) < klWeightAt(c, 100) && klWeightAt(c, 100) < 2);
  });
});
