// Conv2D gradients for wasm as im2col + XNNPACK matmul. The backend has no
// Conv2DBackpropFilter (conv filters could not train) and its Conv2DBackpropInput (also the
// forward pass of conv2dTranspose) is a scalar loop at about 0.5 GFLOP/s.
//   filter: dW[kh*kw*Cin, Cout] = cols(x)^T . dy        (cols: one row per output pixel)
//   input:  dx = col2im(dy . W^T)                       (scatter-add of each row's patch)
//           or, at stride 1, a forward XNNPACK convolution of dy with the flipped filter, and at
//           stride s, s*s such convolutions (one per output phase) interleaved.
// Batches are split into chunks of about CHUNK_ROWS output pixels: XNNPACK streams the whole
// reduction dimension per output tile, so a long one (all pixels of a batch) falls out of cache.
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { callKernel, f32Offset, free, heapFloats, transposeLastTwo, viewAs, type TensorInfo, type WasmKernelArgs, type WasmKernelFunc } from './kernel-utils.ts';
import { matMulNN } from './batch-mat-mul.ts';

/** Output pixels per chunk: keeps the filter gradient's reduction length cache-sized (measured best near 2048). */
const CHUNK_ROWS = 2048;
/** Patch-matrix cap per chunk (floats): 8 M floats = 32 MiB, small next to the wasm heap limit. */
const CHUNK_FLOATS = 8 * 1024 * 1024;

type ConvInfo = tf.backend_util.Conv2DInfo;

function checkNhwc(kernel: string, dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernel} on wasm supports dataFormat 'NHWC' only, got '${String(dataFormat)}'`);
  }
}

/** Batch items per chunk: about `rows` output pixels, and a patch matrix within CHUNK_FLOATS. */
function chunkSize(c: ConvInfo, rows: number): number {
  const pixels = c.outHeight * c.outWidth;
  const perItem = pixels * c.filterHeight * c.filterWidth * c.inChannels;
  return Math.max(1, Math.min(c.batchSize, Math.floor(rows / pixels), Math.floor(CHUNK_FLOATS / perItem)));
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

/**
 * Transposed patch matrix colsT[(ky, kx, ci), (b, oy, ox)] for batch items [b0, b1), read from
 * xT = x as [Cin, B, H, W], so that each (tap, channel, item, output row) is one run along ox.
 */
function im2colT(backend: BackendWasm, xT: TensorInfo, c: ConvInfo, b0: number, b1: number): TensorInfo {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, filterHeight: KH, filterWidth: KW } = c;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = c;
  const pt = c.padInfo.top;
  const pl = c.padInfo.left;
  const rows = (b1 - b0) * OH * OW;
  const colsT = backend.makeOutput([KH * KW * C, rows], 'float32');
  const heap = heapFloats(backend); // after the allocation: it may have grown the heap
  const dstBase = f32Offset(backend, colsT);
  const srcBase = f32Offset(backend, xT);
  heap.fill(0, dstBase, dstBase + KH * KW * C * rows);
  for (let kx = 0; kx < KW; kx++) {
    // Output columns whose input column ix = ox*sw - pl + kx*dw lies inside the image.
    const shift = kx * dw - pl;
    const oxLo = Math.max(0, Math.ceil(-shift / sw));
    const oxHi = Math.min(OW - 1, Math.floor((W - 1 - shift) / sw));
    if (oxHi < oxLo) continue;
    const len = oxHi - oxLo + 1;
    for (let ky = 0; ky < KH; ky++) {
      for (let ci = 0; ci < C; ci++) {
        const dstK = dstBase + ((ky * KW + kx) * C + ci) * rows;
        for (let b = b0; b < b1; b++) {
          const srcImg = srcBase + (ci * B + b) * H * W;
          for (let oy = 0; oy < OH; oy++) {
            const iy = oy * sh - pt + ky * dh;
            if (iy < 0 || iy >= H) continue;
            const dst = dstK + ((b - b0) * OH + oy) * OW + oxLo;
            const src = srcImg + iy * W + oxLo * sw + shift;
            if (sw === 1) {
              heap.copyWithin(dst, src, src + len);
            } else {
              for (let i = 0; i < len; i++) heap[dst + i] = heap[src + i * sw];
            }
          }
        }
      }
    }
  }
  return colsT;
}

/** Conv2DBackpropFilter for wasm; `stockMatMul` is the stock BatchMatMul kernel (2-D XNNPACK path). */
export function makeConv2DBackpropFilter(stockMatMul: WasmKernelFunc): WasmKernelFunc {
  return ({ inputs, backend, attrs }: WasmKernelArgs): TensorInfo => {
    const { x, dy } = inputs;
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    checkNhwc('Conv2DBackpropFilter', dataFormat);
    const c = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    // dW[(ky, kx, ci), co] = colsT[(ky, kx, ci), pixels] . dy[pixels, co]. XNNPACK packs its
    // second operand on every call, so that one is dy (small), not the patch matrix.
    const xT = callKernel(backend, 'Transpose', { x }, { perm: [3, 0, 1, 2] }); // [Cin, B, H, W]
    const step = chunkSize(c, CHUNK_ROWS);
    let acc: TensorInfo | undefined; // [kh*kw*Cin, Cout]
    for (let b0 = 0; b0 < c.batchSize; b0 += step) {
      const b1 = Math.min(c.batchSize, b0 + step);
      const rows = (b1 - b0) * c.outHeight * c.outWidth;
      const colsT = im2colT(backend, xT, c, b0, b1); // [kh*kw*Cin, rows]
      const dyRows = batchRows(backend, dy, b0, b1, [rows, c.outChannels]); // [rows, Cout]
      const part = matMulNN(backend, stockMatMul, colsT, dyRows.rows)!; // [kh*kw*Cin, Cout]
      free(backend, colsT, dyRows.temp ? dyRows.rows : undefined);
      if (acc) {
        const sum = callKernel(backend, 'Add', { a: acc, b: part });
        free(backend, acc, part);
        acc = sum;
      } else {
        acc = part;
      }
    }
    free(backend, xT);
    return { dataId: acc!.dataId, shape: [...filterShape], dtype: 'float32' };
  };
}

/**
 * Stride 1: dx is a forward convolution of dy with the filter flipped in space and with its
 * channel axes swapped, padded by (filter - 1 - pad) so the output has the input's size. That
 * runs on XNNPACK's convolution. Returns undefined when a needed padding would be negative.
 */
function backpropInputByConv(backend: BackendWasm, dy: TensorInfo, filter: TensorInfo, c: ConvInfo): TensorInfo | undefined {
  if (c.strideHeight !== 1 || c.strideWidth !== 1 || c.dilationHeight !== 1 || c.dilationWidth !== 1) return undefined;
  const top = c.filterHeight - 1 - c.padInfo.top;
  const left = c.filterWidth - 1 - c.padInfo.left;
  const bottom = c.inHeight - c.outHeight - top + c.filterHeight - 1;
  const right = c.inWidth - c.outWidth - left + c.filterWidth - 1;
  if (Math.min(top, left, bottom, right) < 0) return undefined;
  const flipped = callKernel(backend, 'Reverse', { x: filter }, { dims: [0, 1] }); // [kh, kw, Cin, Cout]
  const swapped = callKernel(backend, 'Transpose', { x: flipped }, { perm: [0, 1, 3, 2] }); // [kh, kw, Cout, Cin]
  free(backend, flipped);
  const pad = [[0, 0], [top, bottom], [left, right], [0, 0]] as tf.backend_util.ExplicitPadding;
  const dx = callKernel(backend, 'Conv2D', { x: dy, filter: swapped }, { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1] });
  free(backend, swapped);
  return dx;
}

/** One stride phase along an axis: output rows p, p+s, ...; the filter taps that reach them. */
interface Phase {
  /** Output rows in this phase (ceil((size - p) / s)). */
  rows: number;
  /** First filter tap that reaches these rows, and how many (every s-th from it). */
  tap0: number;
  taps: number;
  /** Padding before and after dy for the stride-1 convolution. */
  before: number;
  after: number;
}

function phasesOf(size: number, outSize: number, filter: number, stride: number, pad: number): Phase[] {
  const phases: Phase[] = [];
  for (let p = 0; p < stride; p++) {
    const tap0 = (p + pad) % stride;
    const taps = Math.max(0, Math.ceil((filter - tap0) / stride));
    const rows = Math.ceil((size - p) / stride);
    const shift = (p + pad - tap0) / stride; // dy row of the first tap for output row 0
    const before = taps - 1 - shift;
    phases.push({ rows, tap0, taps, before, after: rows - outSize - before + taps - 1 });
  }
  return phases;
}

/**
 * Strided: each of the stride x stride output phases (rows p mod s, columns q mod s) is a
 * stride-1 convolution of dy with the filter taps that reach it, flipped and with its channel
 * axes swapped; XNNPACK runs it and a memmove per pixel interleaves the phases into dx.
 * Returns undefined when a phase would need negative padding (then col2im serves).
 */
function backpropInputByPhases(backend: BackendWasm, dy: TensorInfo, filter: TensorInfo, c: ConvInfo): TensorInfo | undefined {
  if (c.dilationHeight !== 1 || c.dilationWidth !== 1) return undefined;
  const sh = c.strideHeight;
  const sw = c.strideWidth;
  const rowPhases = phasesOf(c.inHeight, c.outHeight, c.filterHeight, sh, c.padInfo.top);
  const colPhases = phasesOf(c.inWidth, c.outWidth, c.filterWidth, sw, c.padInfo.left);
  const usable = (ph: Phase) => ph.taps === 0 || ph.rows === 0 || (ph.before >= 0 && ph.after >= 0);
  if (!rowPhases.every(usable) || !colPhases.every(usable)) return undefined;
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: Ci, outChannels: Co, filterWidth: KW } = c;
  const dx = backend.makeOutput([B, H, W, Ci], 'float32');
  {
    const heap = heapFloats(backend);
    const at = f32Offset(backend, dx);
    heap.fill(0, at, at + B * H * W * Ci);
  }
  rowPhases.forEach((rp, p) => {
    colPhases.forEach((cp, q) => {
      if (rp.taps === 0 || cp.taps === 0 || rp.rows === 0 || cp.rows === 0) return; // no tap reaches: zeros
      // Sub-filter [rp.taps, cp.taps, Co, Ci]: F[u, v, co, ci] = W[tap0 + s(taps-1-u), ..., ci, co].
      const sub = backend.makeOutput([rp.taps, cp.taps, Co, Ci], 'float32');
      {
        const heap = heapFloats(backend);
        const wAt = f32Offset(backend, filter);
        let o = f32Offset(backend, sub);
        for (let u = 0; u < rp.taps; u++) {
          const ky = rp.tap0 + sh * (rp.taps - 1 - u);
          for (let v = 0; v < cp.taps; v++) {
            const kx = cp.tap0 + sw * (cp.taps - 1 - v);
            const tapAt = wAt + (ky * KW + kx) * Ci * Co;
            for (let co = 0; co < Co; co++) for (let ci = 0; ci < Ci; ci++) heap[o++] = heap[tapAt + ci * Co + co];
          }
        }
      }
      const pad = [[0, 0], [rp.before, rp.after], [cp.before, cp.after], [0, 0]] as tf.backend_util.ExplicitPadding;
      const part = callKernel(backend, 'Conv2D', { x: dy, filter: sub }, { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1] }); // [B, rp.rows, cp.rows, Ci]
      free(backend, sub);
      const heap = heapFloats(backend);
      const src0 = f32Offset(backend, part);
      const dst0 = f32Offset(backend, dx);
      for (let b = 0; b < B; b++) {
        for (let i = 0; i < rp.rows; i++) {
          const srcRow = src0 + ((b * rp.rows + i) * cp.rows) * Ci;
          const dstRow = dst0 + ((b * H + i * sh + p) * W + q) * Ci;
          for (let j = 0; j < cp.rows; j++) heap.copyWithin(dstRow + j * sw * Ci, srcRow + j * Ci, srcRow + (j + 1) * Ci);
        }
      }
      free(backend, part);
    });
  });
  return dx;
}

/** Conv2DBackpropInput for wasm (also conv2dTranspose's forward pass). */
export function makeConv2DBackpropInput(stockMatMul: WasmKernelFunc): WasmKernelFunc {
  return ({ inputs, backend, attrs }: WasmKernelArgs): TensorInfo => {
    const { dy, filter } = inputs;
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
    checkNhwc('Conv2DBackpropInput', dataFormat);
    const c = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    const viaConv = backpropInputByConv(backend, dy, filter, c) ?? backpropInputByPhases(backend, dy, filter, c);
    if (viaConv) return viaConv;
    const rowLen = c.filterHeight * c.filterWidth * c.inChannels;
    const wT = transposeLastTwo(backend, viewAs(filter, [rowLen, c.outChannels])); // [Cout, kh*kw*Cin]
    const dx = backend.makeOutput([...inputShape], 'float32');
    {
      const heap = heapFloats(backend);
      const at = f32Offset(backend, dx);
      heap.fill(0, at, at + tf.util.sizeFromShape(inputShape));
    }
    const step = chunkSize(c, Infinity); // the reduction here is Cout long: no need for small chunks
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
