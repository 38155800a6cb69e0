// wasm OneHot honouring its dtype. The stock kernel (tfjs-backend-wasm 4.22) always writes int32
// values, even into a tensor it labels float32, so tf.oneHot(ids, n, 1, 0, 'float32') reads back
// as denormals (1.4e-45). Here the stock kernel makes int32 and Cast converts when asked.
import { callKernel, free, type TensorInfo, type WasmKernelArgs, type WasmKernelFunc } from './kernel-utils.ts';

export function makeOneHot(stockOneHot: WasmKernelFunc): WasmKernelFunc {
  return ({ inputs, backend, attrs }: WasmKernelArgs): TensorInfo => {
    const dtype = (attrs?.dtype as string | undefined) ?? 'int32';
    const ints = stockOneHot({ inputs, backend, attrs: { ...attrs, dtype: 'int32' } });
    if (dtype === 'int32') return ints;
    const out = callKernel(backend, 'Cast', { x: ints }, { dtype });
    free(backend, ints);
    return out;
  };
}
