// UnsortedSegmentSum for wasm (the gradient of tf.gather, so embedding tables can train):
// out[s, ...] = sum of x[i, ...] over the i with segmentIds[i] = s. Memory bound, so a plain
// loop over the heap views; ids outside [0, numSegments) are dropped, as TensorFlow does.
import * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo, WasmKernelArgs } from './kernel-utils.ts';

export function unsortedSegmentSum({ inputs, backend, attrs }: WasmKernelArgs): TensorInfo {
  const { x, segmentIds } = inputs;
  const { numSegments } = attrs as unknown as tf.UnsortedSegmentSumAttrs;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum on wasm needs float32 or int32 values, got ${x.dtype}`);
  if (segmentIds.dtype !== 'int32') throw new Error(`UnsortedSegmentSum needs int32 segment ids, got ${segmentIds.dtype}`);
  const idRank = segmentIds.shape.length;
  if (x.shape.slice(0, idRank).join(',') !== segmentIds.shape.join(',')) {
    throw new Error(`UnsortedSegmentSum: segmentIds shape [${segmentIds.shape}] must be a prefix of x shape [${x.shape}]`);
  }
  const count = tf.util.sizeFromShape(segmentIds.shape);
  const innerShape = x.shape.slice(idRank);
  const inner = tf.util.sizeFromShape(innerShape);
  const out = backend.makeOutput([numSegments, ...innerShape], x.dtype);
  // Views after the allocation: makeOutput may have grown (moved) the heap.
  const outV = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
  const xV = backend.typedArrayFromHeap(x) as Float32Array | Int32Array;
  const ids = backend.typedArrayFromHeap(segmentIds) as Int32Array;
  outV.fill(0);
  for (let i = 0; i < count; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) outV[dst + j] += xV[src + j];
  }
  return out;
}
