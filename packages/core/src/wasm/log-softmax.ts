// LogSoftmax for wasm, composed of the backend's vectorised kernels:
// x - max(x) - log(sum(exp(x - max(x)))) along `axis` (the last one; tfjs supports no other).
// tf.logSoftmax composes ops itself; this kernel serves runKernel('LogSoftmax') callers, and its
// gradient is tfjs-core's LogSoftmax gradient.
import * as tf from '@tensorflow/tfjs-core';
import { callKernel, free, type TensorInfo, type WasmKernelArgs } from './kernel-utils.ts';

export function logSoftmax({ inputs, backend, attrs }: WasmKernelArgs): TensorInfo {
  const { logits } = inputs;
  const rank = logits.shape.length;
  const asked = (attrs as unknown as Partial<tf.LogSoftmaxAttrs> | undefined)?.axis ?? -1;
  const axis = asked < 0 ? rank + asked : asked;
  if (axis !== rank - 1) throw new Error(`LogSoftmax supports the last axis only (${rank - 1}), got ${axis}`);
  const max = callKernel(backend, 'Max', { x: logits }, { reductionIndices: [axis], keepDims: true });
  const shifted = callKernel(backend, 'Sub', { a: logits, b: max });
  const exp = callKernel(backend, 'Exp', { x: shifted });
  const sum = callKernel(backend, 'Sum', { x: exp }, { axis: [axis], keepDims: true });
  const logSum = callKernel(backend, 'Log', { x: sum });
  const out = callKernel(backend, 'Sub', { a: shifted, b: logSum });
  free(backend, max, shifted, exp, sum, logSum);
  return out;
}
