// Small helpers the wasm kernel patches share: calling another wasm kernel by name, reading and
// writing tensors on the wasm heap, and freeing intermediates. Kernels run outside the engine's
// bookkeeping, so every intermediate made here must be freed with free() before returning.
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export type TensorInfo = tf.TensorInfo;
export type NamedTensorInfoMap = Record<string, TensorInfo>;

/** The arguments every kernelFunc receives, with the backend typed as the wasm one. */
export interface WasmKernelArgs {
  inputs: NamedTensorInfoMap;
  backend: BackendWasm;
  attrs?: tf.NamedAttrMap;
}

/** A wasm kernel's function as tfjs registers it. */
export type WasmKernelFunc = (args: WasmKernelArgs) => TensorInfo;

/** Looks up a kernel registered for 'wasm' (ours included) or throws naming it. */
export function wasmKernel(name: string): tf.KernelConfig {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm kernel patches need the wasm kernel '${name}', which is not registered`);
  return k;
}

/** Runs the wasm kernel `name` (the currently registered one) and returns its single output. */
export function callKernel(backend: BackendWasm, name: string, inputs: NamedTensorInfoMap, attrs: object = {}): TensorInfo {
  const out = wasmKernel(name).kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap });
  if (Array.isArray(out)) throw new Error(`wasm kernel '${name}' returned ${out.length} outputs; expected one`);
  return out as TensorInfo;
}

/** Frees intermediates made inside a kernel (never the kernel's inputs or its output). */
export function free(backend: BackendWasm, ...infos: (TensorInfo | undefined)[]): void {
  for (const t of infos) if (t) backend.disposeData(t.dataId);
}

/** A view of `t` under another shape with the same size; shares the data, so do not free it. */
export function viewAs(t: TensorInfo, shape: number[]): TensorInfo {
  if (tf.util.sizeFromShape(shape) !== tf.util.sizeFromShape(t.shape)) {
    throw new Error(`cannot view shape [${t.shape}] as [${shape}]: sizes differ`);
  }
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

/**
 * A float32 view of a tensor on the wasm heap. The heap can grow (and move) on any allocation,
 * so take views only after the last makeOutput/kernel call that precedes their use.
 */
export function heapF32(backend: BackendWasm, t: TensorInfo): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`expected a float32 tensor, got ${t.dtype}`);
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** A transpose of the last two axes: [..., m, n] -> [..., n, m], materialised by the wasm kernel. */
export function transposeLastTwo(backend: BackendWasm, t: TensorInfo): TensorInfo {
  const r = t.shape.length;
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return callKernel(backend, 'Transpose', { x: t }, { perm });
}

/**
 * The wasm heap's current buffer. Re-read it after any allocation: growing the heap replaces it.
 * The threaded build exposes its (shared) memory and refreshes HEAPU8 lazily, so prefer the memory.
 */
function heapBuffer(backend: BackendWasm): ArrayBufferLike {
  const m = backend.wasm as unknown as { HEAPU8: Uint8Array; wasmMemory?: { buffer: ArrayBufferLike } };
  return m.wasmMemory?.buffer ?? m.HEAPU8.buffer;
}

/** The whole wasm heap as floats (see heapBuffer about re-reading). */
export function heapFloats(backend: BackendWasm): Float32Array {
  return new Float32Array(heapBuffer(backend));
}

/** The whole wasm heap as bytes (see heapBuffer about re-reading). */
export function heapBytes(backend: BackendWasm): Uint8Array {
  return new Uint8Array(heapBuffer(backend));
}

/** Float index of a tensor's first element in heapFloats(). */
export function f32Offset(backend: BackendWasm, t: TensorInfo): number {
  const data = backend.dataIdMap.get(t.dataId);
  if (!data) throw new Error('wasm kernel patches: tensor data is not on the wasm backend');
  return data.memoryOffset / 4;
}
