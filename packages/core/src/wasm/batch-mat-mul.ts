// Faster wasm BatchMatMul and _FusedMatMul. The stock kernels send any transpose and any batch
// larger than one to a slow scalar loop (0.2-1 GFLOP/s here); XNNPACK only serves 2-D
// products without transposes. So: materialise transposes with the Transpose kernel (memory
// speed), fold a batch into the rows when b is shared, and otherwise run XNNPACK per batch item.
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { callKernel, f32Offset, free, heapFloats, transposeLastTwo, viewAs, type TensorInfo, type WasmKernelArgs, type WasmKernelFunc } from './kernel-utils.ts';

/** Copies `count` floats between heap tensors (memmove on the heap, no JS loop). */
function heapCopy(backend: BackendWasm, dst: TensorInfo, dstAt: number, src: TensorInfo, srcAt: number, count: number): void {
  const heap = heapFloats(backend); // re-read: growing the heap replaces this view
  const s = f32Offset(backend, src) + srcAt;
  heap.copyWithin(f32Offset(backend, dst) + dstAt, s, s + count);
}

/** The [K, N] each b data id last had in an XNNPACK product (see rhsAs). */
const rhsShapes = new WeakMap<object, string>();

/**
 * b viewed as a [K, N] right-hand side for the stock kernel. XNNPACK caches the operator that
 * packs b under b's data id alone, so the same data reshaped to another [K, N] (tf.reshape shares
 * data) would reuse a stale operator and give wrong results (a tfjs-backend-wasm 4.22 bug). A new
 * shape for a known id first drops its cached operators: unregister and re-register the id.
 */
function rhsAs(backend: BackendWasm, b: TensorInfo, K: number, N: number): TensorInfo {
  const key = `${K}x${N}`;
  const last = rhsShapes.get(b.dataId);
  if (last !== undefined && last !== key) {
    const data = backend.dataIdMap.get(b.dataId)!;
    const tfjs = (backend.wasm as unknown as { tfjs: { disposeData(id: number): void; registerTensor(id: number, size: number, offset: number): void } }).tfjs;
    tfjs.disposeData(data.id);
    tfjs.registerTensor(data.id, K * N, data.memoryOffset);
  }
  rhsShapes.set(b.dataId, key);
  return viewAs(b, [K, N]);
}

/**
 * a [...batchA, M, K] x b [...batchB, K, N] with no transposes, through `plain` (the stock 2-D
 * XNNPACK path). Returns [...broadcast(batchA, batchB), M, N], or undefined when the batch
 * dims broadcast partially (e.g. [2, 1] against [1, 3]), which the caller leaves to the stock kernel.
 */
export function matMulNN(backend: BackendWasm, plain: WasmKernelFunc, a: TensorInfo, b: TensorInfo): TensorInfo | undefined {
  const [M, K] = a.shape.slice(-2);
  const N = b.shape[b.shape.length - 1];
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batchShape = tf.broadcast_util.assertAndGetBroadcastShape(batchA, batchB);
  const sizeA = tf.util.sizeFromShape(batchA);
  const sizeB = tf.util.sizeFromShape(batchB);
  const size = tf.util.sizeFromShape(batchShape);
  const outShape = [...batchShape, M, N];
  const attrs = { transposeA: false, transposeB: false };
  if (sizeB === 1) {
    // b is shared: all of a's rows form one 2-D product. [sizeA * M, K] x [K, N]
    const out = plain({ inputs: { a: viewAs(a, [sizeA * M, K]), b: rhsAs(backend, b, K, N) }, backend, attrs });
    return { dataId: out.dataId, shape: outShape, dtype: out.dtype };
  }
  if ((sizeA !== 1 && sizeA !== size) || sizeB !== size) return undefined;
  // One XNNPACK product per batch item. b needs a fresh tensor each time: XNNPACK packs it
  // into an operator cached under its id (freed with it).
  const out = backend.makeOutput(outShape, 'float32');
  const aItem = backend.makeOutput([M, K], 'float32');
  if (sizeA === 1) heapCopy(backend, aItem, 0, a, 0, M * K);
  for (let i = 0; i < size; i++) {
    if (sizeA !== 1) heapCopy(backend, aItem, 0, a, i * M * K, M * K);
    const bItem = backend.makeOutput([K, N], 'float32');
    heapCopy(backend, bItem, 0, b, i * K * N, K * N);
    const prod = plain({ inputs: { a: aItem, b: bItem }, backend, attrs });
    heapCopy(backend, out, i * M * N, prod, 0, M * N);
    free(backend, bItem, prod);
  }
  free(backend, aItem);
  return out;
}

/** Materialises the transposes that attrs ask for; returns the operands and what to free. */
function untranspose(backend: BackendWasm, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): { a: TensorInfo; b: TensorInfo; temps: TensorInfo[] } {
  const temps: TensorInfo[] = [];
  if (transposeA) temps.push((a = transposeLastTwo(backend, a)));
  if (transposeB) temps.push((b = transposeLastTwo(backend, b)));
  return { a, b, temps };
}

function checkFloat(name: string, a: TensorInfo, b: TensorInfo): void {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error(`${name} on wasm needs float32 operands, got ${a.dtype} and ${b.dtype}`);
}

/** BatchMatMul for wasm built on the stock kernel `stock`. */
export function makeBatchMatMul(stock: WasmKernelFunc): WasmKernelFunc {
  return ({ inputs, backend, attrs }: WasmKernelArgs): TensorInfo => {
    const { transposeA = false, transposeB = false } = (attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
    checkFloat('BatchMatMul', inputs.a, inputs.b);
    const { a, b, temps } = untranspose(backend, inputs.a, inputs.b, transposeA, transposeB);
    try {
      const kA = a.shape[a.shape.length - 1];
      const kB = b.shape[b.shape.length - 2];
      if (kA !== kB) throw new Error(`matMul: inner dimensions differ (${kA} vs ${kB}) for shapes [${inputs.a.shape}] and [${inputs.b.shape}] with transposeA=${transposeA}, transposeB=${transposeB}`);
      return matMulNN(backend, stock, a, b) ?? stock({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } });
    } finally {
      free(backend, ...temps);
    }
  };
}

/** The kernels that apply each fusable activation (none for 'linear'). */
function applyActivation(backend: BackendWasm, x: TensorInfo, activation: string, prelu: TensorInfo | undefined, leakyreluAlpha: number): TensorInfo | undefined {
  switch (activation) {
    case 'linear':
      return undefined;
    case 'relu':
      return callKernel(backend, 'Relu', { x });
    case 'relu6':
      return callKernel(backend, 'Relu6', { x });
    case 'elu':
      return callKernel(backend, 'Elu', { x });
    case 'sigmoid':
      return callKernel(backend, 'Sigmoid', { x });
    case 'leakyrelu':
      return callKernel(backend, 'LeakyRelu', { x }, { alpha: leakyreluAlpha });
    case 'prelu':
      if (!prelu) throw new Error(`_FusedMatMul: activation 'prelu' needs preluActivationWeights`);
      return callKernel(backend, 'Prelu', { x, alpha: prelu });
    default:
      throw new Error(`_FusedMatMul: unsupported activation '${activation}' (expected linear, relu, relu6, elu, sigmoid, leakyrelu or prelu)`);
  }
}

/** _FusedMatMul for wasm: the stock fused kernel for shared-b products, else matmul + bias + activation. */
export function makeFusedMatMul(stockFused: WasmKernelFunc, stockMatMul: WasmKernelFunc): WasmKernelFunc {
  return ({ inputs, backend, attrs }: WasmKernelArgs): TensorInfo => {
    const { transposeA = false, transposeB = false, activation = 'linear', leakyreluAlpha = 0.2 } = (attrs ?? {}) as {
      transposeA?: boolean;
      transposeB?: boolean;
      activation?: string;
      leakyreluAlpha?: number;
    };
    const { bias, preluActivationWeights } = inputs;
    checkFloat('_FusedMatMul', inputs.a, inputs.b);
    const { a, b, temps } = untranspose(backend, inputs.a, inputs.b, transposeA, transposeB);
    try {
      const sizeB = tf.util.sizeFromShape(b.shape.slice(0, -2));
      if (sizeB === 1 && (bias == null || bias.shape.length === 1) && preluActivationWeights == null) {
        // The stock fused kernel is fast for 2-D products without transposes. [rows, K] x [K, N]
        const [M, K] = a.shape.slice(-2);
        const N = b.shape[b.shape.length - 1];
        const batchA = a.shape.slice(0, -2);
        const rows = tf.util.sizeFromShape(batchA) * M;
        const fusedInputs: Record<string, TensorInfo> = { a: viewAs(a, [1, rows, K]), b: viewAs(rhsAs(backend, b, K, N), [1, K, N]) };
        if (bias) fusedInputs.bias = bias;
        const out = stockFused({ inputs: fusedInputs, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
        const batchShape = tf.broadcast_util.assertAndGetBroadcastShape(batchA, b.shape.slice(0, -2));
        return { dataId: out.dataId, shape: [...batchShape, M, N], dtype: out.dtype };
      }
      const prod = matMulNN(backend, stockMatMul, a, b) ?? stockMatMul({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } });
      const biased = bias ? callKernel(backend, 'Add', { a: prod, b: bias }) : prod;
      if (biased !== prod) free(backend, prod);
      const activated = applyActivation(backend, biased, activation, preluActivationWeights, leakyreluAlpha);
      if (!activated) return biased;
      free(backend, biased);
      return activated;
    } finally {
      free(backend, ...temps);
    }
  };
}
