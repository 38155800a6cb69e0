// `pnpm bench sample [--weights DIR] [--runs N] [--prompt TEXT]`: wall time of dalle-sample's default
// work (-n 8 from the default number of candidates, dVAE decode, CLIP rerank, PNG encoding) on the
// active backend, with each phase timed separately, and the process CPU time (a steadier figure
// than wall time on a machine that other jobs share). Model loading is timed apart. --profile adds
// the kernels of one decoding step halfway through the image, for the default batch of rows
// (tf.profile; kernel wall times, so run it on a quiet machine).
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { printKernelTable } from './profile.ts';
import { selectBackend } from '@dalle/core';
import { generate, loadPipeline, SAMPLER_DEFAULTS } from '@dalle/sampler';

const { values } = parseArgs({ options: { weights: { type: 'string' }, runs: { type: 'string', default: '2' }, prompt: { type: 'string', default: 'an avocado' }, profile: { type: 'boolean', default: false } } });
const info = await selectBackend(undefined);
const t0 = performance.now();
const pipeline = await loadPipeline(values.weights);
const loadMs = performance.now() - t0;
console.log(`backend ${info.name}; prompt "${values.prompt}"; n ${SAMPLER_DEFAULTS.n} of ${SAMPLER_DEFAULTS.numCandidates} candidates; load ${(loadMs / 1000).toFixed(2)} s`);
for (let r = 0; r < Number(values.runs); r++) {
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  const result = await generate(values.prompt!, { pipeline, seed: r });
  const total = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  const t = result.timings;
  const s = (ms: number) => (ms / 1000).toFixed(2);
  console.log(`run ${r + 1}: ${s(total)} s total = sample ${s(t.sampleMs)} + decode ${s(t.decodeMs)} + rerank ${s(t.rerankMs)} + png ${s(t.pngMs)} (+ other ${s(total - t.sampleMs - t.decodeMs - t.rerankMs - t.pngMs - t.primeMs)}); process CPU ${s((cpu.user + cpu.system) / 1000)} s`);
}
if (values.profile) {
  // Guided sampling decodes 2 rows per candidate: the prompt's and the empty caption's.
  const rows = 2 * SAMPLER_DEFAULTS.numCandidates;
  const decoder = pipeline.prior.createDecoder(rows);
  const text = pipeline.promptEncoder.encode(values.prompt!).ids;
  const ids = new Int32Array(rows * text.length);
  for (let r = 0; r < rows / 2; r++) ids.set(text, r * text.length);
  for (let r = rows / 2; r < rows; r++) ids.fill(pipeline.promptEncoder.padId, r * text.length, (r + 1) * text.length);
  const textIds = tf.tensor2d(ids, [rows, text.length], 'int32');
  tf.dispose(decoder.prefill(textIds));
  const codes = tf.tensor1d(new Int32Array(rows).map((_, i) => (7 * i) % pipeline.prior.codebookSize), 'int32');
  const half = pipeline.prior.imageSeqLen / 2;
  const stepStart = performance.now();
  for (let i = 0; i < half; i++) tf.dispose(decoder.step(codes));
  const stepMs = (performance.now() - stepStart) / half;
  const profile = await tf.profile(() => {
    const logits = decoder.step(codes);
    logits.dataSync();
    return logits;
  });
  printKernelTable((total) => `decoding step ${half + 1} of ${rows} rows: ${stepMs.toFixed(1)} ms per step over the first ${half} steps; profiled step: ${total.toFixed(1)} ms of kernel time`, profile.kernels, 20);
  tf.dispose([textIds, codes]);
  decoder.dispose();
}
await pipeline.dispose();
