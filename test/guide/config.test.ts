import { strict as assert } from 'node:assert';
import { GUIDE_DEFAULTS, resolveGuideConfig, temperatureAt } from '@dalle/guide';

describe('guide config', () => {
  it('fills defaults and keeps given fields', () => {
    const c = resolveGuideConfig({ steps: 7, lr: 0.5 });
    assert.equal(c.steps, 7);
    assert.equal(c.lr, 0.5);
    assert.equal(c.n, GUIDE_DEFAULTS.n);
    assert.deepEqual(resolveGuideConfig(), GUIDE_DEFAULTS);
  });

  it('rejects bad values naming the field and what arrived', () => {
    assert.throws(() => resolveGuideConfig({ steps: -1 }), /steps must be an integer in \[0, .*got -1/);
    assert.throws(() => resolveGuideConfig({ lr: 0 }), /lr must be a number > 0, got 0/);
    assert.throws(() => resolveGuideConfig({ n: 0 }), /n must be an integer/);
    assert.throws(() => resolveGuideConfig({ cropMin: 0 }), /cropMin must be in \(0, 1\]/);
    assert.throws(() => resolveGuideConfig({ tauEnd: 2, tauStart: 1 }), /tauEnd must be in \(0, tauStart/);
    assert.throws(() => resolveGuideConfig({ bogus: 1 } as never), /unknown guide config field "bogus"/);
  });

  it('anneals the temperature geometrically from tauStart to tauEnd', () => {
    const c = resolveGuideConfig({ steps: 5, tauStart: 1, tauEnd: 1 / 16 });
    assert.equal(temperatureAt(c, 0), 1);
    assert.ok(Math.abs(temperatureAt(c, 4) - 1 / 16) < 1e-12);
    assert.ok(Math.abs(temperatureAt(c, 2) - 1 / 4) < 1e-12);
    for (let s = 1; s < 5; s++) assert.ok(temperatureAt(c, s) < temperatureAt(c, s - 1));
    assert.equal(temperatureAt(resolveGuideConfig({ steps: 1 }), 0), GUIDE_DEFAULTS.tauStart);
  });
});
