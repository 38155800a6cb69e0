// The body of one gradient worker thread (see data-parallel.ts): it holds a replica of the model
// on its own backend instance, and for each shard of a batch it copies in the current weights from
// shared memory, computes the loss and the gradients of every parameter, and sends them back flat.
import * as tf from '@tensorflow/tfjs-core';
import { parentPort, workerData } from 'node:worker_threads';
import { ensureGradients, selectBackend } from '@dalle/core';
import type { TransformerConfig } from './config.ts';
import type { ModelBatch } from './layout.ts';
import { paramSpecs } from './params.ts';
import { createTransformer, transformerLoss } from './transformer.ts';
import type { ShardRequest, ShardResult, WorkerInit } from './data-parallel.ts';

const init = workerData as WorkerInit;
const port = parentPort!;

async function main(): Promise<void> {
  await selectBackend(init.backend);
  ensureGradients();
  const cfg: TransformerConfig = init.config;
  const model = createTransformer(cfg, null);
  const specs = paramSpecs(cfg);
  const weights = new Float32Array(init.weights);
  const variables = specs.map((s) => model.params[s.key as keyof typeof model.params] as tf.Variable);
  let version = -1;

  port.on('message', (req: ShardRequest) => {
    try {
      if (req.version !== version) {
        let offset = 0;
        specs.forEach((s, i) => {
          const size = tf.util.sizeFromShape(s.shape);
          tf.tidy(() => variables[i].assign(tf.tensor(weights.slice(offset, offset + size), s.shape)));
          offset += size;
        });
        version = req.version;
      }
      const batch: ModelBatch = req.batch;
      let parts: tf.Scalar[] = [];
      const { value, grads } = tf.variableGrads(() => {
        const l = transformerLoss(model.params, cfg, batch);
        parts = [tf.keep(l.text), tf.keep(l.image)];
        return l.loss;
      }, variables);
      const flat = new Float32Array(weights.length);
      let offset = 0;
      for (const v of variables) {
        const g = grads[v.name];
        if (!g) throw new Error(`no gradient for ${v.name}`);
        flat.set(g.dataSync() as Float32Array, offset);
        offset += g.size;
      }
      const result: ShardResult = { loss: value.dataSync()[0], text: parts[0].dataSync()[0], image: parts[1].dataSync()[0], grads: flat };
      tf.dispose([value, ...parts, ...Object.values(grads)]);
      port.postMessage(result, [flat.buffer]);
    } catch (err) {
      port.postMessage({ error: (err as Error).stack ?? String(err) });
    }
  });
  port.postMessage({ ready: true });
}

main().catch((err) => port.postMessage({ error: (err as Error).stack ?? String(err) }));
