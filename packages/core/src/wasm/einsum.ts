// Einsum for wasm (the backend has none). One operand: sums, then a transpose. Two operands:
// each operand's private summed axes are summed first, then the rest is arranged as a
// BatchMatMul [batch, aFree, contracted] x [batch, contracted, bFree] (the fast patched kernel)
// and transposed to the output order. tfjs-core defines no Einsum gradient, so this is forward only.
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { callKernel, free, viewAs, type TensorInfo, type WasmKernelArgs } from './kernel-utils.ts';

/** Axes of `dims` (dim ids per axis) listed in `order`, as an axis permutation; undefined if identity. */
function permFor(dims: number[], order: number[]): number[] | undefined {
  const perm = order.map((d) => dims.indexOf(d));
  return perm.every((p, i) => p === i) ? undefined : perm;
}

/** x (with dim ids `dims`) transposed so its dims follow `order`; `temps` collects what to free. */
function arrange(backend: BackendWasm, x: TensorInfo, dims: number[], order: number[], temps: TensorInfo[]): TensorInfo {
  const perm = permFor(dims, order);
  if (!perm) return x;
  const out = callKernel(backend, 'Transpose', { x }, { perm });
  temps.push(out);
  return out;
}

/** Sums x over the axes whose dim ids are in `drop`; returns the result and its remaining dim ids. */
function sumDims(backend: BackendWasm, x: TensorInfo, dims: number[], drop: Set<number>, temps: TensorInfo[]): { x: TensorInfo; dims: number[] } {
  const axes = dims.flatMap((d, i) => (drop.has(d) ? [i] : []));
  if (axes.length === 0) return { x, dims };
  const out = callKernel(backend, 'Sum', { x }, { axis: axes, keepDims: false });
  temps.push(out);
  return { x: out, dims: dims.filter((d) => !drop.has(d)) };
}

export function einsum({ inputs, backend, attrs }: WasmKernelArgs): TensorInfo {
  const { equation } = attrs as unknown as tf.EinsumAttrs;
  const operands = Object.keys(inputs)
    .sort((p, q) => Number(p) - Number(q))
    .map((k) => inputs[k]);
  const { allDims, summedDims, idDims } = tf.backend_util.decodeEinsumEquation(equation, operands.length);
  tf.backend_util.checkEinsumDimSizes(allDims.length, idDims, operands as unknown as tf.Tensor[]);
  const numOut = allDims.length - summedDims.length; // output dims are ids 0 .. numOut-1, in order
  const outOrder = [...Array(numOut).keys()];
  const size = new Map<number, number>();
  idDims.forEach((dims, i) => dims.forEach((d, axis) => size.set(d, operands[i].shape[axis])));
  const temps: TensorInfo[] = [];
  try {
    if (operands.length === 1) {
      const summed = sumDims(backend, operands[0], idDims[0], new Set(summedDims), temps);
      const out = arrange(backend, summed.x, summed.dims, outOrder, temps);
      return out === operands[0] ? callKernel(backend, 'Identity', { x: out }) : temps.splice(temps.indexOf(out), 1)[0];
    }
    const inA = new Set(idDims[0]);
    const inB = new Set(idDims[1]);
    const summed = new Set(summedDims);
    const a = sumDims(backend, operands[0], idDims[0], new Set(idDims[0].filter((d) => summed.has(d) && !inB.has(d))), temps);
    const b = sumDims(backend, operands[1], idDims[1], new Set(idDims[1].filter((d) => summed.has(d) && !inA.has(d))), temps);
    const batch = outOrder.filter((d) => inA.has(d) && inB.has(d));
    const aFree = outOrder.filter((d) => inA.has(d) && !inB.has(d));
    const bFree = outOrder.filter((d) => inB.has(d) && !inA.has(d));
    const contracted = summedDims.filter((d) => inA.has(d) && inB.has(d));
    const prod = (ds: number[]) => ds.reduce((p, d) => p * size.get(d)!, 1);
    const a3 = viewAs(arrange(backend, a.x, a.dims, [...batch, ...aFree, ...contracted], temps), [prod(batch), prod(aFree), prod(contracted)]);
    const b3 = viewAs(arrange(backend, b.x, b.dims, [...batch, ...contracted, ...bFree], temps), [prod(batch), prod(contracted), prod(bFree)]);
    const mm = callKernel(backend, 'BatchMatMul', { a: a3, b: b3 }, { transposeA: false, transposeB: false }); // [batch, aFree, bFree]
    temps.push(mm);
    const mmDims = [...batch, ...aFree, ...bFree];
    const shaped = viewAs(mm, mmDims.map((d) => size.get(d)!));
    const out = arrange(backend, shaped, mmDims, outOrder, temps);
    if (out === shaped) {
      temps.splice(temps.indexOf(mm), 1);
      return { dataId: mm.dataId, shape: shaped.shape, dtype: mm.dtype };
    }
    return temps.splice(temps.indexOf(out), 1)[0];
  } finally {
    free(backend, ...temps);
  }
}
