// Data-parallel training on one machine: each batch is split into shards by sequence; the main
// thread computes the gradients of the first shard while worker threads (node:worker_threads, each
// with its own single-threaded backend instance and model replica) compute the others. The
// gradients are averaged by shard size, which gives the gradient of the whole batch (the losses
// are means over tokens, and every sequence has the same number of tokens). The weights reach the
// workers through shared memory once per optimizer step; the optimizer runs on the main thread only.
import * as tf from '@tensorflow/tfjs-core';
import { Worker } from 'node:worker_threads';
import { currentBackend, UsageError } from '@dalle/core';
import type { TransformerConfig } from './config.ts';
import type { ModelBatch } from './layout.ts';
import { countParams, paramSpecs } from './params.ts';
import type { TransformerModel } from './transformer.ts';

/** What a worker starts with (workerData). */
export interface WorkerInit {
  backend: string;
  config: TransformerConfig;
  /** The model's weights, flat in paramSpecs order (float32), written by the main thread. */
  weights: SharedArrayBuffer;
}

/** One shard to differentiate; `version` tells the worker whether the shared weights changed. */
export interface ShardRequest {
  version: number;
  batch: ModelBatch;
}

export interface ShardResult {
  loss: number;
  text: number;
  image: number;
  /** Gradients flat in paramSpecs order. */
  grads: Float32Array;
}

/** Most worker threads a run may ask for (beyond this a typo is likelier than intent). */
export const MAX_TRAIN_WORKERS = 16;

/**
 * Splits a batch of B sequences into `count` consecutive shards whose sizes differ by at most one
 * (the first B mod count shards are one larger). count must be in [1, B].
 */
export function splitBatch(batch: ModelBatch, count: number): ModelBatch[] {
  const B = batch.batchSize;
  if (!Number.isInteger(count) || count < 1 || count > B) throw new UsageError(`cannot split a batch of ${B} sequences into ${count} shards: use at most ${B} workers, or a larger --batch-size`);
  const L = batch.inputIds.length / B;
  const T = batch.textTargets.length / B;
  const N = batch.imageTargets.length / B;
  const shards: ModelBatch[] = [];
  let start = 0;
  for (let s = 0; s < count; s++) {
    const size = Math.floor(B / count) + (s < B % count ? 1 : 0);
    const end = start + size;
    const shard: ModelBatch = { batchSize: size, inputIds: batch.inputIds.slice(start * L, end * L), textTargets: batch.textTargets.slice(start * T, end * T), imageTargets: batch.imageTargets.slice(start * N, end * N) };
    if (batch.dropout) shard.dropout = { rate: batch.dropout.rate, seeds: batch.dropout.seeds.slice(start, end) };
    shards.push(shard);
    start = end;
  }
  return shards;
}

interface Pending {
  resolve: (r: ShardResult) => void;
  reject: (e: Error) => void;
}

/** Worker threads that compute shard gradients for one model. Create with start(); dispose() ends them. */
export class GradientWorkers {
  private readonly flat: Float32Array;
  private version = 0;
  private sentVersion = -1;
  private readonly pending: (Pending | undefined)[];
  private failure: Error | undefined;

  private constructor(
    private readonly model: TransformerModel,
    private readonly workers: Worker[],
    weights: SharedArrayBuffer,
  ) {
    this.flat = new Float32Array(weights);
    this.pending = workers.map(() => undefined);
  }

  /** Starts `count` worker threads on the active backend (wasm or cpu) and waits until each is ready. */
  static async start(model: TransformerModel, count: number): Promise<GradientWorkers> {
    if (!Number.isInteger(count) || count < 1 || count > MAX_TRAIN_WORKERS) throw new UsageError(`worker threads must be an integer in [1, ${MAX_TRAIN_WORKERS}], got ${count}`);
    const backend = currentBackend();
    if (!backend) throw new Error('GradientWorkers.start: choose a backend first (selectBackend)');
    if (backend.name !== 'wasm' && backend.name !== 'cpu') {
      throw new UsageError(`data-parallel workers run on the wasm or cpu backend; ${backend.name} already uses every core by itself, so train with --workers 1`);
    }
    const total = countParams(model.config);
    const weights = new SharedArrayBuffer(total * 4);
    const init: WorkerInit = { backend: backend.name, config: model.config, weights };
    const url = new URL('./grad-worker-entry.mjs', import.meta.url);
    const workers: Worker[] = [];
    try {
      for (let i = 0; i < count; i++) {
        // One XNNPACK thread per worker: the workers themselves are the parallelism.
        workers.push(new Worker(url, { workerData: init, env: { ...process.env, DALLE_WASM_THREADS: '1' } }));
      }
      await Promise.all(workers.map((w, i) => waitReady(w, i)));
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw err;
    }
    const pool = new GradientWorkers(model, workers, weights);
    workers.forEach((w, i) => pool.listen(w, i));
    return pool;
  }

  get size(): number {
    return this.workers.length;
  }

  /** Call after every change of the model's weights (an optimizer step): the next shards carry them. */
  weightsChanged(): void {
    this.version++;
  }

  /** Sends shard i to worker i (one shard per worker) and resolves with their results in order. */
  gradients(shards: ModelBatch[]): Promise<ShardResult[]> {
    if (this.failure) return Promise.reject(this.failure);
    if (shards.length !== this.workers.length) throw new Error(`GradientWorkers.gradients: ${shards.length} shards for ${this.workers.length} workers`);
    if (this.sentVersion !== this.version) {
      let offset = 0;
      for (const s of paramSpecs(this.model.config)) {
        const v = this.model.params[s.key] as tf.Tensor;
        this.flat.set(v.dataSync() as Float32Array, offset);
        offset += v.size;
      }
      this.sentVersion = this.version;
    }
    return Promise.all(
      shards.map(
        (batch, i) =>
          new Promise<ShardResult>((resolve, reject) => {
            this.pending[i] = { resolve, reject };
            const req: ShardRequest = { version: this.version, batch };
            this.workers[i].postMessage(req);
          }),
      ),
    );
  }

  async dispose(): Promise<void> {
    const err = new Error('gradient workers were disposed');
    this.pending.forEach((p) => p?.reject(err));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private listen(w: Worker, i: number): void {
    const fail = (e: Error) => {
      this.failure ??= e;
      const p = this.pending[i];
      this.pending[i] = undefined;
      p?.reject(e);
    };
    w.on('message', (msg: ShardResult | { error: string }) => {
      if ('error' in msg) return fail(new Error(`gradient worker ${i} failed: ${msg.error}`));
      const p = this.pending[i];
      this.pending[i] = undefined;
      p?.resolve(msg);
    });
    w.on('error', (e) => fail(new Error(`gradient worker ${i} crashed: ${e.message}`)));
    w.on('exit', (code) => {
      if (code !== 0) fail(new Error(`gradient worker ${i} exited with code ${code}`));
    });
  }
}

function waitReady(w: Worker, i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: { ready?: boolean; error?: string }) => {
      cleanup();
      if (msg.ready) resolve();
      else reject(new Error(`gradient worker ${i} failed to start: ${msg.error}`));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(new Error(`gradient worker ${i} failed to start: ${e.message}`));
    };
    const cleanup = () => {
      w.off('message', onMessage);
      w.off('error', onError);
    };
    w.on('message', onMessage);
    w.on('error', onError);
  });
}
