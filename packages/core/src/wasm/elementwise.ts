// Faster wasm Tanh and Pow. The stock kernels call scalar libm per element (about 50 ms for
// 1.5 M floats), while Sigmoid and Multiply are vectorised XNNPACK (1-3 ms). So:
//   tanh(x) = 2 sigmoid(2x) - 1           (absolute error about 1e-7)
//   x^n for a scalar integer n in 1..4    as repeated multiplication (gelu's x^3)
import * as tf from '@tensorflow/tfjs-core';
import { callKernel, free, type TensorInfo, type WasmKernelArgs, type WasmKernelFunc } from './kernel-utils.ts';

/** A float32 scalar on the wasm backend; the caller frees it. */
function scalar(backend: WasmKernelArgs['backend'], value: number): TensorInfo {
  return backend.makeOutput([], 'float32', undefined, Float32Array.of(value));
}

/** Tanh through XNNPACK's Sigmoid for float32; the stock kernel otherwise. */
export function makeTanh(stockTanh: WasmKernelFunc): WasmKernelFunc {
  return ({ inputs, backend, attrs }: WasmKernelArgs): TensorInfo => {
    const { x } = inputs;
    if (x.dtype !== 'float32') return stockTanh({ inputs, backend, attrs });
    return tanhBySigmoid(backend, x);
  };
}

function tanhBySigmoid(backend: WasmKernelArgs['backend'], x: TensorInfo): TensorInfo {
  const two = scalar(backend, 2);
  const one = scalar(backend, 1);
  const twoX = callKernel(backend, 'Multiply', { a: x, b: two });
  const sig = callKernel(backend, 'Sigmoid', { x: twoX });
  const twoSig = callKernel(backend, 'Multiply', { a: sig, b: two });
  const out = callKernel(backend, 'Sub', { a: twoSig, b: one });
  free(backend, two, one, twoX, sig, twoSig);
  return out;
}

/** Pow: repeated Multiply for a float32 base and a scalar integer exponent 1..4, else the stock kernel. */
export function makePow(stockPow: WasmKernelFunc): WasmKernelFunc {
  return ({ inputs, backend, attrs }: WasmKernelArgs): TensorInfo => {
    const { a, b } = inputs;
    if (a.dtype !== 'float32' || tf.util.sizeFromShape(b.shape) !== 1 || b.shape.length > a.shape.length) return stockPow({ inputs, backend, attrs });
    const n = backend.typedArrayFromHeap(b)[0];
    if (!Number.isInteger(n) || n < 1 || n > 4) return stockPow({ inputs, backend, attrs });
    const outShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
    if (outShape.length !== a.shape.length || outShape.some((d, i) => d !== a.shape[i])) return stockPow({ inputs, backend, attrs });
    if (n === 1) return callKernel(backend, 'Identity', { x: a });
    const sq = callKernel(backend, 'Square', { x: a });
    if (n === 2) return sq;
    const out = n === 3 ? callKernel(backend, 'Multiply', { a: sq, b: a }) : callKernel(backend, 'Square', { x: sq });
    free(backend, sq);
    return out;
  };
}
