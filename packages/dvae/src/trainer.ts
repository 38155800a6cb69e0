// The dVAE training loop: data order, schedules, checkpoints (model, Adam state, RNG state,
// data cursor, settings) written atomically, exact resume, validation with hard codes, sample
// sheets and log.jsonl. Everything random comes from one seeded Rng whose state is saved.
import * as tf from '@tensorflow/tfjs-core';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { AdamW, contactSheet, decodeSafetensors, encodeSafetensors, Rng, UsageError, writeFileAtomic, yieldToEventLoop, type RngState } from '@dalle/core';
import { resolveDvaeConfig, sameEncoder, type DvaeConfig } from './config.ts';
import { Dvae } from './dvae.ts';
import { checkDvaeConfigMatch, dvaeCodesId, loadDvae, saveDvae } from './io.ts';
import { psnr } from './loss.ts';
import { DVAE_ADAM, klWeightAt, learningRateAt, resolveDvaeTrainConfig, temperatureAt, type DvaeTrainConfig } from './train-config.ts';
import { initDvaeParams, type DvaeParams } from './params.ts';
import { trainableParams, trainStep, type StepMetrics } from './train-step.ts';

/** Training images: HWC RGB of imageSize^2 * 3 values, bytes (0..255) or floats in [0, 1]. */
export type TrainImages = readonly (Uint8Array | Float32Array)[];

/** Where the next batch comes from: epoch e visits the images in a permutation seeded by epochSeed. */
export interface DataCursor {
  epoch: number;
  /** Position inside the current epoch's permutation. */
  index: number;
  epochSeed: number;
}

/** trainer-state.json of a checkpoint: everything besides weights needed to continue exactly. */
export interface TrainerState {
  step: number;
  train: DvaeTrainConfig;
  rng: RngState;
  cursor: DataCursor;
  imagesSeen: number;
  /** Number of training images; the data order is only reproducible over the same set. */
  dataSize?: number;
}

export interface StepLog extends StepMetrics {
  step: number;
  lr: number;
  temperature: number;
  klWeight: number;
}

export interface ValLog {
  step: number;
  /** PSNR (dB) of decode(encode(x)) with hard codes, the tokenizer's real quality. */
  psnr: number;
  /** Distinct codes used over the validation images, and exp(entropy) of their histogram. */
  codesUsed: number;
  perplexity: number;
}

export interface TrainDvaeArgs {
  images: TrainImages;
  val?: TrainImages;
  /** Model config of a new run (ignored on resume, except that it must match the checkpoint). */
  config?: Partial<DvaeConfig>;
  /** Start from these weights instead of a fresh init (a new run only). */
  init?: Dvae;
  train?: Partial<DvaeTrainConfig>;
  /** runs/<name>: checkpoints/, samples/, log.jsonl. Without it nothing is written. */
  runDir?: string;
  /** Continue from the latest checkpoint in runDir with its saved settings, RNG and data cursor. */
  resume?: boolean;
  /** When aborted, the loop stops after the current step, writes a checkpoint and returns. */
  signal?: AbortSignal;
  onStep?: (log: StepLog) => void;
  onVal?: (log: ValLog) => void;
  /** Called once before the first step (e.g. to size a progress bar after a resume). */
  onStart?: (state: { step: number; train: DvaeTrainConfig; config: DvaeConfig }) => void;
}

export interface TrainDvaeResult {
  dvae: Dvae;
  step: number;
  /** True when the run stopped early on the abort signal. */
  interrupted: boolean;
  history: StepLog[];
  val?: ValLog;
  lastCheckpoint?: string;
}

export const CHECKPOINTS_DIR = 'checkpoints';
export const TRAINER_STATE_FILE = 'trainer-state.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const LOG_FILE = 'log.jsonl';

/** The newest checkpoint folder of a run, or undefined. */
export async function latestCheckpoint(runDir: string): Promise<string | undefined> {
  const steps = await checkpointSteps(runDir);
  return steps.length ? path.join(runDir, CHECKPOINTS_DIR, `step-${steps[steps.length - 1]}`) : undefined;
}

async function checkpointSteps(runDir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await fsp.readdir(path.join(runDir, CHECKPOINTS_DIR));
  } catch {
    return [];
  }
  return names
    .map((n) => /^step-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

function permutation(n: number, seed: number): number[] {
  return new Rng(seed).shuffle(Array.from({ length: n }, (_, i) => i));
}

/** Packs images (bytes or floats) into a [B, S, S, 3] float tensor in [0, 1]. */
export function batchTensor(images: readonly (Uint8Array | Float32Array)[], size: number): tf.Tensor4D {
  const n = size * size * 3;
  const out = new Float32Array(images.length * n);
  images.forEach((img, b) => {
    if (img.length !== n) throw new UsageError(`image ${b} has ${img.length} values, expected ${size}x${size}x3 = ${n}`);
    if (img instanceof Uint8Array) for (let i = 0; i < n; i++) out[b * n + i] = img[i] / 255;
    else out.set(img, b * n);
  });
  return tf.tensor4d(out, [images.length, size, size, 3]);
}

/** Hard-code reconstruction quality over `images` (batched, no gradients). */
export async function evaluateDvae(dvae: Dvae, images: TrainImages, batchSize = 32): Promise<Omit<ValLog, 'step'>> {
  const counts = new Float64Array(dvae.codebookSize);
  let sqErr = 0;
  let values = 0;
  for (let i = 0; i < images.length; i += batchSize) {
    const x = batchTensor(images.slice(i, i + batchSize), dvae.imageSize);
    const codes = dvae.encode(x);
    const y = dvae.decode(codes);
    const mse = tf.tidy(() => tf.sum(tf.squaredDifference(x, y)));
    try {
      for (const c of await codes.data()) counts[c]++;
      sqErr += (await mse.data())[0];
      values += x.size;
    } finally {
      tf.dispose([x, codes, y, mse]);
    }
  }
  const total = counts.reduce((a, b) => a + b, 0);
  let entropy = 0;
  let used = 0;
  for (const c of counts) {
    if (c > 0) {
      used++;
      entropy -= (c / total) * Math.log(c / total);
    }
  }
  const m = Math.max(sqErr / Math.max(1, values), 1e-10);
  return { psnr: -10 * Math.log10(m), codesUsed: used, perplexity: Math.exp(entropy) };
}

/** PNG bytes: inputs in the top row, their hard-code reconstructions below. */
export async function reconstructionSheet(dvae: Dvae, images: TrainImages, count = 8): Promise<Buffer> {
  const picked = images.slice(0, count);
  const x = batchTensor(picked, dvae.imageSize);
  const codes = dvae.encode(x);
  const y = dvae.decode(codes);
  try {
    const S = dvae.imageSize;
    const n = S * S * 3;
    const xs = (await x.data()) as Float32Array;
    const ys = (await y.data()) as Float32Array;
    const tiles: Float32Array[] = [];
    for (let b = 0; b < picked.length; b++) tiles.push(xs.slice(b * n, (b + 1) * n));
    for (let b = 0; b < picked.length; b++) tiles.push(ys.slice(b * n, (b + 1) * n));
    return await contactSheet(tiles, S, { cols: picked.length, scale: S < 64 ? 4 : 2 });
  } finally {
    tf.dispose([x, codes, y]);
  }
}

async function saveCheckpoint(runDir: string, dvae: Dvae, adam: AdamW, state: TrainerState, keep: number): Promise<string> {
  const dir = path.join(runDir, CHECKPOINTS_DIR, `step-${state.step}`);
  const opt = adam.state();
  await saveDvae(dir, dvae, { step: state.step, imagesSeen: state.imagesSeen }, {
    extraFiles: {
      [OPTIMIZER_FILE]: encodeSafetensors(opt.tensors, { metadata: { step: String(opt.step) } }),
      [TRAINER_STATE_FILE]: JSON.stringify({ ...state, adamStep: opt.step }, null, 2) + '\n',
    },
  });
  const steps = await checkpointSteps(runDir);
  for (const s of steps.slice(0, Math.max(0, steps.length - keep))) {
    await fsp.rm(path.join(runDir, CHECKPOINTS_DIR, `step-${s}`), { recursive: true, force: true });
  }
  return dir;
}

/** Keeps only log lines up to `step` (a resumed run rewrites what followed its checkpoint). */
async function truncateLog(file: string, step: number): Promise<void> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    return;
  }
  const kept = text.split('\n').filter((line) => {
    if (!line.trim()) return false;
    try {
      return (JSON.parse(line) as { step?: number }).step! <= step;
    } catch {
      return false;
    }
  });
  await writeFileAtomic(file, kept.map((l) => l + '\n').join(''));
}

/**
 * Trains a dVAE. A new run starts from `config` (or `init`) and `train`; with `resume` it
 * continues from runDir's latest checkpoint with the saved settings, so the losses match an
 * uninterrupted run step for step. Returns the model (the caller disposes it).
 */
export async function trainDvae(args: TrainDvaeArgs): Promise<TrainDvaeResult> {
  if (args.images.length === 0) throw new UsageError('no training images');
  let dvae: Dvae;
  let state: TrainerState;
  let adam: AdamW;
  if (args.resume) {
    if (!args.runDir) throw new UsageError('resume needs a run folder');
    const ckpt = await latestCheckpoint(args.runDir);
    if (!ckpt) throw new UsageError(`${args.runDir} has no checkpoints to resume from`);
    dvae = await loadDvae(ckpt);
    if (args.config) checkDvaeConfigMatch(dvae.config, args.config, ckpt);
    const saved = JSON.parse(await fsp.readFile(path.join(ckpt, TRAINER_STATE_FILE), 'utf8')) as TrainerState & { adamStep: number };
    state = { step: saved.step, train: resolveDvaeTrainConfig(saved.train), rng: saved.rng, cursor: saved.cursor, imagesSeen: saved.imagesSeen, dataSize: saved.dataSize };
    if (saved.dataSize !== undefined && saved.dataSize !== args.images.length) {
      dvae.dispose();
      throw new UsageError(`${ckpt} was trained on ${saved.dataSize} images but ${args.images.length} were given: resume needs the same training data (and --limit)`);
    }
    adam = new AdamW(trainableParams(dvae, state.train.decoderOnly), DVAE_ADAM);
    const { tensors } = decodeSafetensors(await fsp.readFile(path.join(ckpt, OPTIMIZER_FILE)), path.join(ckpt, OPTIMIZER_FILE));
    adam.loadState({ step: saved.adamStep, tensors }, ckpt);
    await truncateLog(path.join(args.runDir, LOG_FILE), state.step);
  } else {
    const train = resolveDvaeTrainConfig(args.train);
    if (args.init) {
      const cfg = resolveDvaeConfig({ ...args.init.config, ...args.config });
      if (!train.decoderOnly) checkDvaeConfigMatch(args.init.config, cfg, 'the --init model');
      else if (!sameEncoder(args.init.config, cfg)) throw new UsageError('a decoder-only fine-tune may change only the decoder (decoderHiddenChannels, decoderResBlocks); the --init model has another encoder config');
      // A decoder-only fine-tune keeps the init model's codes, and says so.
      const codesFrom = train.decoderOnly ? dvaeCodesId(args.init) : undefined;
      dvae = new Dvae(cfg, warmStartParams(args.init, cfg, train.seed), { codesFrom });
    } else {
      if (train.decoderOnly) throw new UsageError('decoderOnly trains the decoder on the codes of a trained encoder: start from one (--init)');
      dvae = Dvae.create(resolveDvaeConfig(args.config), train.seed);
    }
    const rng = new Rng(train.seed);
    state = { step: 0, train, rng: rng.state(), cursor: { epoch: 0, index: 0, epochSeed: rng.nextUint32() }, imagesSeen: 0, dataSize: args.images.length };
    state.rng = rng.state();
    adam = new AdamW(trainableParams(dvae, train.decoderOnly), DVAE_ADAM);
    if (args.runDir) {
      const existing = await latestCheckpoint(args.runDir);
      if (existing) throw new UsageError(`${args.runDir} already holds a run (${existing}); resume it or choose another --out`);
      await fsp.mkdir(args.runDir, { recursive: true });
      await fsp.rm(path.join(args.runDir, LOG_FILE), { force: true });
    }
  }
  const cfg = dvae.config;
  const train = state.train;
  for (const [i, img] of args.images.entries()) {
    if (img.length !== cfg.imageSize * cfg.imageSize * 3) throw new UsageError(`training image ${i} has ${img.length} values, expected ${cfg.imageSize}x${cfg.imageSize}x3`);
  }
  args.onStart?.({ step: state.step, train, config: cfg });

  const rng = new Rng(state.rng);
  let order = permutation(args.images.length, state.cursor.epochSeed);
  const nextBatch = (): (Uint8Array | Float32Array)[] => {
    const batch: (Uint8Array | Float32Array)[] = [];
    while (batch.length < train.batchSize) {
      if (state.cursor.index >= order.length) {
        state.cursor = { epoch: state.cursor.epoch + 1, index: 0, epochSeed: rng.nextUint32() };
        order = permutation(args.images.length, state.cursor.epochSeed);
      }
      batch.push(args.images[order[state.cursor.index++]]);
    }
    return batch;
  };
  const logLine = async (entry: Record<string, unknown>) => {
    if (args.runDir) await fsp.appendFile(path.join(args.runDir, LOG_FILE), JSON.stringify(entry) + '\n');
  };
  const sampleImages = args.val && args.val.length > 0 ? args.val : args.images;
  const validate = async (): Promise<ValLog> => {
    const v = { step: state.step, ...(await evaluateDvae(dvae, sampleImages)) };
    args.onVal?.(v);
    await logLine({ type: 'val', ...v, on: args.val?.length ? 'val' : 'train' });
    if (args.runDir) await writeFileAtomic(path.join(args.runDir, 'samples', `step-${state.step}.png`), await reconstructionSheet(dvae, sampleImages));
    return v;
  };
  const checkpoint = async (): Promise<string | undefined> => {
    if (!args.runDir) return undefined;
    state.rng = rng.state();
    return saveCheckpoint(args.runDir, dvae, adam, state, train.keepCheckpoints);
  };

  const history: StepLog[] = [];
  let interrupted = false;
  let lastCheckpoint: string | undefined;
  let lastVal: ValLog | undefined;
  try {
    while (state.step < train.steps) {
      await yieldToEventLoop(); // lets a Ctrl-C handler run now, not at the next log write
      if (args.signal?.aborted) {
        interrupted = true;
        break;
      }
      const s = state.step;
      const settings = { lr: learningRateAt(train, s), temperature: temperatureAt(train, s), klWeight: klWeightAt(train, s), hard: train.hard, noiseSeed: rng.nextUint32(), decoderOnly: train.decoderOnly };
      const x = batchTensor(nextBatch(), cfg.imageSize);
      let metrics: StepMetrics;
      try {
        metrics = await trainStep(dvae, adam, x, settings);
      } finally {
        x.dispose();
      }
      if (!Number.isFinite(metrics.loss)) throw new Error(`loss became ${metrics.loss} at step ${s + 1}; lower --lr`);
      state.step++;
      state.imagesSeen += train.batchSize;
      const log: StepLog = { step: state.step, ...metrics, lr: settings.lr, temperature: settings.temperature, klWeight: settings.klWeight };
      history.push(log);
      args.onStep?.(log);
      if (state.step % train.logEvery === 0 || state.step === train.steps) await logLine({ type: 'train', ...log });
      if (train.valEvery > 0 && state.step % train.valEvery === 0 && state.step < train.steps) lastVal = await validate();
      if (train.checkpointEvery > 0 && state.step % train.checkpointEvery === 0 && state.step < train.steps) lastCheckpoint = await checkpoint();
    }
    if (interrupted) {
      lastCheckpoint = await checkpoint();
    } else {
      lastVal = await validate();
      lastCheckpoint = await checkpoint();
    }
  } catch (err) {
    adam.dispose();
    dvae.dispose();
    throw err;
  }
  adam.dispose();
  return { dvae, step: state.step, interrupted, history, val: lastVal, lastCheckpoint };
}

/**
 * Weights for `cfg` starting from `init`: each tensor whose key and shape `init` has is copied,
 * the others (a decoder of another width or depth) are fresh from `seed`.
 */
function warmStartParams(init: Dvae, cfg: DvaeConfig, seed: number): DvaeParams {
  const params = initDvaeParams(cfg, seed);
  for (const [key, v] of Object.entries(params)) {
    const from = init.params[key];
    if (from && tf.util.arraysEqual(from.shape, v.shape)) v.assign(from);
  }
  return params;
}

/** PSNR of two image batches, as a number (for tests and reports). */
export async function psnrOf(a: tf.Tensor4D, b: tf.Tensor4D): Promise<number> {
  const t = tf.tidy(() => psnr(a, b));
  try {
    return (await t.data())[0];
  } finally {
    t.dispose();
  }
}
