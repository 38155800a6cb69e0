// The one place that chooses the TensorFlow.js backend. Order: tfjs-node-gpu (if it loads and
// sees a GPU) > tfjs-node > wasm (with our kernel patches) > cpu. DALLE_BACKEND or --backend
// overrides. Library code imports tf and never calls tf.setBackend itself.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { UsageError } from './errors.ts';
import { registerWasmKernels } from './wasm-kernels.ts';
import { useThreadedWasm, wasmThreadsCount } from './wasm/threads.ts';

export const BACKEND_NAMES = ['auto', 'node-gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendInfo {
  /** What was asked for ('auto' unless overridden). */
  requested: BackendName;
  /** What runs: 'node-gpu' | 'node' | 'wasm' | 'cpu'. */
  name: Exclude<BackendName, 'auto'>;
  /** tf.getBackend() name ('tensorflow', 'wasm', 'cpu'). */
  tfName: string;
  /** Why the faster ones were skipped, one line each. */
  skipped: string[];
  detail: string;
}

const require = createRequire(import.meta.url);
let current: BackendInfo | undefined;

export function parseBackendName(value: string | undefined): BackendName {
  const v = (value ?? 'auto').trim().toLowerCase();
  if (v === '') return 'auto';
  if (!(BACKEND_NAMES as readonly string[]).includes(v)) {
    throw new UsageError(`unknown backend "${value}": choose one of ${BACKEND_NAMES.join(', ')}`);
  }
  return v as BackendName;
}

/** The native binding that tfjs-node's install step downloads; without it require() half-registers kernels and throws. */
function hasNativeBinding(pkg: string): boolean | undefined {
  let dir: string;
  try {
    dir = path.dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    return undefined; // not installed
  }
  const lib = path.join(dir, 'lib');
  return existsSync(lib) && readdirSync(lib).some((d) => existsSync(path.join(lib, d, 'tfjs_binding.node')));
}

function tryNode(pkg: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node'): string | undefined {
  const binding = hasNativeBinding(pkg);
  if (binding === undefined) return `${pkg}: not installed`;
  if (!binding) return `${pkg}: installed without its native library (its install step could not download libtensorflow; run \`pnpm rebuild ${pkg}\` online)`;
  try {
    require(pkg);
    return undefined;
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0];
    return `${pkg}: ${/Cannot find (module|package)/.test(msg) ? 'not installed' : msg.slice(0, 160)}`;
  }
}

async function useNode(gpu: boolean, skipped: string[]): Promise<boolean> {
  const pkg = gpu ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  const why = tryNode(pkg);
  if (why) {
    skipped.push(why);
    return false;
  }
  if (!(await tf.setBackend('tensorflow'))) {
    skipped.push(`${pkg}: backend 'tensorflow' failed to initialise`);
    return false;
  }
  if (gpu && !(tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice) {
    skipped.push(`${pkg}: loaded but sees no GPU`);
    return false;
  }
  return true;
}

/**
 * XNNPACK threads for wasm from DALLE_WASM_THREADS: 1 (the default) is the stock single-threaded
 * SIMD build; 2-4 start the threaded build (useThreadedWasm), whose matrix products use that
 * many cores. On a machine whose cores are all busy, extra threads only add contention.
 */
export function wasmThreadsFromEnv(): number {
  const raw = process.env.DALLE_WASM_THREADS;
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 4) throw new UsageError(`DALLE_WASM_THREADS must be an integer from 1 to 4, got "${raw}"`);
  return n;
}

async function useWasm(skipped: string[]): Promise<boolean> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    const threads = wasmThreadsFromEnv();
    if (threads > 1) useThreadedWasm(threads);
    registerWasmKernels();
    if (await tf.setBackend('wasm')) return true;
    skipped.push('wasm: backend failed to initialise');
  } catch (err) {
    skipped.push(`wasm: ${(err as Error).message.split('\n')[0]}`);
  }
  return false;
}

/**
 * Chooses and initialises the backend. `name` (or DALLE_BACKEND when `name` is undefined)
 * forces one; an explicitly requested backend that cannot start is an error, not a fallback.
 */
export async function selectBackend(name?: string, options: { log?: (line: string) => void } = {}): Promise<BackendInfo> {
  const requested = parseBackendName(name ?? process.env.DALLE_BACKEND);
  const skipped: string[] = [];
  let chosen: BackendInfo['name'] | undefined;
  const order: BackendInfo['name'][] = requested === 'auto' ? ['node-gpu', 'node', 'wasm', 'cpu'] : [requested];
  for (const candidate of order) {
    let ok = false;
    if (candidate === 'node-gpu') ok = await useNode(true, skipped);
    else if (candidate === 'node') ok = await useNode(false, skipped);
    else if (candidate === 'wasm') ok = await useWasm(skipped);
    else {
      // PROD silences the cpu backend's "install our node backend" banner; --verbose says the same.
      tf.env().set('PROD', true);
      ok = await tf.setBackend('cpu');
    }
    if (ok) {
      chosen = candidate;
      break;
    }
  }
  if (!chosen) throw new UsageError(`backend "${requested}" is not available here (${skipped.join('; ')}); try --backend auto`);
  await tf.ready();
  const tfName = tf.getBackend();
  const threads = chosen === 'wasm' ? wasmThreadsCount() : 0;
  const detail = chosen === 'wasm' ? `tfjs-backend-wasm (SIMD, ${threads} thread${threads === 1 ? '' : 's'}) + dalle kernel patches` : chosen === 'cpu' ? 'tfjs-backend-cpu (pure JavaScript)' : `libtensorflow via ${chosen === 'node-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node'}`;
  current = { requested, name: chosen, tfName, skipped, detail };
  options.log?.(`backend: ${chosen} (${detail})${skipped.length && requested === 'auto' ? `; skipped ${skipped.join('; ')}` : ''}`);
  return current;
}

/** The backend chosen by the last selectBackend() call, if any. */
export function currentBackend(): BackendInfo | undefined {
  return current;
}
