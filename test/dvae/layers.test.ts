import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { conv, convKernelGradIm2col } from '../../packages/dvae/src/layers.ts';
import { FAST } from '../helpers/timeouts.ts';

// Parity of the hand-written convolution gradients with tfjs's own conv2d gradients.
describe('dvae layers: conv gradients', function () {
  this.timeout(FAST);
  for (const k of [1, 3]) {
    it(`input, kernel and bias gradients match tf.conv2d's (k=${k})`, () => {
      tf.tidy(() => {
        const x = tf.randomNormal([2, 5, 6, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
        const kernel = tf.variable(tf.randomNormal([k, k, 3, 4], 0, 1, 'float32', 2));
        const bias = tf.variable(tf.randomNormal([4], 0, 1, 'float32', 3));
        const w = tf.randomNormal([2, 5, 6, 4], 0, 1, 'float32', 4);
        const params = { 'c.kernel': kernel, 'c.bias': bias };
        const ours = (xx: tf.Tensor) => tf.sum(tf.mul(conv(xx as tf.Tensor4D, params, 'c'), w)) as tf.Scalar;
        const ref = (xx: tf.Tensor) => tf.sum(tf.mul(tf.add(tf.conv2d(xx as tf.Tensor4D, kernel as tf.Variable<tf.Rank.R4>, 1, 'same'), bias), w)) as tf.Scalar;
        const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
        assert.ok(maxDiff(tf.grad(ours)(x), tf.grad(ref)(x)) < 1e-4);
        const g1 = tf.variableGrads(() => ours(x), [kernel, bias]).grads;
        const g2 = tf.variableGrads(() => ref(x), [kernel, bias]).grads;
        assert.ok(maxDiff(g1[kernel.name], g2[kernel.name]) < 1e-4);
        assert.ok(maxDiff(g1[bias.name], g2[bias.name]) < 1e-4);
        // The im2col path, whichever path the backend uses above.
        const dy = tf.randomNormal([2, 5, 6, 4], 0, 1, 'float32', 5) as tf.Tensor4D;
        const viaIm2col = convKernelGradIm2col(x, dy, k);
        const viaGrad = tf.grad((kk: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, kk as tf.Tensor4D, 1, 'same'), dy)))(kernel);
        assert.ok(maxDiff(viaIm2col, viaGrad) < 1e-4);
        kernel.dispose();
        bias.dispose();
      });
    });
  }
});
