// Kernels the tfjs wasm backend lacks or runs slowly, registered for 'wasm' only.
// (Filled in by the wasm kernel work; see test/core/wasm-kernels.test.ts for parity tests.)

let registered = false;

/** Registers the project's wasm kernel patches once; safe to call repeatedly. */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
}
