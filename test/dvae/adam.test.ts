import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { Adam } from '@dalle/dvae';
import { FAST } from '../helpers/timeouts.ts';

describe('Adam', function () {
  this.timeout(FAST);
  const target = [1, -2, 3, 0.5];
  const lossOf = (w: tf.Variable) => () => tf.sum(tf.square(tf.sub(w, tf.tensor1d(target)))) as tf.Scalar;
  const step = (adam: Adam, w: tf.Variable) => {
    const { value, grads } = tf.variableGrads(lossOf(w), [w]);
    adam.apply({ w: grads[w.name] }, 0.1);
    const l = value.dataSync()[0];
    tf.dispose([value, grads[w.name]]);
    return l;
  };

  it('minimises a quadratic', () => {
    const w = tf.variable(tf.zeros([4]));
    const adam = new Adam({ w });
    const first = step(adam, w);
    let last = first;
    for (let i = 0; i < 200; i++) last = step(adam, w);
    assert.ok(last < first * 1e-2, `loss ${first} -> ${last}`);
    adam.dispose();
    w.dispose();
  });

  it('a saved and restored state continues exactly like the original', () => {
    const w1 = tf.variable(tf.zeros([4]));
    const a1 = new Adam({ w: w1 });
    for (let i = 0; i < 5; i++) step(a1, w1);
    const saved = a1.state();
    const w2 = tf.variable(w1.clone());
    const a2 = new Adam({ w: w2 });
    a2.load(saved, 'test');
    assert.equal(a2.step, 5);
    for (let i = 0; i < 5; i++) assert.equal(step(a1, w1), step(a2, w2));
    assert.deepEqual(Array.from(w1.dataSync()), Array.from(w2.dataSync()));
    assert.throws(() => new Adam({ x: tf.variable(tf.zeros([3])) }).load(saved, 'ckpt'), /ckpt: optimizer state lacks "m.x"/);
    tf.dispose([w1, w2]);
    a1.dispose();
    a2.dispose();
  });
});
