import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, UsageError, type AdamWState } from '@dalle/core';
import { expectNoLeak } from '../helpers/memory.ts';
import { FAST } from '../helpers/timeouts.ts';

const close = (got: ArrayLike<number>, want: number[], tol = 1e-6) =>
  want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) < tol, `element ${i}: ${got[i]} vs ${w}`));

describe('AdamW', function () {
  this.timeout(FAST);
  const config = { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1 };

  it('two steps match a hand computation, decaying the matrix and not the vector', () => {
    const params = { 'w.kernel': tf.variable(tf.tensor2d([[1, -2]])), 'w.bias': tf.variable(tf.tensor1d([0.5])) };
    const opt = new AdamW(params, config);
    const g1 = { 'w.kernel': tf.tensor2d([[0.1, 0.3]]), 'w.bias': tf.tensor1d([-0.2]) };
    opt.apply(g1, 0.01);
    // Step 1, kernel[0]: m = 0.01, v = 0.0005, mHat = 0.1, vHat = 0.01, mHat / (sqrt(vHat) + eps) = 1 - 1e-7;
    // p = 1 - 0.01 * (1 - 1e-7) - 0.01 * 0.1 * 1 = 0.989000001. kernel[1] likewise moves by -0.01 and decays by +0.002.
    // The bias moves by +0.01 (its gradient is negative) and does not decay.
    close(params['w.kernel'].dataSync(), [0.989000001, -2.0079999997]);
    close(params['w.bias'].dataSync(), [0.5099999995]);
    const g2 = { 'w.kernel': tf.tensor2d([[-0.2, 0.3]]), 'w.bias': tf.tensor1d([0.4]) };
    opt.apply(g2, 0.01);
    // Step 2, kernel[0]: m = 0.9 * 0.01 - 0.02 = -0.011, v = 0.95 * 0.0005 + 0.002 = 0.002475,
    // mHat = -0.011 / 0.19, vHat = 0.002475 / 0.0975, update = mHat / (sqrt(vHat) + eps) = -0.3633781;
    // p = 0.989000001 + 0.003633781 - 0.000989 = 0.991644740.
    close(params['w.kernel'].dataSync(), [0.99164474, -2.01599200]);
    close(params['w.bias'].dataSync(), [0.50636626]);
    assert.equal(opt.step, 2);
    tf.dispose([...Object.values(g1), ...Object.values(g2), ...Object.values(params)]);
    opt.dispose();
  });

  it('decays only the variables the predicate names (default: rank >= 2)', () => {
    // With zero gradients the Adam term is 0 / (0 + eps) = 0, so any movement is the decay alone: p * (1 - lr * wd).
    const make = () => ({ 'a.kernel': tf.variable(tf.tensor2d([[2, -4]])), 'a.bias': tf.variable(tf.tensor2d([[3, 1]])), 'a.gain': tf.variable(tf.tensor1d([5])) });
    const zeros = (p: Record<string, tf.Variable>) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, tf.zerosLike(v)]));
    const byRank = make();
    const o1 = new AdamW(byRank, config);
    const z1 = zeros(byRank);
    o1.apply(z1, 0.5); // factor 1 - 0.5 * 0.1 = 0.95
    close(byRank['a.kernel'].dataSync(), [1.9, -3.8]);
    close(byRank['a.bias'].dataSync(), [2.85, 0.95]);
    close(byRank['a.gain'].dataSync(), [5]);
    const byKey = make();
    const o2 = new AdamW(byKey, config, (key, v) => v.rank >= 2 && !key.endsWith('.bias'));
    const z2 = zeros(byKey);
    o2.apply(z2, 0.5);
    close(byKey['a.kernel'].dataSync(), [1.9, -3.8]);
    close(byKey['a.bias'].dataSync(), [3, 1]);
    close(byKey['a.gain'].dataSync(), [5]);
    const plain = make();
    const o3 = new AdamW(plain); // defaults: plain Adam, no decay
    const z3 = zeros(plain);
    o3.apply(z3, 0.5);
    close(plain['a.kernel'].dataSync(), [2, -4]);
    tf.dispose([...Object.values(byRank), ...Object.values(byKey), ...Object.values(plain), ...Object.values(z1), ...Object.values(z2), ...Object.values(z3)]);
    [o1, o2, o3].forEach((o) => o.dispose());
  });

  it('leaves a variable without a gradient, and its moments, untouched', () => {
    const params = { a: tf.variable(tf.tensor2d([[1, 2]])), b: tf.variable(tf.tensor1d([3, 4])) };
    const opt = new AdamW(params, config);
    const ga = tf.tensor2d([[0.5, -0.5]]);
    const gb = tf.tensor1d([0.2, 0.4]);
    opt.apply({ a: ga, b: gb }, 0.1);
    const after1 = opt.state().tensors;
    const a1 = Array.from(params.a.dataSync());
    const b1 = Array.from(params.b.dataSync());
    opt.apply({ a: ga }, 0.1);
    opt.apply({ a: ga, b: undefined }, 0.1);
    assert.equal(opt.step, 3);
    assert.notDeepEqual(Array.from(params.a.dataSync()), a1);
    assert.deepEqual(Array.from(params.b.dataSync()), b1);
    const after3 = opt.state().tensors;
    assert.deepEqual(after3['m.b'], after1['m.b']);
    assert.deepEqual(after3['v.b'], after1['v.b']);
    assert.notDeepEqual(after3['m.a'], after1['m.a']);
    tf.dispose([ga, gb, params.a, params.b]);
    opt.dispose();
  });

  it('throws on a gradient for an unknown key or of the wrong shape, before changing anything', () => {
    const params = { a: tf.variable(tf.tensor1d([1, 2])) };
    const opt = new AdamW(params, config);
    const g = tf.tensor1d([1, 1]);
    const wide = tf.tensor1d([1, 1, 1]);
    assert.throws(() => opt.apply({ a: g, 'typo.kernel': g }, 0.1), /^Error: AdamW: gradient for unknown variable "typo\.kernel"$/);
    assert.throws(() => opt.apply({ a: wide }, 0.1), /^Error: AdamW: gradient for "a" has shape \[3\] but the variable has \[2\]$/);
    assert.equal(opt.step, 0);
    assert.deepEqual(Array.from(params.a.dataSync()), [1, 2]);
    tf.dispose([g, wide, params.a]);
    opt.dispose();
  });

  it('minimises a quadratic', () => {
    const w = tf.variable(tf.zeros([4]));
    const target = tf.tensor1d([1, -2, 3, 0.5]);
    const opt = new AdamW({ w });
    const lossAndStep = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(tf.sub(w, target))) as tf.Scalar, [w]);
      opt.apply({ w: grads[w.name] }, 0.1);
      const l = value.dataSync()[0];
      tf.dispose([value, grads[w.name]]);
      return l;
    };
    const first = lossAndStep();
    let last = first;
    for (let i = 0; i < 200; i++) last = lossAndStep();
    assert.ok(last < first * 1e-2, `loss ${first} -> ${last}`);
    tf.dispose([w, target]);
    opt.dispose();
  });

  it('a saved and restored state continues identically; apply and dispose do not leak', async () => {
    const make = () => ({ 'a.kernel': tf.variable(tf.tensor2d([[1, 2], [3, 4]])), 'a.bias': tf.variable(tf.tensor1d([0.1, -0.1])) });
    const grads = { 'a.kernel': tf.tensor2d([[0.5, -1], [2, 0.1]]), 'a.bias': tf.tensor1d([0.3, 0.7]) };
    const p1 = make();
    const o1 = new AdamW(p1, config);
    o1.apply(grads, 0.1);
    o1.apply(grads, 0.05);
    const saved = o1.state();
    assert.equal(saved.step, 2);
    assert.deepEqual(Object.keys(saved.tensors).sort(), ['m.a.bias', 'm.a.kernel', 'v.a.bias', 'v.a.kernel']); // the checkpoint format
    const p2 = make();
    p2['a.kernel'].assign(p1['a.kernel']);
    p2['a.bias'].assign(p1['a.bias']);
    const o2 = new AdamW(p2, config);
    o2.loadState(saved, 'test');
    assert.equal(o2.step, 2);
    for (let i = 0; i < 3; i++) {
      await expectNoLeak(() => o1.apply(grads, 0.1));
      o2.apply(grads, 0.1);
    }
    assert.deepEqual(p2['a.kernel'].dataSync(), p1['a.kernel'].dataSync());
    assert.deepEqual(p2['a.bias'].dataSync(), p1['a.bias'].dataSync());
    assert.deepEqual(o2.state(), o1.state());
    const count = tf.memory().numTensors;
    new AdamW(p1, config).dispose();
    assert.equal(tf.memory().numTensors, count, 'dispose must free the moment tensors');
    tf.dispose([...Object.values(grads), ...Object.values(p1), ...Object.values(p2)]);
    o1.dispose();
    o2.dispose();
  });

  it('loadState refuses wrong keys, wrong shapes and a bad step, and keeps its state', () => {
    const params = { 'a.kernel': tf.variable(tf.zeros([2, 3])) };
    const opt = new AdamW(params, config);
    const g = tf.ones([2, 3]);
    opt.apply({ 'a.kernel': g }, 0.1);
    const good = opt.state();
    const without = (name: string): AdamWState => ({ step: 1, tensors: Object.fromEntries(Object.entries(good.tensors).filter(([k]) => k !== name)) });
    const refuse = (state: AdamWState, message: string) =>
      assert.throws(
        () => opt.loadState(state, 'ckpt'),
        (err: unknown) => err instanceof UsageError && err.message === message,
      );
    refuse(without('v.a.kernel'), 'ckpt: missing tensor "v.a.kernel" (expected shape [2,3])');
    refuse({ step: 1, tensors: { ...good.tensors, 'm.extra': good.tensors['m.a.kernel'] } }, 'ckpt: unexpected tensor "m.extra" (shape [2,3]) that this model does not have');
    refuse({ step: 1, tensors: { ...good.tensors, 'm.a.kernel': { ...good.tensors['m.a.kernel'], shape: [3, 2] } } }, 'ckpt: tensor "m.a.kernel" has shape [3,2] but the model expects [2,3]');
    refuse({ step: -1, tensors: good.tensors }, 'ckpt: optimizer step must be a non-negative integer, got -1');
    refuse({ step: 1.5, tensors: good.tensors }, 'ckpt: optimizer step must be a non-negative integer, got 1.5');
    assert.deepEqual(opt.state(), good);
    tf.dispose([g, params['a.kernel']]);
    opt.dispose();
  });

  it('refuses out-of-range settings', () => {
    const params = { a: tf.variable(tf.zeros([1])) };
    assert.throws(() => new AdamW(params, { beta2: 1 }), /^UsageError: AdamW: beta2 must be in \[0, 1\), got 1$/);
    assert.throws(() => new AdamW(params, { epsilon: 0 }), /^UsageError: AdamW: epsilon must be a positive number, got 0$/);
    assert.throws(() => new AdamW(params, { weightDecay: -0.1 }), /^UsageError: AdamW: weightDecay must be a number >= 0, got -0.1$/);
    params.a.dispose();
  });
});
