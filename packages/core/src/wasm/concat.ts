// Concat for wasm as heap memmoves. The stock kernel copies element by element in JavaScript
// for any axis but the first (about 12-20 ms to append one position to a decoding cache of
// [64, 4, 96, 64] floats). Here each input contributes one contiguous run per outer index.
import * as tf from '@tensorflow/tfjs-core';
import { heapBytes, type TensorInfo, type WasmKernelArgs, type WasmKernelFunc } from './kernel-utils.ts';

const BYTES: Partial<Record<tf.DataType, number>> = { float32: 4, int32: 4, bool: 1 };

/** Concat on `axis` (negative counts from the end); falls back to `stock` for other dtypes. */
export function makeConcat(stock: WasmKernelFunc): WasmKernelFunc {
  return (args: WasmKernelArgs): TensorInfo => {
    const { backend } = args;
    const inputs = Object.keys(args.inputs)
      .sort((x, y) => Number(x) - Number(y))
      .map((k) => args.inputs[k]); // tfjs names the inputs '0', '1', ...
    const dtype = inputs[0]?.dtype;
    const bytes = dtype === undefined ? undefined : BYTES[dtype];
    if (bytes === undefined || inputs.some((t) => t.dtype !== dtype)) return stock(args);
    const rank = inputs[0].shape.length;
    const axis = tf.util.parseAxisParam((args.attrs as { axis: number | number[] }).axis, inputs[0].shape)[0];
    tf.backend_util.assertParamsConsistent(inputs.map((t) => t.shape), axis);
    const outShape = tf.backend_util.computeOutShape(inputs.map((t) => t.shape), axis);
    const out = backend.makeOutput(outShape, dtype!);
    const outer = tf.util.sizeFromShape(outShape.slice(0, axis));
    const runs = inputs.map((t) => tf.util.sizeFromShape(t.shape.slice(axis)) * bytes); // bytes per outer index
    const outRun = runs.reduce((s, r) => s + r, 0);
    if (outRun === 0 || outer === 0) return out;
    const heap = heapBytes(backend); // after makeOutput: allocation may move the heap
    const dst0 = backend.dataIdMap.get(out.dataId)!.memoryOffset;
    let col = 0; // byte offset of this input's run inside an output row
    inputs.forEach((t, i) => {
      const run = runs[i];
      if (run > 0) {
        const src0 = backend.dataIdMap.get(t.dataId)!.memoryOffset;
        if (outer === 1 || rank === 0) heap.copyWithin(dst0 + col, src0, src0 + run);
        else for (let o = 0; o < outer; o++) heap.copyWithin(dst0 + o * outRun + col, src0 + o * run, src0 + (o + 1) * run);
      }
      col += run;
    });
    return out;
  };
}
