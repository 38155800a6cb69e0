import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW } from '@dalle/transformer';
import { expectNoLeak } from '../helpers/memory.ts';

describe('AdamW', () => {
  const config = { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1 };

  it('matches the update rule by hand, decaying matrices but not biases', () => {
    const params = { 'w.kernel': tf.variable(tf.tensor2d([[1, -2]])), 'w.bias': tf.variable(tf.tensor1d([0.5])) };
    const opt = new AdamW(params, config);
    const grads = { 'w.kernel': tf.tensor2d([[0.1, 0.3]]), 'w.bias': tf.tensor1d([-0.2]) };
    const lr = 0.01;
    opt.apply(grads, lr);
    opt.apply(grads, lr);
    // With a constant gradient g, mHat = g and vHat = g^2 after any number of steps, so each step moves by
    // lr * (sign(g) + weightDecay * p) for matrices and lr * sign(g) for biases.
    let k = [1, -2];
    let b = 0.5;
    for (let s = 0; s < 2; s++) {
      k = k.map((p, i) => p - lr * ([0.1, 0.3][i] / (Math.abs([0.1, 0.3][i]) + 1e-8) + 0.1 * p));
      b = b - lr * (-0.2 / (0.2 + 1e-8));
    }
    const gotK = params['w.kernel'].dataSync();
    k.forEach((v, i) => assert.ok(Math.abs(gotK[i] - v) < 1e-6, `${gotK[i]} vs ${v}`));
    assert.ok(Math.abs(params['w.bias'].dataSync()[0] - b) < 1e-6);
    assert.equal(opt.step, 2);
    tf.dispose([...Object.values(grads), ...Object.values(params)]);
    opt.dispose();
  });

  it('state round-trips and continues identically; apply does not leak', async () => {
    const make = () => ({ 'a.kernel': tf.variable(tf.tensor2d([[1, 2], [3, 4]])) });
    const grads = { 'a.kernel': tf.tensor2d([[0.5, -1], [2, 0.1]]) };
    const p1 = make();
    const o1 = new AdamW(p1, config);
    o1.apply(grads, 0.1);
    const p2 = make();
    p2['a.kernel'].assign(p1['a.kernel']);
    const o2 = new AdamW(p2, config);
    o2.loadState(o1.step, o1.stateTensors(), 'test');
    await expectNoLeak(() => o1.apply(grads, 0.1));
    o2.apply(grads, 0.1);
    assert.deepEqual(p2['a.kernel'].dataSync(), p1['a.kernel'].dataSync());
    assert.throws(() => o2.loadState(1, {}, 'ckpt'), /ckpt: missing tensor "m.a.kernel"/);
    tf.dispose([...Object.values(grads), ...Object.values(p1), ...Object.values(p2)]);
    o1.dispose();
    o2.dispose();
  });
});
