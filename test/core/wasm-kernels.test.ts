// Parity of the wasm kernel patches with the cpu backend: values and gradients on seeded random
// inputs (odd shapes, strides, paddings, transposes, broadcasts), plus tiny dVAE / transformer /
// ViT blocks whose every gradient must run on wasm and match cpu. Runs under any DALLE_BACKEND.
import * as tf from '@tensorflow/tfjs-core';
import { strict as assert } from 'node:assert';
import { registerWasmKernels, Rng, WASM_PATCHED_KERNELS } from '@dalle/core';
import { FAST } from '../helpers/timeouts.ts';

/** |wasm - cpu| <= TOL * max(1, |cpu|): absolute near zero, relative for large magnitudes. */
const TOL = 1e-4;

type Inputs = Record<string, { shape: number[]; data: Float32Array | Int32Array; dtype: 'float32' | 'int32' }>;

function floats(rng: Rng, shape: number[], scale = 1): Inputs[string] {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, dtype: 'float32', data: Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale) };
}

function ints(values: number[]): Inputs[string] {
  return { shape: [values.length], dtype: 'int32', data: Int32Array.from(values) };
}

/** Runs f on fresh tensors made from `inputs` on the given backend; returns every output's data. */
async function runOn(backend: string, inputs: Inputs, f: (t: Record<string, tf.Tensor>) => tf.Tensor | tf.Tensor[]): Promise<{ shape: number[]; data: Float32Array | Int32Array }[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const t: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(inputs)) t[k] = tf.tensor(v.data, v.shape, v.dtype);
    const out = f(t);
    return (Array.isArray(out) ? out : [out]).map((o) => ({ shape: o.shape, data: o.dataSync() as Float32Array | Int32Array }));
  });
}

function assertClose(wasm: { shape: number[]; data: ArrayLike<number> }[], cpu: { shape: number[]; data: ArrayLike<number> }[], what: string): void {
  assert.equal(wasm.length, cpu.length, `${what}: output count`);
  cpu.forEach((c, k) => {
    const w = wasm[k];
    assert.deepEqual(w.shape, c.shape, `${what}: output ${k} shape`);
    for (let i = 0; i < c.data.length; i++) {
      const err = Math.abs(w.data[i] - c.data[i]);
      if (!(err <= TOL * Math.max(1, Math.abs(c.data[i])))) {
        assert.fail(`${what}: output ${k} [${i}] wasm ${w.data[i]} vs cpu ${c.data[i]} (error ${err.toExponential(2)})`);
      }
    }
  });
}

/** f's outputs on wasm and on cpu agree within TOL. */
async function expectParity(what: string, inputs: Inputs, f: (t: Record<string, tf.Tensor>) => tf.Tensor | tf.Tensor[]): Promise<void> {
  const wasm = await runOn('wasm', inputs, f);
  const cpu = await runOn('cpu', inputs, f);
  assertClose(wasm, cpu, what);
}

/** Value of f(inputs) and its gradients with respect to the float inputs named in `wrt`. */
function valueAndGrads(t: Record<string, tf.Tensor>, wrt: string[], f: (...xs: tf.Tensor[]) => tf.Tensor, dy: tf.Tensor): tf.Tensor[] {
  const g = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), dy)));
  return [f(...wrt.map((k) => t[k])), ...g(wrt.map((k) => t[k]))];
}

/** Output shape of f on cpu (to size the upstream gradient). */
async function shapeOf(inputs: Inputs, f: (t: Record<string, tf.Tensor>) => tf.Tensor): Promise<number[]> {
  return (await runOn('cpu', inputs, f))[0].shape;
}

/** Nearest 2x upsampling by tiling (tf.image.resizeNearestNeighbor's gradient is wrong on cpu; tile's works to rank 4). */
function upsample2x(x: tf.Tensor): tf.Tensor {
  const [B, H, W, C] = x.shape;
  const cols = tf.reshape(tf.tile(tf.reshape(x, [B * H * W, 1, C]), [1, 2, 1]), [B, H, 1, 2 * W * C]); // columns doubled
  return tf.reshape(tf.tile(cols, [1, 1, 2, 1]), [B, 2 * H, 2 * W, C]); // rows doubled
}

describe('wasm kernels', function () {
  this.timeout(FAST * 3);
  let original: string;
  const rng = new Rng(1234);

  before(async () => {
    original = tf.getBackend();
    await import('@tensorflow/tfjs-backend-wasm');
    registerWasmKernels();
    assert.ok(await tf.setBackend('wasm'), 'the wasm backend should initialise');
  });

  after(async () => {
    await tf.setBackend(original);
  });

  it('registers every patched kernel for wasm', () => {
    for (const name of WASM_PATCHED_KERNELS) assert.ok(tf.getKernel(name, 'wasm'), name);
    for (const name of ['BatchMatMul', 'Conv2D', 'Mean', 'GatherV2', 'LogSoftmax']) assert.ok(tf.getGradient(name), `gradient of ${name}`);
  });

  it('BatchMatMul: values and gradients, all transposes, batches and broadcasts', async () => {
    const cases: [number[], number[]][] = [
      [[7, 5], [5, 3]], // 2-D, odd sizes
      [[3, 7, 5], [3, 5, 4]], // batch 3
      [[2, 3, 7, 5], [5, 4]], // b shared across a's batch
      [[7, 5], [2, 3, 5, 4]], // a shared across b's batch
      [[2, 1, 7, 5], [1, 3, 5, 4]], // partial broadcast (stock fallback)
      [[4, 96, 16], [4, 16, 96]], // attention-like
    ];
    for (const [aShape, bShape] of cases) {
      // tfjs-core's matMul gradient does not sum over broadcast batch dims (on any backend), so
      // broadcast cases check values only.
      const broadcast = aShape.slice(0, -2).join() !== bShape.slice(0, -2).join();
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const r = aShape.length;
          const a = ta ? [...aShape.slice(0, -2), aShape[r - 1], aShape[r - 2]] : aShape;
          const s = bShape.length;
          const b = tb ? [...bShape.slice(0, -2), bShape[s - 1], bShape[s - 2]] : bShape;
          const inputs: Inputs = { a: floats(rng, a), b: floats(rng, b) };
          const f = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, ta, tb);
          const what = `matMul [${a}]${ta ? 'T' : ''} x [${b}]${tb ? 'T' : ''}`;
          if (broadcast) {
            await expectParity(what, inputs, (t) => f(t.a, t.b));
            continue;
          }
          inputs.dy = floats(rng, await shapeOf(inputs, (t) => f(t.a, t.b)));
          await expectParity(what, inputs, (t) => valueAndGrads(t, ['a', 'b'], f, t.dy));
        }
      }
    }
  });

  it('BatchMatMul: one tensor reshaped into two different right-hand sides (stock wasm reuses a stale XNNPACK operator)', async () => {
    const inputs: Inputs = { w: floats(rng, [6, 4]), x: floats(rng, [3, 6]), y: floats(rng, [2, 4]), bias: floats(rng, [6]) };
    await expectParity('reshaped rhs', inputs, (t) => [
      tf.matMul(t.x, t.w),
      tf.matMul(t.y, tf.reshape(t.w, [4, 6])),
      tf.fused.matMul({ a: t.y, b: tf.reshape(t.w, [4, 6]), bias: t.bias, activation: 'relu' }),
      tf.matMul(t.x, t.w),
    ]);
  });

  it('_FusedMatMul: bias and activations with transposes and batches', async () => {
    const cases: [number[], number[], boolean, boolean, tf.fused.Activation][] = [
      [[7, 5], [3, 5], false, true, 'relu'],
      [[5, 7], [5, 3], true, false, 'elu'],
      [[3, 7, 5], [3, 5, 3], false, false, 'linear'],
      [[3, 5, 7], [3, 3, 5], true, true, 'sigmoid'],
    ];
    for (const [aShape, bShape, ta, tb, activation] of cases) {
      const inputs: Inputs = { a: floats(rng, aShape), b: floats(rng, bShape), bias: floats(rng, [3]) };
      const f = (a: tf.Tensor, b: tf.Tensor, bias: tf.Tensor) => tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias, activation });
      inputs.dy = floats(rng, await shapeOf(inputs, (t) => f(t.a, t.b, t.bias)));
      await expectParity(`fused ${activation} [${aShape}] x [${bShape}]`, inputs, (t) => valueAndGrads(t, ['a', 'b', 'bias'], f, t.dy));
    }
  });

  it('Conv2D gradients (Conv2DBackpropInput/Filter): filters 1x1 to 4x4, strides 1-2, same/valid, batch 3', async () => {
    type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;
    const configs: [number, number, Pad, number, number][] = [
      // [filter size, stride, pad, Cin, Cout]
      [1, 1, 'valid', 4, 6],
      [3, 1, 'same', 4, 6],
      [3, 2, 'same', 4, 6],
      [4, 2, 'same', 3, 5],
      [3, 2, 'valid', 4, 6],
      [4, 1, 'valid', 5, 2],
      [4, 1, 'same', 3, 4], // asymmetric 'same' padding (1 before, 2 after)
      [2, 1, 'same', 4, 3],
      // Explicit paddings: some strided phases need negative padding, so the col2im path runs.
      [1, 2, [[0, 0], [1, 0], [1, 1], [0, 0]], 4, 3],
      [3, 2, [[0, 0], [2, 1], [0, 2], [0, 0]], 3, 4],
    ];
    for (const [k, s, pad, cin, cout] of configs) {
      const inputs: Inputs = { x: floats(rng, [3, 7, 5, cin]), w: floats(rng, [k, k, cin, cout]) };
      const f = (x: tf.Tensor, w: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad);
      inputs.dy = floats(rng, await shapeOf(inputs, (t) => f(t.x, t.w)));
      await expectParity(`conv2d ${k}x${k} stride ${s} ${JSON.stringify(pad)} ${cin}->${cout}`, inputs, (t) => valueAndGrads(t, ['x', 'w'], f, t.dy));
    }
  });

  it('Conv2D gradients over several batch chunks', async () => {
    // 3 x 32 x 32 output pixels exceed one 2048-pixel chunk of the filter gradient.
    const inputs: Inputs = { x: floats(rng, [3, 32, 32, 4]), w: floats(rng, [3, 3, 4, 8], 0.2), dy: floats(rng, [3, 32, 32, 8]) };
    const f = (x: tf.Tensor, w: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same');
    await expectParity('conv2d 32x32 batch 3', inputs, (t) => valueAndGrads(t, ['x', 'w'], f, t.dy));
  });

  it('conv2dTranspose (upsampling) forward and backward', async () => {
    const inputs: Inputs = { x: floats(rng, [3, 4, 3, 6]), w: floats(rng, [4, 4, 5, 6]) }; // filter [k, k, outC, inC]
    const f = (x: tf.Tensor, w: tf.Tensor) => tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [3, 8, 6, 5], 2, 'same');
    inputs.dy = floats(rng, [3, 8, 6, 5]);
    await expectParity('conv2dTranspose stride 2', inputs, (t) => valueAndGrads(t, ['x', 'w'], f, t.dy));
  });

  it('UnsortedSegmentSum: gather gradients with repeated and out-of-order indices', async () => {
    const idx = [4, 0, 4, 2, 4, 9, 0, 7];
    const inputs: Inputs = { table: floats(rng, [10, 6]), idx: ints(idx), dy: floats(rng, [idx.length, 6]) };
    await expectParity('gather gradient', inputs, (t) => valueAndGrads(t, ['table'], (table) => tf.gather(table, t.idx), t.dy));
    // The kernel directly, with rank-3 values and with int32 values.
    await expectParity('unsortedSegmentSum rank 3', { x: floats(rng, [5, 3, 4]), ids: ints([2, 0, 2, 1, 3]) }, (t) => tf.unsortedSegmentSum(t.x, t.ids as tf.Tensor1D, 4));
    const xi = { shape: [6], dtype: 'int32' as const, data: Int32Array.from([1, 2, 3, 4, 5, 6]) };
    await expectParity('unsortedSegmentSum int32', { x: xi, ids: ints([1, 1, 0, 3, 1, 0]) }, (t) => tf.unsortedSegmentSum(t.x, t.ids as tf.Tensor1D, 5));
  });

  it('GatherV2: axes 0 and 1, 2-D indices, int32 values, gradients; bad indices throw', async () => {
    const idx = { shape: [2, 3], dtype: 'int32' as const, data: Int32Array.from([3, 0, 3, 1, 4, 0]) };
    await expectParity('gather axis 0', { x: floats(rng, [5, 2, 3]), idx, dy: floats(rng, [2, 3, 2, 3]) }, (t) =>
      valueAndGrads(t, ['x'], (x) => tf.gather(x, t.idx), t.dy),
    );
    await expectParity('gather axis 1', { x: floats(rng, [2, 5, 3]), idx, dy: floats(rng, [2, 2, 3, 3]) }, (t) =>
      valueAndGrads(t, ['x'], (x) => tf.gather(x, t.idx, 1), t.dy),
    );
    await expectParity('gather int32', { x: { shape: [4], dtype: 'int32', data: Int32Array.from([7, -1, 9, 4]) }, idx: ints([3, 3, 0]) }, (t) => tf.gather(t.x, t.idx));
    await tf.setBackend('wasm');
    assert.throws(() => tf.tidy(() => tf.gather(tf.ones([3, 2]), tf.tensor1d([1, 3], 'int32'))), /index 3/);
  });

  it('Tanh and Pow (scalar integer exponents): values and gradients', async () => {
    const x = floats(rng, [7, 5], 6);
    x.data[0] = 0;
    x.data[1] = 1e-6;
    x.data[2] = -30;
    await expectParity('tanh', { x, dy: floats(rng, [7, 5]) }, (t) => valueAndGrads(t, ['x'], (v) => tf.tanh(v), t.dy));
    for (const n of [1, 2, 3, 4, 2.5]) {
      await expectParity(`pow ${n}`, { x: floats(rng, [7, 5], 2), dy: floats(rng, [7, 5]) }, (t) => valueAndGrads(t, ['x'], (v) => tf.pow(n === 2.5 ? tf.abs(v) : v, n), t.dy));
    }
    await expectParity('pow tensor exponent', { x: floats(rng, [4, 3], 2), e: floats(rng, [3], 2) }, (t) => tf.pow(tf.abs(t.x), t.e));
  });

  it('OneHot honours its dtype (stock wasm writes int32 bits into float32 tensors)', async () => {
    const ids: Inputs[string] = { shape: [7], dtype: 'int32', data: Int32Array.from([0, 4, 2, 4, 1, 3, 0]) };
    for (const dtype of ['float32', 'int32'] as const) {
      const f = (t: Record<string, tf.Tensor>) => tf.oneHot(t.ids as tf.Tensor1D, 5, 1, 0, dtype);
      const wasm = await runOn('wasm', { ids }, f);
      assertClose(wasm, await runOn('cpu', { ids }, f), `oneHot ${dtype}`);
      assert.deepEqual(Array.from(wasm[0].data.slice(0, 5)), [1, 0, 0, 0, 0]);
    }
  });

  it('LogSoftmax kernel matches tf.logSoftmax, values and gradient', async () => {
    const inputs: Inputs = { x: floats(rng, [5, 3, 11], 4), dy: floats(rng, [5, 3, 11]) };
    const viaKernel = (x: tf.Tensor) => tf.engine().runKernel('LogSoftmax', { logits: x }, { axis: -1 }) as tf.Tensor;
    const wasm = await runOn('wasm', inputs, (t) => valueAndGrads(t, ['x'], viaKernel, t.dy));
    const cpu = await runOn('cpu', inputs, (t) => valueAndGrads(t, ['x'], (x) => tf.logSoftmax(x), t.dy));
    assertClose(wasm, cpu, 'logSoftmax');
  });

  it('Einsum: matmul-like, batched, outer, transposed, reductions', async () => {
    const cases: [string, number[][]][] = [
      ['ij,jk->ik', [[7, 5], [5, 3]]],
      ['ij,kj->ik', [[7, 5], [3, 5]]],
      ['ik,kj->ji', [[7, 5], [5, 3]]],
      ['bhtd,bhsd->bhts', [[2, 3, 5, 4], [2, 3, 6, 4]]],
      ['abc,cd->abd', [[2, 3, 4], [4, 5]]],
      ['ij,ij->i', [[4, 6], [4, 6]]],
      ['i,j->ij', [[4], [3]]],
      ['ijk,k->ij', [[2, 3, 4], [4]]],
      ['ij->ji', [[3, 5]]],
      ['ijk->ki', [[3, 5, 2]]],
      ['ij->ij', [[3, 5]]],
    ];
    for (const [eq, shapes] of cases) {
      const inputs: Inputs = Object.fromEntries(shapes.map((sh, i) => [`x${i}`, floats(rng, sh)]));
      await expectParity(`einsum ${eq}`, inputs, (t) => tf.einsum(eq, ...shapes.map((_, i) => t[`x${i}`])));
    }
    // A dim summed inside one operand: tfjs-backend-cpu 4.22 returns a wrong shape here, so compare with matMul.
    const inputs: Inputs = { a: floats(rng, [3, 4]), b: floats(rng, [4, 5]) };
    const wasm = await runOn('wasm', inputs, (t) => tf.einsum('ij,jk->k', t.a, t.b));
    const ref = await runOn('cpu', inputs, (t) => tf.sum(tf.matMul(t.a, t.b), 0));
    assertClose(wasm, ref, 'einsum ij,jk->k');
  });

  it('Slice, SplitV, Unpack on ranks 2 to 6, values and gradients', async () => {
    const x5 = floats(rng, [2, 5, 3, 2, 4]);
    await expectParity('split rank 5', { x: x5, dy: floats(rng, [2, 5, 1, 2, 4]) }, (t) =>
      valueAndGrads(t, ['x'], (x) => tf.split(x, 3, 2)[1], t.dy),
    );
    await expectParity('split sizes rank 5', { x: x5 }, (t) => tf.split(t.x, [1, 3, 1], 1));
    await expectParity('slice rank 6', { x: floats(rng, [2, 3, 2, 3, 2, 5]) }, (t) => tf.slice(t.x, [1, 0, 1, 1, 0, 2], [1, 3, 1, 2, 2, 3]));
    await expectParity('slice rank 2', { x: floats(rng, [7, 5]) }, (t) => tf.slice(t.x, [2, 1], [4, 3]));
    await expectParity('slice whole rows', { x: floats(rng, [7, 5]) }, (t) => tf.slice(t.x, [2, 0], [3, -1]));
    await expectParity('unstack rank 5', { x: x5 }, (t) => tf.unstack(t.x, 3));
    await expectParity('slice int32', { x: { shape: [6], dtype: 'int32', data: Int32Array.from([1, 2, 3, 4, 5, 6]) } }, (t) => tf.slice(t.x, [2], [3]));
  });

  it('Concat: every axis, ranks 1 to 5, several and empty inputs, int32 and bool, gradients', async () => {
    const a = floats(rng, [2, 3, 4, 5]);
    for (let axis = 0; axis < 4; axis++) {
      const bShape = [2, 3, 4, 5];
      bShape[axis] = 1;
      const cShape = [2, 3, 4, 5];
      cShape[axis] = 2;
      const outShape = [2, 3, 4, 5];
      outShape[axis] += 3;
      await expectParity(`concat rank 4 axis ${axis}`, { a, b: floats(rng, bShape), c: floats(rng, cShape), dy: floats(rng, outShape) }, (t) =>
        valueAndGrads(t, ['a', 'b', 'c'], (x, y, z) => tf.concat([x, y, z], axis), t.dy),
      );
    }
    await expectParity('concat negative axis', { a, b: floats(rng, [2, 3, 4, 2]) }, (t) => tf.concat([t.a, t.b], -1));
    await expectParity('concat rank 1', { a: floats(rng, [3]), b: floats(rng, [4]) }, (t) => tf.concat([t.a, t.b]));
    await expectParity('concat rank 5 with an empty input', { a: floats(rng, [2, 1, 3, 2, 2]), b: floats(rng, [2, 0, 3, 2, 2]), c: floats(rng, [2, 2, 3, 2, 2]) }, (t) =>
      tf.concat([t.a, t.b, t.c], 1),
    );
    await expectParity('concat int32', { a: { shape: [2, 2], dtype: 'int32', data: Int32Array.from([1, 2, 3, 4]) }, b: { shape: [2, 1], dtype: 'int32', data: Int32Array.from([5, 6]) } }, (t) =>
      tf.concat([t.a, t.b], 1),
    );
    await expectParity('concat bool', { a: floats(rng, [3, 2]), b: floats(rng, [3, 3]) }, (t) => tf.cast(tf.concat([tf.greater(t.a, 0), tf.less(t.b, 0)], 1), 'int32'));
  });

  it('Identity shares memory: a clone keeps its values after the original is freed, and gradients through saved tensors match cpu', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const before = backend.numDataIds();
    const x = tf.tensor2d([1, -2, 3, 4.5], [2, 2]);
    const y = tf.clone(x);
    assert.equal(backend.numDataIds(), before + 1, 'the clone shares the data of x');
    x.dispose();
    assert.deepEqual(Array.from(y.dataSync()), [1, -2, 3, 4.5]);
    y.dispose();
    assert.equal(backend.numDataIds(), before, 'the shared data is freed with its last tensor');
    const v = tf.variable(tf.tensor1d([1, 2, 3]));
    const saved = tf.clone(v);
    v.assign(tf.tensor1d([7, 8, 9]));
    assert.deepEqual(Array.from(saved.dataSync()), [1, 2, 3], 'a clone of a variable keeps the old value after assign');
    tf.dispose([v, saved]);
    const dy = floats(rng, [4, 6]);
    await expectParity('saved activations (exp, tanh, mul, softmax)', { x: floats(rng, [4, 6]), dy }, (t) =>
      valueAndGrads(t, ['x'], (x) => tf.mul(tf.softmax(tf.tanh(tf.exp(x))), tf.sigmoid(x)), t.dy),
    );
  });

  it('patched kernels free their intermediates on the wasm heap', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const x = tf.randomUniform([3, 9, 9, 4]);
    const w = tf.randomUniform([3, 3, 4, 5]);
    const a = tf.randomUniform([3, 6, 5]);
    const b = tf.randomUniform([3, 6, 4]);
    const before = backend.numDataIds();
    tf.tidy(() => {
      const dy = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same');
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { filterShape: w.shape, strides: [2, 2], pad: 'same', dataFormat: 'NHWC' });
      tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { inputShape: x.shape, strides: [2, 2], pad: 'same', dataFormat: 'NHWC' });
      tf.matMul(a, a, false, true);
      tf.matMul(b, a, true, false);
      tf.fused.matMul({ a, b, transposeA: true, bias: tf.ones([4]), activation: 'relu' });
      tf.split(tf.reshape(a, [3, 2, 3, 5, 1]), 3, 2);
      tf.unsortedSegmentSum(a, tf.tensor1d([2, 0, 2], 'int32'), 3);
      tf.engine().runKernel('LogSoftmax', { logits: a }, { axis: -1 });
      tf.einsum('bij,bik->bjk', a, b);
      tf.einsum('ij->j', tf.reshape(a, [18, 5]));
      tf.gather(a, tf.tensor1d([2, 0], 'int32'), 1);
      tf.tanh(a);
      tf.pow(a, 3);
      tf.concat([a, b], 2);
    });
    assert.equal(backend.numDataIds(), before, 'every intermediate freed');
    tf.dispose([x, w, a, b]);
  });

  describe('tiny model blocks: every gradient runs on wasm and matches cpu', () => {
    it('stock ResizeNearestNeighborGrad on wasm sums each block (tfjs-backend-cpu 4.22 gets this wrong)', async () => {
      const inputs: Inputs = { x: floats(rng, [2, 4, 3, 5]), dy: floats(rng, [2, 8, 6, 5]) };
      const wasm = await runOn('wasm', inputs, (t) => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [8, 6]), t.dy)))(t.x));
      const blockSum = await runOn('cpu', inputs, (t) => tf.sum(tf.reshape(t.dy, [2, 4, 2, 3, 2, 5]), [2, 4]));
      assertClose(wasm, blockSum, 'resizeNearestNeighbor gradient');
    });

    it('dVAE: conv, relu, residual, nearest upsampling, conv2dTranspose, softmax with Gumbel noise', async () => {
      const inputs: Inputs = {
        img: floats(rng, [2, 8, 8, 3]),
        w1: floats(rng, [4, 4, 3, 8], 0.3), // stride-2 downsampling conv
        w2: floats(rng, [3, 3, 8, 8], 0.3), // residual conv
        w3: floats(rng, [1, 1, 8, 5], 0.3), // logits over 5 codes
        w4: floats(rng, [3, 3, 5, 8], 0.3), // decoder conv after nearest upsampling
        w5: floats(rng, [4, 4, 3, 8], 0.3), // conv2dTranspose back to RGB
        noise: floats(rng, [2, 4, 4, 5]),
      };
      const names = ['w1', 'w2', 'w3', 'w4', 'w5'];
      await expectParity('dvae block', inputs, (t) => {
        const loss = (w1: tf.Tensor, w2: tf.Tensor, w3: tf.Tensor, w4: tf.Tensor, w5: tf.Tensor) => {
          const h = tf.relu(tf.conv2d(t.img as tf.Tensor4D, w1 as tf.Tensor4D, 2, 'same')); // [2, 4, 4, 8]
          const r: tf.Tensor4D = tf.add(h, tf.conv2d(tf.relu(h), w2 as tf.Tensor4D, 1, 'same'));
          const logits = tf.conv2d(r, w3 as tf.Tensor4D, 1, 'valid'); // [2, 4, 4, 5]
          const codes = tf.softmax(tf.div(tf.add(logits, t.noise), 0.9)); // Gumbel-softmax relaxation
          const up = upsample2x(codes) as tf.Tensor4D; // [2, 8, 8, 5]
          const d = tf.relu(tf.conv2d(up, w4 as tf.Tensor4D, 1, 'same')); // [2, 8, 8, 8]
          const out = tf.conv2dTranspose(d, w5 as tf.Tensor4D, [2, 16, 16, 3], 2, 'same'); // [2, 16, 16, 3]
          const target = upsample2x(t.img);
          return tf.mean(tf.square(tf.sub(tf.sigmoid(out), target)));
        };
        const g = tf.grads(loss);
        const ws = names.map((n) => t[n]);
        return [loss(...(ws as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor])), ...g(ws)];
      });
    });

    it('transformer: embeddings, layer norm, causal 4-D attention, tanh gelu, cross-entropy', async () => {
      const [B, T, C, H, V] = [2, 5, 8, 2, 11]; // batch, time, channels, heads, vocab
      const hd = C / H;
      const ids = Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % V);
      const targets = Array.from({ length: B * T }, (_, i) => (i * 5 + 1) % V);
      const inputs: Inputs = {
        ids: ints(ids),
        targets: ints(targets),
        wte: floats(rng, [V, C], 0.5),
        wpe: floats(rng, [T, C], 0.5),
        wqkv: floats(rng, [C, 3 * C], 0.4),
        wo: floats(rng, [C, C], 0.4),
        w1: floats(rng, [C, 4 * C], 0.4),
        w2: floats(rng, [4 * C, C], 0.4),
        gamma: floats(rng, [C]),
      };
      const names = ['wte', 'wpe', 'wqkv', 'wo', 'w1', 'w2', 'gamma'];
      await expectParity('transformer block', inputs, (t) => {
        const layerNorm = (x: tf.Tensor, gamma: tf.Tensor) => {
          const { mean, variance } = tf.moments(x, -1, true);
          return tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), gamma);
        };
        const gelu = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))));
        const mask = tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)); // 1 above the diagonal
        const loss = (wte: tf.Tensor, wpe: tf.Tensor, wqkv: tf.Tensor, wo: tf.Tensor, w1: tf.Tensor, w2: tf.Tensor, gamma: tf.Tensor) => {
          const x = tf.add(tf.reshape(tf.gather(wte, t.ids), [B, T, C]), wpe); // [B, T, C]
          const qkv = tf.reshape(tf.matMul(tf.reshape(layerNorm(x, gamma), [B * T, C]), wqkv), [B, T, 3, H, hd]);
          const [q, k, v] = tf.split(qkv, 3, 2).map((p) => tf.transpose(tf.reshape(p, [B, T, H, hd]), [0, 2, 1, 3])); // [B, H, T, hd]
          const scores = tf.add(tf.div(tf.matMul(q, k, false, true), Math.sqrt(hd)), tf.mul(mask, -1e9)); // [B, H, T, T]
          const att = tf.reshape(tf.transpose(tf.matMul(tf.softmax(scores), v), [0, 2, 1, 3]), [B * T, C]);
          const y = tf.add(tf.reshape(x, [B * T, C]), tf.matMul(att, wo)); // [B*T, C]
          const z = tf.add(y, tf.matMul(gelu(tf.matMul(layerNorm(y, gamma), w1)), w2));
          const logits = tf.matMul(z, wte, false, true); // tied embedding, [B*T, V]
          return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(t.targets, V)), -1)));
        };
        const g = tf.grads(loss);
        const ws = names.map((n) => t[n]) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        return [loss(...ws), ...g(ws)];
      });
    });

    it('ViT CLIP: patch embedding, class token, attention pooling, normalised contrastive logits', async () => {
      const [B, S, P, C, D] = [3, 8, 4, 3, 8]; // batch, image size, patch size, channels, width
      const N = (S / P) ** 2; // patches per image
      const inputs: Inputs = {
        img: floats(rng, [B, S, S, C]),
        text: floats(rng, [B, D]),
        wPatch: floats(rng, [P * P * C, D], 0.3),
        cls: floats(rng, [1, 1, D]),
        wqkv: floats(rng, [D, 3 * D], 0.3),
        wProj: floats(rng, [D, D], 0.3),
      };
      const names = ['wPatch', 'cls', 'wqkv', 'wProj'];
      await expectParity('vit clip block', inputs, (t) => {
        const loss = (wPatch: tf.Tensor, cls: tf.Tensor, wqkv: tf.Tensor, wProj: tf.Tensor) => {
          // Patchify: [B, S/P, P, S/P, P, C] -> [B, N, P*P*C] (a rank-6 transpose).
          const patches = tf.reshape(tf.transpose(tf.reshape(t.img, [B, S / P, P, S / P, P, C]), [0, 1, 3, 2, 4, 5]), [B * N, P * P * C]);
          const tokens = tf.concat([tf.tile(cls, [B, 1, 1]), tf.reshape(tf.matMul(patches, wPatch), [B, N, D])], 1); // [B, N+1, D]
          const qkv = tf.reshape(tf.matMul(tf.reshape(tokens, [B * (N + 1), D]), wqkv), [B, N + 1, 3, D]);
          const [q, k, v] = tf.unstack(qkv, 2); // [B, N+1, D]
          const att = tf.matMul(tf.softmax(tf.div(tf.matMul(q, k, false, true), Math.sqrt(D))), v); // [B, N+1, D]
          const pooled = tf.squeeze(tf.slice(att, [0, 0, 0], [B, 1, D]), [1]); // class token, [B, D]
          const img = tf.matMul(pooled, wProj);
          const norm = (x: tf.Tensor) => tf.div(x, tf.norm(x, 'euclidean', -1, true));
          const logits = tf.mul(tf.matMul(norm(img), norm(t.text), false, true), 10); // [B, B]
          const labels = tf.oneHot(tf.range(0, B, 1, 'int32'), B);
          return tf.losses.softmaxCrossEntropy(labels, logits);
        };
        const g = tf.grads(loss);
        const ws = names.map((n) => t[n]) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        return [loss(...ws), ...g(ws)];
      });
    });
  });
});
