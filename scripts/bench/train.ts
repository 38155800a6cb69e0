// `pnpm bench train [--steps N] [--batch B] [--workers W]`: training throughput of the emoji-64 configuration on
// the active backend (DALLE_BACKEND picks it). Transformer: tokens/s, ms/step and model GFLOP/s
// (6 x non-embedding parameters x tokens/s); dVAE: images/s of a training step. Random tokens and
// images: the figures depend on shapes only. Wall and process-CPU figures are both printed, since
// CPU time is the fairer figure on a shared machine. --profile adds, per model, the kernels of one
// step by time (tf.profile; kernel wall times, so run it on a quiet machine). --workers W trains the
// transformer data-parallel, W ways (this thread + W - 1 worker threads, as dalle-train --workers).
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { printKernelTable } from './profile.ts';
import { Rng, selectBackend } from '@dalle/core';
import { Adam, Dvae, dvaePreset, trainStep } from '@dalle/dvae';
import { GradientWorkers, TransformerTrainer, countParams, createEpochOrder, createTransformer, imageSeqLen, paramSpecs, resolveTrainConfig, tokensPerSequence, transformerPreset, type TokenBatchSource } from '@dalle/transformer';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '3' }, batch: { type: 'string', default: '16' }, only: { type: 'string' }, profile: { type: 'boolean', default: false }, workers: { type: 'string', default: '1' } } });
const ways = Number(values.workers);
const steps = Number(values.steps);
const B = Number(values.batch);
const info = await selectBackend(undefined);
console.log(`backend ${info.name}; batch ${B}; ${steps} timed steps after one warm-up step`);

/** Kernel time of one call of `run`, by kernel name, largest first (op-level wrappers left out). */
async function printProfile(what: string, run: () => unknown): Promise<void> {
  const info = await tf.profile(async () => {
    await run();
    return tf.scalar(0);
  });
  printKernelTable((total) => `  ${what}: one step's kernels, ${total.toFixed(0)} ms in all`, info.kernels, 16, '    ');
}

function timed(run: () => void | Promise<void>): Promise<{ wallMs: number; cpuMs: number }> {
  return (async () => {
    const wall0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < steps; i++) await run();
    const cpu = process.cpuUsage(cpu0);
    return { wallMs: (performance.now() - wall0) / steps, cpuMs: (cpu.user + cpu.system) / 1000 / steps };
  })();
}

if (!values.only || values.only === 'transformer') {
  const cfg = transformerPreset('emoji-64');
  const T = cfg.textSeqLen;
  const N = imageSeqLen(cfg);
  const rng = new Rng(1);
  const size = 4 * B;
  const text = Int32Array.from({ length: size * T }, () => rng.int(cfg.textVocabSize));
  const codes = Int32Array.from({ length: size * N }, () => rng.int(cfg.imageVocabSize));
  const source: TokenBatchSource = {
    size,
    manifest: { textSeqLen: T, gridSize: cfg.gridSize, codebookSize: cfg.imageVocabSize, textVocabSize: cfg.textVocabSize, dvaeId: 'bench', tokenizerId: 'bench' },
    batch: (idx) => ({
      text: Int32Array.from(idx.flatMap((i) => Array.from(text.subarray(i * T, (i + 1) * T)))),
      codes: Int32Array.from(idx.flatMap((i) => Array.from(codes.subarray(i * N, (i + 1) * N)))),
    }),
  };
  const model = createTransformer(cfg, 1);
  const trainer = new TransformerTrainer(model, source, resolveTrainConfig({ batchSize: B }), createEpochOrder);
  const workers = ways > 1 ? await GradientWorkers.start(model, ways - 1) : undefined;
  trainer.useWorkers(workers);
  await trainer.trainStepAsync();
  const { wallMs, cpuMs } = await timed(() => trainer.trainStepAsync().then(() => undefined));
  if (values.profile) await printProfile('transformer', () => trainer.trainStepAsync());
  trainer.dispose();
  await workers?.dispose();
  const tokens = B * tokensPerSequence(cfg);
  const embedding = paramSpecs(cfg).filter((s) => s.key.startsWith('embed.') || s.key.startsWith('pos.')).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  const nonEmbedding = countParams(cfg) - embedding;
  const tps = (tokens / wallMs) * 1000;
  console.log(`transformer emoji-64 (d=${cfg.dModel}, ${cfg.numLayers} layers, ${cfg.numHeads} heads, ${tokens} tokens/step, ${(nonEmbedding / 1e6).toFixed(2)} M non-embedding parameters${ways > 1 ? `; data-parallel ${ways} ways` : ''})`);
  console.log(`  ${wallMs.toFixed(0)} ms/step wall, ${tps.toFixed(0)} tokens/s, ${((6 * nonEmbedding * tps) / 1e9).toFixed(1)} GFLOP/s of model math`);
  console.log(`  ${cpuMs.toFixed(0)} ms/step CPU, ${((tokens / cpuMs) * 1000).toFixed(0)} tokens per CPU-second`);
}

if (!values.only || values.only === 'dvae') {
  const dvae = Dvae.create(dvaePreset('emoji-64'), 1);
  const adam = new Adam(dvae.params);
  const size = dvae.config.imageSize;
  const images = tf.randomUniform([B, size, size, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
  const settings = { lr: 1e-3, temperature: 1, klWeight: 0, hard: false, noiseSeed: 3 };
  await trainStep(dvae, adam, images, settings);
  const { wallMs, cpuMs } = await timed(() => trainStep(dvae, adam, images, settings).then(() => undefined));
  console.log(`dVAE emoji-64 (${size}x${size}, hiddenChannels ${dvae.config.hiddenChannels}, K=${dvae.config.codebookSize})`);
  console.log(`  ${wallMs.toFixed(0)} ms/step wall, ${((B / wallMs) * 1000).toFixed(1)} images/s; ${cpuMs.toFixed(0)} ms/step CPU, ${((B / cpuMs) * 1000).toFixed(1)} images per CPU-second`);
  if (values.profile) await printProfile('dVAE', () => trainStep(dvae, adam, images, settings));
  images.dispose();
}
