// Identity that shares its input's memory instead of copying it. tfjs runs Identity for every tensor
// a kernel saves for its gradient (engine.clone), so stock wasm copied every saved activation of a
// training step: about 520 copies and 3% of an emoji-64 transformer step. Tensor data never
// changes in place (variables get new data on assign), so sharing is safe; it is what the cpu
// backend's Identity and wasm's own Reshape already do (a reference count on the data).
import type { TensorInfo, WasmKernelArgs, WasmKernelFunc } from './kernel-utils.ts';

export function makeIdentity(stockIdentity: WasmKernelFunc): WasmKernelFunc {
  return (args: WasmKernelArgs): TensorInfo => {
    const { x } = args.inputs;
    if (x.dtype === 'string') return stockIdentity(args);
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}
