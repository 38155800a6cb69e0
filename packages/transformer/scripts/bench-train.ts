// Measures training and decoding speed of a transformer preset on random tokens:
//   ./node_modules/.bin/tsx packages/transformer/scripts/bench-train.ts [preset] [batchSize] [steps]
// Prints wall-clock and process CPU figures (CPU time is the fairer number on a shared machine).
import * as tf from '@tensorflow/tfjs-core';
import { Rng, selectBackend } from '@dalle/core';
import { TransformerTrainer, createDecoder, createEpochOrder, createTransformer, imageSeqLen, resolveTrainConfig, tokensPerSequence, transformerPreset, type TokenBatchSource } from '@dalle/transformer';

const [presetName = 'emoji-64', batchArg = '16', stepsArg = '3'] = process.argv.slice(2);
const info = await selectBackend(undefined);
const cfg = transformerPreset(presetName);
const B = Number(batchArg);
const steps = Number(stepsArg);
const T = cfg.textSeqLen;
const N = imageSeqLen(cfg);
const rng = new Rng(1);
const size = 4 * B;
const text = Int32Array.from({ length: size * T }, () => rng.int(cfg.textVocabSize));
const codes = Int32Array.from({ length: size * N }, () => rng.int(cfg.imageVocabSize));
const source: TokenBatchSource = {
  size,
  manifest: { textSeqLen: T, gridSize: cfg.gridSize, codebookSize: cfg.imageVocabSize, textVocabSize: cfg.textVocabSize, dvaeId: 'bench', tokenizerId: 'bench' },
  batch: (idx) => ({ text: Int32Array.from(idx.flatMap((i) => [...text.subarray(i * T, (i + 1) * T)])), codes: Int32Array.from(idx.flatMap((i) => [...codes.subarray(i * N, (i + 1) * N)])) }),
};
const model = createTransformer(cfg, 1);
const trainer = new TransformerTrainer(model, source, resolveTrainConfig({ batchSize: B }), createEpochOrder);
trainer.trainStep(); // warm-up: kernels, masks
const wall0 = Date.now();
const cpu0 = process.cpuUsage();
for (let i = 0; i < steps; i++) trainer.trainStep();
const wall = (Date.now() - wall0) / steps;
const cpuUse = process.cpuUsage(cpu0);
const cpu = (cpuUse.user + cpuUse.system) / 1000 / steps;
const tokens = B * tokensPerSequence(cfg);
console.log(`${info.name} ${presetName} batch ${B}: ${wall.toFixed(0)} ms/step wall (${((tokens / wall) * 1000).toFixed(0)} tokens/s), ${cpu.toFixed(0)} ms/step CPU (${((tokens / cpu) * 1000).toFixed(0)} tokens per CPU-second)`);
trainer.dispose();

const decodeWall0 = Date.now();
const decoder = createDecoder(model, B);
const prompt = tf.tensor2d(text.subarray(0, B * T), [B, T], 'int32');
let logits = decoder.prefill(prompt);
for (let i = 1; i < N; i++) {
  const next = tf.argMax(logits, 1) as tf.Tensor1D;
  logits.dispose();
  logits = decoder.step(next);
  next.dispose();
}
tf.dispose([logits, prompt]);
decoder.dispose();
console.log(`decode ${B} x ${N} image tokens (greedy, key/value cache): ${Date.now() - decodeWall0} ms wall`);
