// Slice, SplitV and Unpack for wasm as runs of heap memmoves. The stock Slice handles rank 5
// and up with a generic per-element index loop (about 4 s to split a [16,96,3,4,64] qkv tensor
// into q, k, v), and SplitV and Unpack call that Slice directly.
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapBytes, type TensorInfo, type WasmKernelArgs, type WasmKernelFunc } from './kernel-utils.ts';

const BYTES: Partial<Record<tf.DataType, number>> = { float32: 4, int32: 4, bool: 1 };

/**
 * x[begin : begin + size] into a new tensor. Trailing axes taken whole merge into one contiguous
 * run; the leading axes are walked with an odometer, one copyWithin per run.
 */
export function sliceHeap(backend: BackendWasm, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const bytes = BYTES[x.dtype];
  if (bytes === undefined) throw new Error(`sliceHeap: unsupported dtype ${x.dtype}`);
  const out = backend.makeOutput([...size], x.dtype);
  const total = tf.util.sizeFromShape(size);
  if (total === 0) return out;
  const rank = x.shape.length;
  const strides = [...tf.util.computeStrides(x.shape), 1];
  // Innermost axis d that is not taken whole; everything after it is contiguous.
  let d = rank - 1;
  let run = 1;
  while (d >= 0 && begin[d] === 0 && size[d] === x.shape[d]) run *= x.shape[d--];
  if (d >= 0) run *= size[d];
  const heap = heapBytes(backend); // after makeOutput
  const src0 = backend.dataIdMap.get(x.dataId)!.memoryOffset;
  let dst = backend.dataIdMap.get(out.dataId)!.memoryOffset;
  const runBytes = run * bytes;
  if (d < 0) {
    heap.copyWithin(dst, src0, src0 + runBytes);
    return out;
  }
  let base = 0; // element offset of the current run's start
  for (let i = 0; i <= d; i++) base += begin[i] * strides[i];
  const idx = new Array<number>(d).fill(0); // odometer over axes 0..d-1
  const runs = total / run;
  for (let r = 0; r < runs; r++) {
    const s = src0 + base * bytes;
    heap.copyWithin(dst, s, s + runBytes);
    dst += runBytes;
    for (let i = d - 1; i >= 0; i--) {
      base += strides[i];
      if (++idx[i] < size[i]) break;
      base -= size[i] * strides[i];
      idx[i] = 0;
    }
  }
  return out;
}

/** Slice: the heap version for numeric dtypes, the stock kernel for strings. */
export function makeSlice(stockSlice: WasmKernelFunc): WasmKernelFunc {
  return ({ inputs, backend, attrs }: WasmKernelArgs): TensorInfo => {
    const { x } = inputs;
    if (BYTES[x.dtype] === undefined) return stockSlice({ inputs, backend, attrs });
    const a = attrs as unknown as tf.SliceAttrs;
    const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, a.begin, a.size);
    return sliceHeap(backend, x, begin, size);
  };
}

/** SplitV through sliceHeap (string tensors go to the stock kernel). */
export function makeSplitV(stockSplitV: WasmKernelFunc): WasmKernelFunc {
  return ((args: WasmKernelArgs): TensorInfo[] => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs;
    if (BYTES[x.dtype] === undefined) return stockSplitV(args) as unknown as TensorInfo[];
    const { numOrSizeSplits, axis } = attrs as unknown as tf.SplitVAttrs;
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, ax);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = [...x.shape];
      size[ax] = s;
      const piece = sliceHeap(backend, x, begin, size);
      begin[ax] += s;
      return piece;
    });
  }) as unknown as WasmKernelFunc;
}

/** Unpack (tf.unstack) through sliceHeap. */
export function makeUnpack(stockUnpack: WasmKernelFunc): WasmKernelFunc {
  return ((args: WasmKernelArgs): TensorInfo[] => {
    const { inputs, backend, attrs } = args;
    const { value } = inputs;
    if (BYTES[value.dtype] === undefined) return stockUnpack(args) as unknown as TensorInfo[];
    const ax = tf.util.parseAxisParam((attrs as unknown as tf.UnpackAttrs).axis, value.shape)[0];
    const n = value.shape[ax];
    const outShape = value.shape.filter((_, i) => i !== ax);
    const begin = new Array<number>(value.shape.length).fill(0);
    const size = [...value.shape];
    size[ax] = 1;
    const outs: TensorInfo[] = [];
    for (let i = 0; i < n; i++) {
      begin[ax] = i;
      const piece = sliceHeap(backend, value, begin, size);
      outs.push({ dataId: piece.dataId, shape: outShape, dtype: piece.dtype });
    }
    return outs;
  }) as unknown as WasmKernelFunc;
}
