import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@dalle/core';
import { TransformerTrainer, createTransformer, resolveTrainConfig, resolveTransformerConfig, modelBatch, transformerLayout, transformerLoss } from '@dalle/transformer';
import { memoryDataset, testOrder } from './fixtures.ts';
await selectBackend(process.env.DALLE_BACKEND);
const cfg = resolveTransformerConfig({});
const model = createTransformer(cfg, 1);
const data = memoryDataset(cfg, 64);
const tr = new TransformerTrainer(model, data, resolveTrainConfig({ batchSize: 16 }), testOrder);
tr.trainStep();
const n = Number(process.env.N ?? 3);
let t0 = Date.now();
for (let i = 0; i < n; i++) tr.trainStep();
const ms = (Date.now() - t0) / n;
console.log(tf.getBackend(), 'ms/step', ms, 'tok/s', (16 * 96 / ms * 1000).toFixed(0));
if (process.env.PROFILE) {
  const d = data.batch([...Array(16).keys()]);
  const batch = modelBatch(transformerLayout(cfg), d.text, d.codes, 16);
  const prof = await tf.profile(() => tf.tidy(() => { const { value } = tf.variableGrads(() => transformerLoss(model.params, cfg, batch).loss); value.dataSync(); }));
  const agg: Record<string, [number, number]> = {};
  for (const k of prof.kernels) { const a = (agg[k.name] ??= [0, 0]); a[0] += k.kernelTimeMs as number; a[1]++; }
  console.log(Object.entries(agg).sort((a, b) => b[1][0] - a[1][0]).slice(0, 14).map(([k, [t, c]]) => `${k} ${t.toFixed(0)}ms x${c}`).join('\n'));
}
