// The training loop behind dalle-train: AdamW with warm-up + cosine decay, global-norm clipping,
// gradient accumulation, caption dropout, resumable data order and RNG, checkpoints and log.jsonl.
import * as tf from '@tensorflow/tfjs-core';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { AdamW, Rng, UsageError, decodeSafetensors, encodeSafetensors, ensureGradients, yieldToEventLoop, type NamedTensors, type RngState } from '@dalle/core';
import { transformerLayout } from './config.ts';
import { tokensPerSequence, type BatchOrder, type CreateOrder, type OrderState, type TokenBatchSource } from './dataset.ts';
import { evaluateLoss, type EvalLosses } from './evaluate.ts';
import { GradientWorkers, MAX_TRAIN_WORKERS, splitBatch } from './data-parallel.ts';
import { modelBatch, type ModelBatch } from './layout.ts';
import { paramSpecs } from './params.ts';
import { loadTransformer, saveTransformer } from './persistence.ts';
import { decays, learningRateAt, resolveTrainConfig, type TrainConfig } from './train-config.ts';
import { transformerLoss, type TransformerModel } from './transformer.ts';

/** Everything besides weights and moments that a resumed run needs to continue identically. */
export interface TrainerState {
  /** Optimizer steps completed. */
  step: number;
  /** Data order cursor. */
  order: OrderState;
  /** RNG of caption dropout and of the dropout masks' seeds. */
  rng: RngState;
}

export interface StepStats {
  step: number;
  loss: number;
  text: number;
  image: number;
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Tokens (text + image) this step trained on. */
  tokens: number;
  seconds: number;
}

/** Training stopped because the loss or gradients stopped being finite numbers. */
export class NonFiniteLossError extends UsageError {
  constructor(
    readonly step: number,
    what: string,
  ) {
    super(`${what} became non-finite at step ${step}; stopping without applying that update. Try a lower --lr, a smaller --clip-norm or resume from an earlier checkpoint`);
    this.name = 'NonFiniteLossError';
  }
}

export class TransformerTrainer {
  readonly optimizer: AdamW;
  private readonly order: BatchOrder;
  private readonly rng: Rng;
  private steps: number;
  private workers: GradientWorkers | undefined;

  constructor(
    readonly model: TransformerModel,
    readonly source: TokenBatchSource,
    readonly config: TrainConfig,
    createOrder: CreateOrder,
    resume?: { state: TrainerState; optimizerTensors: NamedTensors; optimizerStep: number },
  ) {
    const { beta1, beta2, epsilon, weightDecay } = config;
    this.optimizer = new AdamW(model.params, { beta1, beta2, epsilon, weightDecay }, decays);
    if (resume) {
      this.optimizer.loadState({ step: resume.optimizerStep, tensors: resume.optimizerTensors }, 'checkpoint optimizer state');
      this.order = createOrder(source.size, resume.state.order);
      this.rng = new Rng(resume.state.rng);
      this.steps = resume.state.step;
    } else {
      this.order = createOrder(source.size, { seed: config.seed });
      this.rng = new Rng(config.seed ^ 0x5eed);
      this.steps = 0;
    }
  }

  /** Optimizer steps completed. */
  get step(): number {
    return this.steps;
  }

  state(): TrainerState {
    return { step: this.steps, order: this.order.state(), rng: this.rng.state() };
  }

  /** Next micro-batch from the data order, with caption dropout applied and, when training with dropout, a mask seed per sequence. */
  private nextBatch(): ModelBatch {
    const cfg = this.model.config;
    const B = this.config.batchSize;
    const { text, codes } = this.source.batch(this.order.next(B));
    for (let b = 0; b < B; b++) {
      if (this.rng.next() < cfg.captionDropout) text.fill(cfg.textPadId, b * cfg.textSeqLen, (b + 1) * cfg.textSeqLen);
    }
    const batch = modelBatch(transformerLayout(cfg), text, codes, B);
    if (this.config.dropout > 0) batch.dropout = { rate: this.config.dropout, seeds: Int32Array.from({ length: B }, () => this.rng.nextUint32() | 0) };
    return batch;
  }

  /** Lets trainStepAsync() split each micro-batch between this thread and these workers (undefined: none). */
  useWorkers(workers: GradientWorkers | undefined): void {
    this.workers = workers;
    workers?.weightsChanged();
  }

  /** The loss parts and the gradient of every parameter (by key) on one batch or shard. */
  private localGradients(batch: ModelBatch): { loss: number; text: number; image: number; grads: Record<string, tf.Tensor> } {
    const params = this.model.params;
    const byName = new Map(Object.entries(params).map(([key, v]) => [v.name, key]));
    let parts: tf.Scalar[] = [];
    const { value, grads } = tf.variableGrads(() => {
      const l = transformerLoss(params, this.model.config, batch);
      parts = [tf.keep(l.text), tf.keep(l.image)];
      return l.loss;
    }, Object.values(params));
    const out = { loss: value.dataSync()[0], text: parts[0].dataSync()[0], image: parts[1].dataSync()[0], grads: {} as Record<string, tf.Tensor> };
    tf.dispose([value, ...parts]);
    for (const [name, g] of Object.entries(grads)) out.grads[byName.get(name)!] = g;
    return out;
  }

  /** One optimizer step over gradAccumSteps micro-batches, on this thread. */
  trainStep(): StepStats {
    if (this.workers) throw new Error('this trainer has gradient workers: call trainStepAsync()');
    const started = Date.now();
    ensureGradients(); // registered on first use: sampling-only commands skip their load time
    const A = this.config.gradAccumSteps;
    const sums: Record<string, tf.Tensor> = {};
    const losses = { loss: 0, text: 0, image: 0 };
    try {
      for (let a = 0; a < A; a++) {
        const g = this.localGradients(this.nextBatch());
        accumulate(sums, g.grads);
        losses.loss += g.loss / A;
        losses.text += g.text / A;
        losses.image += g.image / A;
      }
      return this.applyStep(sums, losses, started);
    } finally {
      tf.dispose(Object.values(sums));
    }
  }

  /**
   * One optimizer step; with workers (useWorkers) each micro-batch is split by sequence between
   * this thread and the workers, and the shard gradients are averaged by shard size: the same
   * update as trainStep() up to float rounding.
   */
  async trainStepAsync(): Promise<StepStats> {
    const workers = this.workers;
    if (!workers) return this.trainStep();
    const started = Date.now();
    ensureGradients();
    const A = this.config.gradAccumSteps;
    const specs = paramSpecs(this.model.config);
    const sums: Record<string, tf.Tensor> = {};
    const losses = { loss: 0, text: 0, image: 0 };
    try {
      for (let a = 0; a < A; a++) {
        const batch = this.nextBatch();
        const shards = splitBatch(batch, workers.size + 1);
        const remote = workers.gradients(shards.slice(1)); // the workers start now ...
        let local: ReturnType<TransformerTrainer['localGradients']>;
        try {
          local = this.localGradients(shards[0]); // ... while this thread does the first shard
        } catch (err) {
          await remote.catch(() => undefined);
          throw err;
        }
        try {
          const results = await remote;
          const weight = (s: number) => shards[s].batchSize / batch.batchSize;
          const acc = new Float32Array(results[0].grads.length);
          results.forEach((r, i) => {
            const w = weight(i + 1);
            for (let j = 0; j < acc.length; j++) acc[j] += w * r.grads[j];
          });
          let offset = 0;
          const mixed: Record<string, tf.Tensor> = {};
          for (const spec of specs) {
            const size = tf.util.sizeFromShape(spec.shape);
            mixed[spec.key] = tf.tidy(() => tf.add(tf.mul(local.grads[spec.key], weight(0)), tf.tensor(acc.subarray(offset, offset + size), spec.shape)));
            offset += size;
          }
          accumulate(sums, mixed);
          for (const k of ['loss', 'text', 'image'] as const) losses[k] += (weight(0) * local[k] + results.reduce((t, r, i) => t + weight(i + 1) * r[k], 0)) / A;
        } finally {
          tf.dispose(Object.values(local.grads));
        }
      }
      return this.applyStep(sums, losses, started);
    } finally {
      tf.dispose(Object.values(sums));
    }
  }

  /** Averages the accumulated gradients, clips them and applies AdamW; disposes what it replaces in `sums`. */
  private applyStep(sums: Record<string, tf.Tensor>, losses: { loss: number; text: number; image: number }, started: number): StepStats {
    const step = this.steps + 1;
    const { gradAccumSteps: A, clipNorm } = this.config;
    // The shared AdamW leaves a variable without a gradient alone; here every parameter feeds the loss, so one missing is a bug.
    for (const key of Object.keys(this.model.params)) if (!sums[key]) throw new Error(`no gradient for "${key}": every transformer parameter should take part in the loss`);
    if (!Number.isFinite(losses.loss)) throw new NonFiniteLossError(step, `the loss (${losses.loss})`);
    if (A > 1) scaleAll(sums, 1 / A);
    const gradNorm = tf.tidy(() => Math.sqrt(tf.addN(Object.values(sums).map((g) => tf.sum(tf.square(g)))).dataSync()[0]));
    if (!Number.isFinite(gradNorm)) throw new NonFiniteLossError(step, `the gradient norm (${gradNorm})`);
    if (clipNorm > 0 && gradNorm > clipNorm) scaleAll(sums, clipNorm / gradNorm);
    const lr = learningRateAt(this.config, step);
    this.optimizer.apply(sums, lr);
    this.workers?.weightsChanged();
    this.steps = step;
    const tokens = this.config.batchSize * A * tokensPerSequence(this.model.config);
    return { step, ...losses, lr, gradNorm, tokens, seconds: (Date.now() - started) / 1000 };
  }

  /** Writes a checkpoint folder atomically: model, optimizer moments, trainer state, configs. */
  async saveCheckpoint(dir: string, info: Record<string, unknown> = {}): Promise<void> {
    const state: CheckpointState = {
      formatVersion: CHECKPOINT_FORMAT_VERSION,
      trainer: this.state(),
      optimizerStep: this.optimizer.step,
      trainConfig: this.config,
    };
    await saveTransformer(dir, this.model, { ...info, trainedSteps: this.steps }, {
      extraFiles: {
        [OPTIMIZER_FILE]: encodeSafetensors(this.optimizer.state().tensors),
        [TRAINER_STATE_FILE]: JSON.stringify(state, null, 2) + '\n',
      },
    });
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

/** Multiplies every gradient in place (the record's entries are replaced, the old tensors freed). */
function scaleAll(grads: Record<string, tf.Tensor>, factor: number): void {
  for (const [key, g] of Object.entries(grads)) {
    grads[key] = tf.mul(g, factor);
    g.dispose();
  }
}

/** sums[key] += add[key] for every key of `add`; takes ownership of `add`'s tensors. */
function accumulate(sums: Record<string, tf.Tensor>, add: Record<string, tf.Tensor>): void {
  for (const [key, g] of Object.entries(add)) {
    if (sums[key]) {
      const next = tf.add(sums[key], g);
      tf.dispose([sums[key], g]);
      sums[key] = next;
    } else sums[key] = g;
  }
}

export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const TRAINER_STATE_FILE = 'trainer-state.json';
export const CHECKPOINT_FORMAT_VERSION = 1;

interface CheckpointState {
  formatVersion: number;
  trainer: TrainerState;
  optimizerStep: number;
  trainConfig: TrainConfig;
}

export interface LoadedCheckpoint {
  dir: string;
  model: TransformerModel;
  trainConfig: TrainConfig;
  state: TrainerState;
  optimizerStep: number;
  optimizerTensors: NamedTensors;
}

/** Reads a checkpoint folder written by saveCheckpoint. */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  let stateText: string;
  try {
    stateText = await fsp.readFile(path.join(dir, TRAINER_STATE_FILE), 'utf8');
  } catch {
    throw new UsageError(`${dir} is not a training checkpoint (no ${TRAINER_STATE_FILE})`);
  }
  const state = JSON.parse(stateText) as CheckpointState;
  if (state.formatVersion !== CHECKPOINT_FORMAT_VERSION) throw new UsageError(`${dir}: checkpoint format version ${state.formatVersion} is not supported (this build reads ${CHECKPOINT_FORMAT_VERSION})`);
  const optimizerPath = path.join(dir, OPTIMIZER_FILE);
  const { tensors } = decodeSafetensors(new Uint8Array(await fsp.readFile(optimizerPath)), optimizerPath);
  const model = await loadTransformer(dir);
  return { dir, model, trainConfig: resolveTrainConfig(state.trainConfig), state: state.trainer, optimizerStep: state.optimizerStep, optimizerTensors: tensors };
}

export const CHECKPOINTS_DIR = 'checkpoints';
export const LOG_FILE = 'log.jsonl';

/** The checkpoint folder for a step: runs/<name>/checkpoints/step-N. */
export function checkpointDir(runDir: string, step: number): string {
  return path.join(runDir, CHECKPOINTS_DIR, `step-${step}`);
}

/** The newest checkpoint of a run folder, or a UsageError saying there is none. */
export async function latestCheckpoint(runDir: string): Promise<string> {
  let names: string[] = [];
  try {
    names = await fsp.readdir(path.join(runDir, CHECKPOINTS_DIR));
  } catch {
    // handled below
  }
  const steps = names.map((n) => /^step-(\d+)$/.exec(n)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1]));
  if (steps.length === 0) throw new UsageError(`no checkpoints in ${path.join(runDir, CHECKPOINTS_DIR)}: nothing to resume`);
  return checkpointDir(runDir, Math.max(...steps));
}

export interface TrainOptions {
  model: TransformerModel;
  config: TrainConfig;
  train: TokenBatchSource;
  createOrder: CreateOrder;
  val?: TokenBatchSource;
  /** Where checkpoints/ and log.jsonl go; without it nothing is written. */
  runDir?: string;
  /** Continue from this checkpoint (its model must be `model`). */
  resume?: LoadedCheckpoint;
  /** Stop, with a checkpoint, once this step is done (tests; default config.steps). */
  stopAfterStep?: number;
  /** Checked after every step: when aborted, a checkpoint is written and training stops. */
  signal?: AbortSignal;
  /** Saved in checkpoints' info (e.g. dvaeId, tokenizerId, datasets). */
  info?: Record<string, unknown>;
  onStep?: (stats: StepStats) => void;
  onValidation?: (step: number, losses: EvalLosses) => void;
  /** Data-parallel ways: this thread plus workers - 1 worker threads share each batch (default 1). */
  workers?: number;
}

export interface TrainResult {
  /** Steps completed, counting those before a resume. */
  step: number;
  reason: 'done' | 'stopped' | 'interrupted';
  /** Stats of the steps run in this call. */
  history: StepStats[];
  /** The last checkpoint written, if any. */
  checkpoint?: string;
  /** The last validation result, if any. */
  val?: EvalLosses;
}

/** Runs training to config.steps (or until stopped), writing checkpoints and logs into runDir. */
export async function trainTransformer(options: TrainOptions): Promise<TrainResult> {
  const { model, config, runDir } = options;
  const resume = options.resume ? { state: options.resume.state, optimizerTensors: options.resume.optimizerTensors, optimizerStep: options.resume.optimizerStep } : undefined;
  const trainer = new TransformerTrainer(model, options.train, config, options.createOrder, resume);
  const ways = options.workers ?? 1;
  if (!Number.isInteger(ways) || ways < 1 || ways > MAX_TRAIN_WORKERS) throw new UsageError(`workers must be an integer in [1, ${MAX_TRAIN_WORKERS}], got ${ways}`);
  if (ways > config.batchSize) throw new UsageError(`${ways} workers cannot share micro-batches of ${config.batchSize} sequences: use at most ${config.batchSize} workers or a larger --batch-size`);
  let pool: GradientWorkers | undefined;
  try {
    if (ways > 1) pool = await GradientWorkers.start(model, ways - 1);
  } catch (err) {
    trainer.dispose();
    throw err;
  }
  trainer.useWorkers(pool);
  const history: StepStats[] = [];
  let checkpoint: string | undefined;
  let val: EvalLosses | undefined;
  const logLine = async (entry: Record<string, unknown>) => {
    if (runDir) await fsp.appendFile(path.join(runDir, LOG_FILE), JSON.stringify({ time: new Date().toISOString(), ...entry }) + '\n');
  };
  const save = async () => {
    if (!runDir) return;
    checkpoint = checkpointDir(runDir, trainer.step);
    await trainer.saveCheckpoint(checkpoint, options.info);
    await logLine({ step: trainer.step, checkpoint: path.relative(runDir, checkpoint) });
  };
  const validate = async () => {
    if (!options.val) return;
    val = evaluateLoss(model, options.val, { batchSize: config.batchSize, maxItems: config.valBatches > 0 ? config.valBatches * config.batchSize : undefined });
    options.onValidation?.(trainer.step, val);
    await logLine({ step: trainer.step, val: { text: val.text, image: val.image, loss: val.loss, items: val.items } });
  };
  if (runDir) await fsp.mkdir(runDir, { recursive: true });
  const last = Math.min(config.steps, options.stopAfterStep ?? config.steps);
  let reason: TrainResult['reason'] = 'done';
  try {
    let window: StepStats[] = [];
    while (trainer.step < last) {
      const stats = await trainer.trainStepAsync();
      history.push(stats);
      window.push(stats);
      options.onStep?.(stats);
      const s = stats.step;
      if (s % config.logEvery === 0 || s === last) {
        const secs = window.reduce((a, w) => a + w.seconds, 0);
        const mean = (f: (w: StepStats) => number) => window.reduce((a, w) => a + f(w), 0) / window.length;
        await logLine({ step: s, loss: mean((w) => w.loss), text: mean((w) => w.text), image: mean((w) => w.image), lr: stats.lr, gradNorm: mean((w) => w.gradNorm), tokensPerSec: secs > 0 ? window.reduce((a, w) => a + w.tokens, 0) / secs : null });
        window = [];
      }
      if (config.valEvery > 0 && s % config.valEvery === 0 && s !== last) await validate();
      await yieldToEventLoop(); // lets a Ctrl-C handler run now, not at the next log write
      if (options.signal?.aborted) {
        reason = 'interrupted';
        break;
      }
      if (s % config.checkpointEvery === 0 && s !== last) await save();
    }
    if (reason === 'done' && trainer.step < config.steps) reason = 'stopped';
    if (reason === 'done') await validate();
    if (history.length > 0) await save();
    return { step: trainer.step, reason, history, checkpoint, val };
  } finally {
    trainer.dispose();
    await pool?.dispose();
  }
}
