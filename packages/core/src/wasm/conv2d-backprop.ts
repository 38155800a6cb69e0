// Conv2D gradients for wasm as im2col + XNNPACK matmul. The backend has no
// Conv2DBackpropFilter (conv filters could not train) and its Conv2DBackpropInput (also the
// forward pass of conv2dTranspose) is a scalar loop at about 0.5 GFLOP/s.
//   filter: dW[kh*kw*Cin, Cout] = cols(x)^T . dy        (cols: one row per output pixel)
//   input:  dx = col2im(dy . W^T)                       (scatter-add of each row's patch)
// Batches are split into chunks so the patch matrix stays near CHUNK_FLOATS floats.
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { callKernel, f32Offset, free, heapFloats, transposeLastTwo, viewAs, type TensorInfo, type WasmKernelArgs, type WasmKernelFunc } from './kernel-utils.ts';
import { matMulNN } from './batch-mat-mul.ts';

/** Patch-matrix budget per chunk (floats): 8 M floats = 32 MiB, small next to the wasm heap limit. */
const CHUNK_FLOATS = 8 * 1024 * 1024;

type ConvInfo = tf.backend_util.Conv2DInfo;

function checkNhwc(kernel: string, dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernel} on wasm supports dataFormat 'NHWC' only, got '${String(dataFormat)}'`);
  }
}

/** Batch items per chunk so that one chunk's patch matrix stays within CHUNK_FLOATS. */
function chunkSize(c: ConvInfo): number {
  const perItem = c.outHeight * c.outWidth * c.filterHeight * c.filterWidth * c.inChannels;
  return Math.max(1, Math.min(c.batchSize, Math.floor(CHUNK_FLOATS / perItem)));
}

/**
 * Walks every (output pixel, filter tap) pair of batch items [b0, b1) whose input pixel lies
 * inside the image, calling visit(colsIndex, xIndex) with the float offsets (relative to the
 * chunk's patch matrix and to the input) of a run of inChannels floats.
 */
function forEachTap(c: ConvInfo, b0: number, b1: number, visit: (colAt: number, xAt: number) => void): void {
  const { inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, filterHeight: KH, filterWidth: KW } = c;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = c;
  const pt = c.padInfo.top;
  const pl = c.padInfo.left;
  const rowLen = KH * KW * C;
  for (let b = b0; b < b1; b++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const rowAt = (((b - b0) * OH + oy) * OW + ox) * rowLen;
        for (let ky = 0; ky < KH; ky++) {
          const iy = oy * sh - pt + ky * dh;
          if (iy < 0 || iy >= H) continue;
          for (let kx = 0; kx < KW; kx++) {
            const ix = ox * sw - pl + kx * dw;
            if (ix < 0 || ix >= W) continue;
            visit(rowAt + (ky * KW + kx) * C, ((b * H + iy) * W + ix) * C);
          }
        }
      }
    }
  }
}

/** cols[(b, oy, ox), (ky, kx, ci)] = x[b, oy*s - pad + ky, ox*s - pad + kx, ci], zero outside x. */
function im2col(backend: BackendWasm, x: TensorInfo, c: ConvInfo, b0: number, b1: number): TensorInfo {
  const rows = (b1 - b0) * c.outHeight * c.outWidth;
  const rowLen = c.filterHeight * c.filterWidth * c.inChannels;
  const cols = backend.makeOutput([rows, rowLen], 'float32');
  const heap = heapFloats(backend); // after the allocation: it may have grown the heap
  const colBase = f32Offset(backend, cols);
  const xBase = f32Offset(backend, x);
  const C = c.inChannels;
  heap.fill(0, colBase, colBase + rows * rowLen);
  if (C >= 16) {
    forEachTap(c, b0, b1, (colAt, xAt) => heap.copyWithin(colBase + colAt, xBase + xAt, xBase + xAt + C));
  } else {
    forEachTap(c, b0, b1, (colAt, xAt) => {
      for (let i = 0; i < C; i++) heap[colBase + colAt + i] = heap[xBase + xAt + i];
    });
  }
  return cols;
}

/** dx[b, iy, ix, ci] += cols[(b, oy, ox), (ky, kx, ci)] for batch items [b0, b1); dx starts at zero. */
function col2imAdd(backend: BackendWasm, cols: TensorInfo, dx: TensorInfo, c: ConvInfo, b0: number, b1: number): void {
  const heap = heapFloats(backend);
  const colBase = f32Offset(backend, cols);
  const dxBase = f32Offset(backend, dx);
  const C = c.inChannels;
  forEachTap(c, b0, b1, (colAt, xAt) => {
    const s = colBase + colAt;
    const d = dxBase + xAt;
    for (let i = 0; i < C; i++) heap[d + i] += heap[s + i];
  });
}

/** A copy of batch items [b0, b1) of t as [items * rest...] rows, or t itself when that is all of it. */
function batchRows(backend: BackendWasm, t: TensorInfo, b0: number, b1: number, rowShape: [number, number]): { rows: TensorInfo; temp: boolean } {
  if (b0 === 0 && b1 === t.shape[0]) return { rows: viewAs(t, rowShape), temp: false };
  const per = tf.util.sizeFromShape(t.shape.slice(1));
  const rows = backend.makeOutput(rowShape, 'float32');
  const heap = heapFloats(backend);
  const src = f32Offset(backend, t) + b0 * per;
  heap.copyWithin(f32Offset(backend, rows), src, src + (b1 - b0) * per);
  return { rows, temp: true };
}

/** Conv2DBackpropFilter for wasm; `stockMatMul` is the stock BatchMatMul kernel (2-D XNNPACK path). */
export function makeConv2DBackpropFilter(stockMatMul: WasmKernelFunc): WasmKernelFunc {
  return ({ inputs, backend, attrs }: WasmKernelArgs): TensorInfo => {
    const { x, dy } = inputs;
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    checkNhwc('Conv2DBackpropFilter', dataFormat);
    const c = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    const step = chunkSize(c);
    let acc: TensorInfo | undefined; // [Cout, kh*kw*Cin]
    for (let b0 = 0; b0 < c.batchSize; b0 += step) {
      const b1 = Math.min(c.batchSize, b0 + step);
      const rows = (b1 - b0) * c.outHeight * c.outWidth;
      const cols = im2col(backend, x, c, b0, b1); // [rows, kh*kw*Cin]
      const dyRows = batchRows(backend, dy, b0, b1, [rows, c.outChannels]); // [rows, Cout]
      const dyT = transposeLastTwo(backend, dyRows.rows); // [Cout, rows]
      const part = matMulNN(backend, stockMatMul, dyT, cols)!; // [Cout, kh*kw*Cin]
      free(backend, cols, dyT, dyRows.temp ? dyRows.rows : undefined);
      if (acc) {
        const sum = callKernel(backend, 'Add', { a: acc, b: part });
        free(backend, acc, part);
        acc = sum;
      } else {
        acc = part;
      }
    }
    const dw = transposeLastTwo(backend, acc!); // [kh*kw*Cin, Cout]
    free(backend, acc);
    return { dataId: dw.dataId, shape: [...filterShape], dtype: 'float32' };
  };
}

/** Conv2DBackpropInput for wasm (also conv2dTranspose's forward pass). */
export function makeConv2DBackpropInput(stockMatMul: WasmKernelFunc): WasmKernelFunc {
  return ({ inputs, backend, attrs }: WasmKernelArgs): TensorInfo => {
    const { dy, filter } = inputs;
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
    checkNhwc('Conv2DBackpropInput', dataFormat);
    const c = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    const rowLen = c.filterHeight * c.filterWidth * c.inChannels;
    const wT = transposeLastTwo(backend, viewAs(filter, [rowLen, c.outChannels])); // [Cout, kh*kw*Cin]
    const dx = backend.makeOutput([...inputShape], 'float32');
    {
      const heap = heapFloats(backend);
      const at = f32Offset(backend, dx);
      heap.fill(0, at, at + tf.util.sizeFromShape(inputShape));
    }
    const step = chunkSize(c);
    for (let b0 = 0; b0 < c.batchSize; b0 += step) {
      const b1 = Math.min(c.batchSize, b0 + step);
      const rows = (b1 - b0) * c.outHeight * c.outWidth;
      const dyRows = batchRows(backend, dy, b0, b1, [rows, c.outChannels]); // [rows, Cout]
      const cols = matMulNN(backend, stockMatMul, dyRows.rows, wT)!; // [rows, kh*kw*Cin]
      col2imAdd(backend, cols, dx, c, b0, b1);
      free(backend, cols, dyRows.temp ? dyRows.rows : undefined);
    }
    free(backend, wT);
    return dx;
  };
}
