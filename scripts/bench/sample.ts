// `pnpm bench sample [--weights DIR] [--runs N] [--prompt TEXT]`: wall time of dalle-sample's default
// work (-n 8 from the default number of candidates, dVAE decode, CLIP rerank, PNG encoding) on the
// active backend, with each phase timed separately, and the process CPU time (a steadier figure
// than wall time on a machine that other jobs share). Model loading is timed apart.
import { parseArgs } from 'node:util';
import { selectBackend } from '@dalle/core';
import { generate, loadPipeline, SAMPLER_DEFAULTS } from '@dalle/sampler';

const { values } = parseArgs({ options: { weights: { type: 'string' }, runs: { type: 'string', default: '2' }, prompt: { type: 'string', default: 'an avocado' } } });
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
await pipeline.dispose();
