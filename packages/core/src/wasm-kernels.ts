// Kernels the tfjs wasm backend lacks or runs slowly, registered for 'wasm' only:
// missing ones (Conv2DBackpropFilter, UnsortedSegmentSum, LogSoftmax, Einsum) and faster replacements
// (BatchMatMul, _FusedMatMul, Conv2DBackpropInput, Slice/SplitV/Unpack for rank 5+, GatherV2,
// Tanh, Pow with a small integer exponent, OneHot that honours its dtype, Concat as memmoves,
// Identity that shares memory instead of copying). Parity tests: test/core/wasm-kernels.test.ts.
import * as tf from '@tensorflow/tfjs-core';
import { makeBatchMatMul, makeFusedMatMul } from './wasm/batch-mat-mul.ts';
import { makeConcat } from './wasm/concat.ts';
import { makeConv2DBackpropFilter, makeConv2DBackpropInput } from './wasm/conv2d-backprop.ts';
import { einsum } from './wasm/einsum.ts';
import { makePow, makeTanh } from './wasm/elementwise.ts';
import { makeGatherV2 } from './wasm/gather.ts';
import { makeIdentity } from './wasm/identity.ts';
import type { WasmKernelFunc } from './wasm/kernel-utils.ts';
import { logSoftmax } from './wasm/log-softmax.ts';
import { makeOneHot } from './wasm/one-hot.ts';
import { unsortedSegmentSum } from './wasm/segment-sum.ts';
import { makeSlice, makeSplitV, makeUnpack } from './wasm/slice.ts';

let registered = false;

/** The wasm kernels this module adds or replaces, in registration order. */
export const WASM_PATCHED_KERNELS = ['BatchMatMul', '_FusedMatMul', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'UnsortedSegmentSum', 'LogSoftmax', 'Einsum', 'Slice', 'SplitV', 'Unpack', 'GatherV2', 'Tanh', 'Pow', 'OneHot', 'Concat', 'Identity'] as const;

/** Replaces (or adds) the wasm kernel `name`, keeping the stock setupFunc so its cwrap still runs at backend init. */
function register(name: string, kernelFunc: WasmKernelFunc, setupFunc?: tf.KernelSetupFunc): void {
  if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc, setupFunc });
}

/** The stock kernel `name`; throws if the wasm backend is not imported yet. */
function stock(name: string): tf.KernelConfig {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`registerWasmKernels: wasm kernel '${name}' is missing; import '@tensorflow/tfjs-backend-wasm' first`);
  return k;
}

/**
 * Registers the project's wasm kernel patches once; safe to call
 * repeatedly. Call after importing '@tensorflow/tfjs-backend-wasm' and before tf.setBackend('wasm').
 * DALLE_WASM_PATCHES=0 skips the kernels (stock tfjs-backend-wasm), for benchmarks that compare.
 */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  if (process.env.DALLE_WASM_PATCHES === '0') return;
  const matMul = stock('BatchMatMul');
  const fused = stock('_FusedMatMul');
  const bpInput = stock('Conv2DBackpropInput');
  const stockMatMul = matMul.kernelFunc as unknown as WasmKernelFunc;
  register('BatchMatMul', makeBatchMatMul(stockMatMul), matMul.setupFunc);
  register('_FusedMatMul', makeFusedMatMul(fused.kernelFunc as unknown as WasmKernelFunc, stockMatMul), fused.setupFunc);
  register('Conv2DBackpropInput', makeConv2DBackpropInput(stockMatMul), bpInput.setupFunc);
  register('Conv2DBackpropFilter', makeConv2DBackpropFilter(stockMatMul));
  register('UnsortedSegmentSum', unsortedSegmentSum);
  register('LogSoftmax', logSoftmax);
  register('Einsum', einsum);
  for (const [name, make] of [['Slice', makeSlice], ['SplitV', makeSplitV], ['Unpack', makeUnpack], ['GatherV2', makeGatherV2], ['Tanh', makeTanh], ['Pow', makePow], ['OneHot', makeOneHot], ['Concat', makeConcat], ['Identity', makeIdentity]] as const) {
    const k = stock(name);
    register(name, make(k.kernelFunc as unknown as WasmKernelFunc), k.setupFunc);
  }
}
