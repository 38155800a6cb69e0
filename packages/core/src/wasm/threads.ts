// Experimental: the multi-threaded SIMD build of tfjs-backend-wasm in Node. Stock init() fails
// here (ERR_WORKER_PATH: emscripten's pthread workers come from blob: URLs). This registers a
// 'wasm' backend factory that gives emscripten file paths instead: the worker script written to
// a temp file, and the package's own threaded module file as the main script. The C++ side sizes
// its XNNPACK thread pool once, at module start, as clamp(logical cores / 2, 1, 4) (it assumes
// two hyper-threads per core) and ignores setThreadsCount; so os.cpus() is made to report
// 2 x threads while the module starts. Opt-in only; see the report in the commit log.
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
/** The C++ thread pool is capped at 4 threads. */
const MAX_THREADS = 4;

interface NodeWorker {
  ref(): void;
  unref(): void;
}

interface EmscriptenModule {
  cwrap(name: string, ret: string | null, args: string[]): unknown;
  tfjs?: unknown;
  PThread?: { unusedWorkers: NodeWorker[]; runningWorkers: NodeWorker[]; allocateUnusedWorker?: () => void };
}

/**
 * Emscripten refs a pthread's worker while the thread runs, and XNNPACK's pool threads run for
 * the life of the module, so Node would never exit by itself once the pool has started. The
 * workers are made unreferenced for good: the process exits when its own work is done.
 */
function keepWorkersUnreferenced(module: EmscriptenModule): void {
  const pthread = module.PThread;
  if (!pthread) return;
  const patch = (w: NodeWorker) => {
    w.unref();
    w.ref = () => {};
  };
  [...pthread.unusedWorkers, ...pthread.runningWorkers].forEach(patch);
  const allocate = pthread.allocateUnusedWorker;
  if (allocate) {
    pthread.allocateUnusedWorker = () => {
      allocate.call(pthread);
      patch(pthread.unusedWorkers[pthread.unusedWorkers.length - 1]);
    };
  }
}

/**
 * Replaces the 'wasm' backend factory with the threaded build using `threads` XNNPACK threads
 * (1..4). Call after importing '@tensorflow/tfjs-backend-wasm' and before the wasm backend is
 * first initialised (tf.setBackend('wasm') / selectBackend).
 */
export function useThreadedWasm(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) throw new Error(`wasm threads must be an integer in [1, ${MAX_THREADS}], got ${threads}`);
  if (typeof SharedArrayBuffer === 'undefined') throw new Error('threaded wasm needs SharedArrayBuffer, which this runtime lacks');
  const pkgDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const wasmOut = path.join(pkgDir, 'wasm-out');
  const mainScript = path.join(wasmOut, 'tfjs-backend-wasm-threaded-simd.js');
  const binary = path.join(wasmOut, 'tfjs-backend-wasm-threaded-simd.wasm');
  const { version } = require('@tensorflow/tfjs-backend-wasm/package.json') as { version: string };
  const workerDir = path.join(tmpdir(), `dalle-tfjs-wasm-${version}`);
  const workerScript = path.join(workerDir, 'tfjs-backend-wasm-threaded-simd.worker.js');
  if (!existsSync(workerScript)) {
    const { wasmWorkerContents } = require(path.join(wasmOut, 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
    mkdirSync(workerDir, { recursive: true });
    // The package escapes '\n' the same way before making its blob: the contents hold string
    // literals whose newline escapes became real newlines in the template literal.
    const tmp = `${workerScript}.${process.pid}.tmp`;
    writeFileSync(tmp, wasmWorkerContents.replace(/\n/g, '\\n'));
    require('node:fs').renameSync(tmp, workerScript);
  }
  const factory = require(mainScript) as (config: object) => Promise<EmscriptenModule>;
  const wasmPkg = require('@tensorflow/tfjs-backend-wasm') as { BackendWasm: new (m: EmscriptenModule) => tf.KernelBackend; setThreadsCount(n: number): void };
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => {
      const os = require('node:os') as { cpus: () => unknown[] };
      const realCpus = os.cpus;
      os.cpus = () => Array.from({ length: 2 * threads }, () => realCpus()[0]);
      let module: EmscriptenModule;
      try {
        module = await factory({
          locateFile: (file: string, prefix: string) => (file.endsWith('.worker.js') ? workerScript : file.endsWith('.wasm') ? binary : prefix + file),
          mainScriptUrlOrBlob: mainScript,
        });
      } finally {
        os.cpus = realCpus;
      }
      keepWorkersUnreferenced(module);
      // The same bridge the package's own init() installs.
      module.tfjs = {
        init: module.cwrap('init', null, []),
        initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
        getThreadsCount: module.cwrap('get_threads_count', 'number', []),
        registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
        disposeData: module.cwrap('dispose_data', null, ['number']),
        dispose: module.cwrap('dispose', null, []),
      };
      wasmPkg.setThreadsCount(threads);
      return new wasmPkg.BackendWasm(module);
    },
    2,
  );
}

/** XNNPACK threads of the initialised wasm backend. */
export function wasmThreadsCount(): number {
  return (require('@tensorflow/tfjs-backend-wasm') as { getThreadsCount(): number }).getThreadsCount();
}
