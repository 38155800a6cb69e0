// A contrastive training run on captioned images: loads the source once into memory (8-bit), draws
// shuffled batches with a random caption per image, steps AdamW, logs to log.jsonl, writes
// checkpoints (model, optimizer, sampler and RNG state, tokenizer) every N steps and on stop, and
// resumes from the latest checkpoint exactly.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { AdamW, decodeSafetensors, encodeSafetensors, Progress, Rng, UsageError, writeFileAtomic, yieldToEventLoop, type RngState } from '@dalle/core';
import { EpochSampler, encodeText, loadTextTokenizer, openImageSource, type SamplerState, type TextTokenizer } from '@dalle/data';
import { resolveClipConfig, type ClipConfig } from './config.ts';
import { exportTransformersJs, TOKENIZER_FILES } from './export.ts';
import { ClipModel, loadClip, saveClip } from './model.ts';
import { countParams } from './params.ts';
import { ADAMW_DEFAULTS, clipTrainStep, learningRateAt, type StepResult } from './trainer.ts';

export interface ClipTrainOptions {
  /** Captioned images (a spec openImageSource reads). */
  data: string;
  /** Folder with tokenizer.json + tokenizer_config.json. */
  tokenizerDir: string;
  /** Run folder: checkpoints/step-N/, final/, log.jsonl. */
  outDir: string;
  /** Model config (textVocabSize is taken from the tokenizer). Ignored on resume: the checkpoint's config is used. */
  config: Partial<ClipConfig>;
  steps: number;
  batchSize: number;
  learningRate: number;
  warmupSteps: number;
  weightDecay: number;
  checkpointEvery: number;
  logEvery: number;
  seed: number;
  resume: boolean;
  /** At most this many images are loaded. */
  limit?: number;
  /** Warm start: a CLIP model folder (saveClip layout: a run's final/ or checkpoints/step-N/). Its config is used; ignored on resume. */
  init?: string;
  /** Augmentation: each training image is shifted by up to this many pixels in x and y (edges replicated). 0: off. */
  shift?: number;
  fit?: 'cover' | 'contain' | 'fill';
  /** Also write the transformers.js folder here at the end. */
  exportDir?: string;
  /** Aborting stops after the current step and writes a checkpoint. */
  signal?: AbortSignal;
  quiet?: boolean;
  log?: (line: string) => void;
  /** Called after every step (e.g. to watch metrics or abort at a given step). */
  onStep?: (step: number, result: StepResult) => void;
}

export interface ClipTrainResult {
  step: number;
  stopped: boolean;
  last?: StepResult;
  finalDir: string;
  checkpointDir: string;
}

interface Example {
  pixels: Uint8Array; // HWC bytes
  captions: Int32Array[]; // padded ids, one per caption
}

interface TrainState {
  step: number;
  sampler: SamplerState;
  captionRng: RngState;
  tokenizerIdentity: string;
  dataSize: number;
  /** Present when the run augments (shift > 0). */
  augmentRng?: RngState;
}

const OPTIMIZER_FILE = 'optimizer.safetensors';
const STATE_FILE = 'train-state.json';
const KEEP_CHECKPOINTS = 3;

async function loadExamples(opts: ClipTrainOptions, cfg: ClipConfig, tok: TextTokenizer, log: (l: string) => void): Promise<Example[]> {
  const source = openImageSource(opts.data, { imageSize: cfg.imageSize, fit: opts.fit, limit: opts.limit });
  const examples: Example[] = [];
  let truncated = 0;
  for await (const item of source) {
    const pixels = new Uint8Array(item.image.length);
    for (let i = 0; i < pixels.length; i++) pixels[i] = Math.round(Math.min(1, Math.max(0, item.image[i])) * 255);
    const captions = item.captions.map((c) => {
      const e = encodeText(tok, c, cfg.textSeqLen);
      if (e.truncated) truncated++;
      return e.ids;
    });
    examples.push({ pixels, captions });
  }
  const s = source.stats;
  log(`data: ${examples.length} images from ${opts.data} (${s.skipped} skipped${s.skipped ? `: ${JSON.stringify(s.skippedReasons)}` : ''}); ${truncated} captions truncated to ${cfg.textSeqLen} tokens`);
  if (examples.length < 2) throw new UsageError(`contrastive training needs at least 2 images, ${opts.data} gave ${examples.length}`);
  return examples;
}

/**
 * Writes the HWC RGB bytes `src` (size x size) shifted by (dx, dy) pixels into `out` at `offset`,
 * scaled to [0, 1]: out(y, x) = src(clamp(y - dy), clamp(x - dx)), so the edges are replicated.
 */
export function shiftImageInto(src: Uint8Array, size: number, dx: number, dy: number, out: Float32Array, offset: number): void {
  if (src.length !== size * size * 3) throw new Error(`shiftImageInto: expected ${size}x${size}x3 bytes, got ${src.length}`);
  for (let y = 0; y < size; y++) {
    const sy = Math.min(size - 1, Math.max(0, y - dy));
    for (let x = 0; x < size; x++) {
      const sx = Math.min(size - 1, Math.max(0, x - dx));
      const from = (sy * size + sx) * 3;
      const to = offset + (y * size + x) * 3;
      out[to] = src[from] / 255;
      out[to + 1] = src[from + 1] / 255;
      out[to + 2] = src[from + 2] / 255;
    }
  }
}

/** The latest checkpoints/step-N folder of a run, if any. */
export async function latestCheckpoint(outDir: string): Promise<string | undefined> {
  const dir = path.join(outDir, 'checkpoints');
  if (!existsSync(dir)) return undefined;
  const steps = (await fsp.readdir(dir)).map((n) => /^step-(\d+)$/.exec(n)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1]));
  return steps.length ? path.join(dir, `step-${Math.max(...steps)}`) : undefined;
}

export async function trainClipRun(opts: ClipTrainOptions): Promise<ClipTrainResult> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const tok = await loadTextTokenizer(opts.tokenizerDir);
  const tokenizerFiles: Record<string, Uint8Array> = {};
  for (const f of TOKENIZER_FILES) tokenizerFiles[f] = await fsp.readFile(path.join(opts.tokenizerDir, f));

  let model: ClipModel;
  let optimizer: AdamW;
  let state: TrainState | undefined;
  const resumeFrom = opts.resume ? await latestCheckpoint(opts.outDir) : undefined;
  if (opts.resume && !resumeFrom) throw new UsageError(`--resume: no checkpoints/step-N folder in ${opts.outDir}`);
  if (resumeFrom) {
    model = await loadClip(resumeFrom);
    state = JSON.parse(await fsp.readFile(path.join(resumeFrom, STATE_FILE), 'utf8')) as TrainState;
    if (state.tokenizerIdentity !== tok.identity) throw new UsageError(`${resumeFrom} was trained with tokenizer ${state.tokenizerIdentity.slice(0, 12)}, but --tokenizer ${opts.tokenizerDir} is ${tok.identity.slice(0, 12)}`);
    optimizer = new AdamW(model.variables(), { ...ADAMW_DEFAULTS, weightDecay: opts.weightDecay });
    const { tensors } = decodeSafetensors(await fsp.readFile(path.join(resumeFrom, OPTIMIZER_FILE)), path.join(resumeFrom, OPTIMIZER_FILE));
    optimizer.loadState({ step: state.step, tensors }, path.join(resumeFrom, OPTIMIZER_FILE));
    log(`resumed from ${resumeFrom} at step ${state.step}`);
  } else if (opts.init) {
    model = await loadClip(opts.init);
    const initTokenizer = path.join(opts.init, 'tokenizer.json');
    const same = existsSync(initTokenizer) && Buffer.from(tokenizerFiles['tokenizer.json']).equals(await fsp.readFile(initTokenizer));
    if (!same || model.config.textVocabSize !== tok.vocabSize) {
      model.dispose();
      throw new UsageError(`--init ${opts.init} was trained with another tokenizer than --tokenizer ${opts.tokenizerDir} (its tokenizer.json differs or is missing); warm-start with the tokenizer it was trained with`);
    }
    optimizer = new AdamW(model.variables(), { ...ADAMW_DEFAULTS, weightDecay: opts.weightDecay });
    log(`warm start from ${opts.init}`);
  } else {
    const cfg = resolveClipConfig({ ...opts.config, textVocabSize: tok.vocabSize, padId: tok.padId });
    model = new ClipModel(cfg, opts.seed);
    optimizer = new AdamW(model.variables(), { ...ADAMW_DEFAULTS, weightDecay: opts.weightDecay });
  }
  const cfg = model.config;
  log(`clip config: ${JSON.stringify(cfg)}`);
  log(`parameters: ${countParams(model.params)}`);

  try {
    const examples = await loadExamples(opts, cfg, tok, log);
    if (state && state.dataSize !== examples.length) throw new UsageError(`the checkpoint was trained on ${state.dataSize} images but ${opts.data} now gives ${examples.length}; resume needs the same data`);
    const sampler = new EpochSampler(examples.length, state?.sampler ?? { seed: opts.seed });
    const captionRng = new Rng(state?.captionRng ?? opts.seed + 1);
    const shift = opts.shift ?? 0;
    if (!Number.isInteger(shift) || shift < 0) throw new UsageError(`shift must be a whole number of pixels >= 0, got ${shift}`);
    const augmentRng = shift > 0 ? new Rng(state?.augmentRng ?? opts.seed + 2) : undefined;
    const batchSize = Math.min(opts.batchSize, examples.length);
    let step = state?.step ?? 0;
    const S = cfg.imageSize;

    const saveCheckpoint = async (): Promise<string> => {
      const dir = path.join(opts.outDir, 'checkpoints', `step-${step}`);
      const trainState: TrainState = { step, sampler: sampler.state(), captionRng: captionRng.state(), tokenizerIdentity: tok.identity, dataSize: examples.length, augmentRng: augmentRng?.state() };
      const optState = optimizer.state();
      await saveClip(model, dir, {
        info: { step, data: opts.data },
        extraFiles: { ...tokenizerFiles, [OPTIMIZER_FILE]: encodeSafetensors(optState.tensors), [STATE_FILE]: JSON.stringify(trainState, null, 2) + '\n' },
      });
      const all = (await fsp.readdir(path.join(opts.outDir, 'checkpoints'))).map((n) => /^step-(\d+)$/.exec(n)).filter((m): m is RegExpExecArray => m !== null);
      const old = all.map((m) => Number(m[1])).sort((a, b) => b - a).slice(KEEP_CHECKPOINTS);
      for (const s of old) await fsp.rm(path.join(opts.outDir, 'checkpoints', `step-${s}`), { recursive: true, force: true });
      return dir;
    };

    const progress = new Progress({ total: opts.steps, label: 'clip-train', unit: 'step', quiet: opts.quiet });
    progress.set(step);
    let last: StepResult | undefined;
    let checkpointDir = resumeFrom ?? '';
    let stopped = false;
    const logFile = path.join(opts.outDir, 'log.jsonl');
    await fsp.mkdir(opts.outDir, { recursive: true });
    while (step < opts.steps) {
      await yieldToEventLoop(); // lets a Ctrl-C handler run now, not at the next log write
      if (opts.signal?.aborted) {
        stopped = true;
        break;
      }
      const indices = sampler.next(batchSize);
      const pixels = new Float32Array(indices.length * S * S * 3);
      const ids = new Int32Array(indices.length * cfg.textSeqLen);
      indices.forEach((ex, b) => {
        const e = examples[ex];
        if (augmentRng) {
          const dx = augmentRng.int(2 * shift + 1) - shift;
          const dy = augmentRng.int(2 * shift + 1) - shift;
          shiftImageInto(e.pixels, S, dx, dy, pixels, b * e.pixels.length);
        } else {
          for (let i = 0; i < e.pixels.length; i++) pixels[b * e.pixels.length + i] = e.pixels[i] / 255;
        }
        ids.set(e.captions[captionRng.int(e.captions.length)], b * cfg.textSeqLen);
      });
      const images = tf.tensor4d(pixels, [indices.length, S, S, 3]);
      const idsT = tf.tensor2d(ids, [indices.length, cfg.textSeqLen], 'int32');
      const lr = learningRateAt(step, opts.learningRate, opts.warmupSteps, opts.steps);
      try {
        last = await clipTrainStep(model, optimizer, images, idsT, lr);
      } finally {
        tf.dispose([images, idsT]);
      }
      step++;
      if (!Number.isFinite(last.loss)) throw new Error(`loss became ${last.loss} at step ${step}; try a lower --lr`);
      progress.tick(1, { loss: last.loss, acc: last.accuracy, scale: last.logitScale });
      opts.onStep?.(step, last);
      if (step % opts.logEvery === 0 || step === opts.steps) {
        await fsp.appendFile(logFile, JSON.stringify({ step, lr, ...last, time: new Date().toISOString() }) + '\n');
      }
      if (opts.checkpointEvery > 0 && step % opts.checkpointEvery === 0) checkpointDir = await saveCheckpoint();
    }
    progress.finish();
    if (stopped || checkpointDir !== path.join(opts.outDir, 'checkpoints', `step-${step}`)) checkpointDir = await saveCheckpoint();
    const finalDir = path.join(opts.outDir, 'final');
    if (!stopped) {
      await saveClip(model, finalDir, { info: { step, data: opts.data, loss: last?.loss, accuracy: last?.accuracy }, extraFiles: tokenizerFiles });
      if (opts.exportDir) {
        await exportTransformersJs(model, opts.tokenizerDir, opts.exportDir, { step, data: opts.data });
        log(`exported the transformers.js folder to ${opts.exportDir}`);
      }
    }
    await writeFileAtomic(path.join(opts.outDir, 'train-options.json'), JSON.stringify({ ...opts, signal: undefined, log: undefined, onStep: undefined }, null, 2) + '\n');
    return { step, stopped, last, finalDir, checkpointDir };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}
