import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { gelu } from '@dalle/transformer';
import { expectNoLeak } from '../helpers/memory.ts';

/** The textbook formula, differentiated by tfjs itself. */
const reference = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI))), 1));

describe('mlp', () => {
  it('gelu: values and hand-written gradient match the autodiff of the formula', async () => {
    const x = tf.linspace(-6, 6, 101);
    const [y, yRef, g, gRef] = tf.tidy(() => [gelu(x), reference(x), tf.grad((t: tf.Tensor) => tf.sum(tf.mul(gelu(t), t)))(x), tf.grad((t: tf.Tensor) => tf.sum(tf.mul(reference(t), t)))(x)].map((t) => [...t.dataSync()]));
    y.forEach((v, i) => assert.ok(Math.abs(v - yRef[i]) < 1e-5, `value at ${i}`));
    g.forEach((v, i) => assert.ok(Math.abs(v - gRef[i]) < 1e-4, `gradient at ${i}: ${v} vs ${gRef[i]}`));
    await expectNoLeak(() => tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(gelu(t)))(x).dataSync()));
    x.dispose();
  });
});
