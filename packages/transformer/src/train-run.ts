// One training run as dalle-train performs it: open and check the token datasets, build, warm-start
// or resume the model, train with progress and checkpoints, validate, and export the final model.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Progress, UsageError, writeFileAtomic } from '@dalle/core';
import { concatGroups, EpochSampler, GroupBalancedSampler, openTokenDataset, type RecordGroups, type TokenDataset } from '@dalle/data';
import { resolveTransformerConfig, transformerPreset, type TransformerConfig } from './config.ts';
import { checkDatasetFits, concatSources, type CreateOrder, type TokenBatchSource } from './dataset.ts';
import { conditionalGain, type ConditionalGain, type EvalLosses } from './evaluate.ts';
import { FOCUS_FILE, FOCUS_FLOOR, FOCUS_RECORDS_PER_GROUP, focusWeights, groupLosses, parseGroupFocus, type GroupFocus } from './focus.ts';
import { countParams, reinitImageParams } from './params.ts';
import { codeCooccurrence, remapImageParams, type CodeCooccurrence } from './remap.ts';
import { loadTransformer, saveTransformer } from './persistence.ts';
import { resolveTrainConfig, type TrainConfig } from './train-config.ts';
import { latestCheckpoint, loadCheckpoint, trainTransformer, type TrainResult } from './trainer.ts';
import { createTransformer, disposeTransformer, type TransformerModel } from './transformer.ts';

export interface TrainRunOptions {
  /** Token dataset folders trained on together. */
  data: string[];
  /** Held-out token dataset for validation losses and the conditional gain. */
  val?: string;
  /** runs/<name>: checkpoints/ and log.jsonl. */
  runDir: string;
  /** Continue runDir's newest checkpoint with its saved settings. */
  resume?: boolean;
  /** Warm start: a model folder whose config and weights start the run. */
  init?: string;
  /** With init: fresh image-code embeddings and image head (the init model was trained on another dVAE's codes). */
  reinitImage?: boolean;
  /**
   * With init: the same images as `data` (one folder per data folder, in order) encoded by the
   * init model's dVAE. The image-code parameters are carried over to the data's codes by how the
   * two encodings line up (remap.ts) instead of being drawn afresh.
   */
  remapImage?: string[];
  /** Preset for a fresh model (default emoji-64), with field overrides. */
  preset?: string;
  model?: Partial<TransformerConfig>;
  /** Seed of a fresh model's weights. */
  modelSeed?: number;
  train?: Partial<TrainConfig>;
  /** Writes the final model folder here when training completes. */
  exportDir?: string;
  /** Stop (with a checkpoint) after this step. */
  stopAfterStep?: number;
  signal?: AbortSignal;
  /** Lines for the user (resolved settings, results); the progress bar goes to stderr. */
  log?: (line: string) => void;
  quiet?: boolean;
  /** Data-parallel ways on this machine (this thread + workers - 1 worker threads; default 1). */
  workers?: number;
}

export interface TrainRunResult {
  train: TrainResult;
  config: TransformerConfig;
  trainConfig: TrainConfig;
  val?: EvalLosses;
  gain?: ConditionalGain;
  exported?: string;
}

export const createEpochOrder: CreateOrder = (size, state) => new EpochSampler(size, state);

/** The record groups of trainConfig.balanceGroups: the datasets' groups, joined by name. */
function joinedGroups(sets: TokenDataset[], names: string[]): RecordGroups {
  const missing = sets.findIndex((s) => !s.groups);
  if (missing >= 0) throw new UsageError(`--balance samples record groups, but ${names[missing]} has none; re-encode it with dvae-encode --group-by (e.g. --group-by emoji or --group-by image)`);
  return concatGroups(sets.map((s) => s.groups!), names);
}

/**
 * The group weights of a focused run (trainConfig.focus > 0): measured with the starting model
 * and written to the run folder when the run starts, read back from there on --resume.
 */
async function loadOrMeasureFocus(o: { runDir: string; resume: boolean; quiet?: boolean; log: (line: string) => void; modelName: string }, model: TransformerModel, train: TokenBatchSource, groups: RecordGroups, trainConfig: TrainConfig): Promise<GroupFocus> {
  const file = path.join(o.runDir, FOCUS_FILE);
  if (o.resume) {
    const text = await fsp.readFile(file, 'utf8').catch(() => {
      throw new UsageError(`${file} is missing: a run with --focus keeps its group weights there; it cannot resume without them`);
    });
    return parseGroupFocus(text, file, groups.names);
  }
  o.log(`focus: measuring the image loss of up to ${FOCUS_RECORDS_PER_GROUP} records per group under ${o.modelName}`);
  let progress: Progress | undefined;
  let measured = 0;
  const losses = groupLosses(model, train, groups.ids, {
    perGroup: FOCUS_RECORDS_PER_GROUP,
    seed: trainConfig.seed,
    batchSize: trainConfig.batchSize,
    onBatch: (done, total) => {
      progress ??= new Progress({ total, label: 'focus', unit: 'seq', quiet: o.quiet });
      progress.tick(done - measured);
      measured = done;
    },
  });
  progress?.finish();
  const weights = focusWeights(losses, trainConfig.focus);
  const focus: GroupFocus = { alpha: trainConfig.focus, floor: FOCUS_FLOOR, recordsPerGroup: FOCUS_RECORDS_PER_GROUP, model: o.modelName, names: groups.names, losses: Array.from(losses), weights: Array.from(weights) };
  await writeFileAtomic(file, JSON.stringify(focus) + '\n');
  return focus;
}

/** Quantiles of the group losses and how the weights share out the draws, for the run's log. */
function describeFocus(f: GroupFocus): string {
  const sorted = [...f.losses].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.round(p * (sorted.length - 1))].toFixed(3);
  const byLoss = f.losses.map((l, g) => ({ l, w: f.weights[g] })).sort((a, b) => b.l - a.l);
  const tenth = Math.max(1, Math.round(byLoss.length / 10));
  const share = (part: { w: number }[]) => ((100 * part.reduce((a, b) => a + b.w, 0)) / f.weights.length).toFixed(1);
  return `focus ${f.alpha}: group image loss min ${q(0)}, median ${q(0.5)}, max ${q(1)}; the tenth of the groups with the highest loss gets ${share(byLoss.slice(0, tenth))}% of the draws, the tenth with the lowest ${share(byLoss.slice(-tenth))}%`;
}

async function openChecked(dir: string, model: TransformerModel): Promise<TokenDataset> {
  const cfg = model.config;
  const expect: Record<string, unknown> = { textSeqLen: cfg.textSeqLen, gridSize: cfg.gridSize, codebookSize: cfg.imageVocabSize, textVocabSize: cfg.textVocabSize };
  if (typeof model.info.dvaeId === 'string') expect.dvaeId = model.info.dvaeId;
  if (typeof model.info.tokenizerId === 'string') expect.tokenizerId = model.info.tokenizerId;
  const ds = await openTokenDataset(dir, expect);
  checkDatasetFits(cfg, model.info, ds.manifest, dir);
  return ds;
}

export const RUN_LOCK_FILE = 'train.lock';

/** Claims runDir for this process, so two trainers never write the same checkpoints; returns the release function. */
async function lockRun(runDir: string): Promise<() => Promise<void>> {
  await fsp.mkdir(runDir, { recursive: true });
  const file = path.join(runDir, RUN_LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fsp.writeFile(file, String(process.pid), { flag: 'wx' });
      return () => fsp.rm(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(await fsp.readFile(file, 'utf8').catch(() => ''));
      let alive = false;
      try {
        alive = Number.isInteger(pid) && pid > 0 && process.kill(pid, 0);
      } catch {
        alive = false;
      }
      if (alive) throw new UsageError(`${runDir} is in use by another dalle-train (pid ${pid}); wait for it or remove ${file} if it is gone`);
      await fsp.rm(file, { force: true }); // left by a process that died
    }
  }
  throw new UsageError(`could not lock ${runDir}`);
}

export async function runTraining(o: TrainRunOptions): Promise<TrainRunResult> {
  const release = await lockRun(o.runDir);
  try {
    return await runLocked(o);
  } finally {
    await release();
  }
}

/**
 * A warm-started model's info: the folder's own training figures (steps, validation, gain) and
 * held-out set do not describe the new run, so they go; its steps are kept as `initSteps`, summed
 * along a chain of warm starts, beside `initFrom`. dvaeId, tokenizerId and datasets are replaced
 * by the run's.
 */
function warmStartInfo(info: Record<string, unknown>, from: string): Record<string, unknown> {
  const { trainedSteps, initSteps, val: _val, conditionalGain: _gain, valDataset: _valDataset, ...rest } = info;
  const steps = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return { ...rest, initFrom: path.resolve(from), initSteps: steps(trainedSteps) + steps(initSteps) };
}

async function runLocked(o: TrainRunOptions): Promise<TrainRunResult> {
  const log = o.log ?? (() => {});
  if (o.data.length === 0 && !o.resume) throw new UsageError('no training data: pass one or more token dataset folders (--data DIR[,DIR])');
  if (o.resume && o.init) throw new UsageError('--resume and --init exclude each other: --resume continues a run, --init starts a new one from a model');
  if (o.reinitImage && !o.init) throw new UsageError('--reinit-image goes with --init: it re-initialises the image part of the model given there');
  if (o.remapImage) {
    if (!o.init) throw new UsageError('--remap-image goes with --init: it carries the image part of the model given there over to new codes');
    if (o.reinitImage) throw new UsageError('--remap-image and --reinit-image exclude each other: one carries the image part over, the other redraws it');
    if (o.remapImage.length !== o.data.length) throw new UsageError(`--remap-image needs one folder per --data folder (the same images encoded by the init model's dVAE): got ${o.remapImage.length} for ${o.data.length}`);
  }
  let model: TransformerModel;
  let trainConfig: TrainConfig;
  let resume: Awaited<ReturnType<typeof loadCheckpoint>> | undefined;
  let remapFrom: TokenDataset[] | undefined;
  let data = o.data;
  let valDir = o.val;
  if (o.resume) {
    const given = Object.keys(o.train ?? {}).filter((k) => k !== 'steps');
    if (given.length > 0 || o.model || o.preset) throw new UsageError(`--resume continues with the run's saved settings; drop ${[...given, ...(o.model ? Object.keys(o.model) : []), ...(o.preset ? ['preset'] : [])].join(', ')}`);
    resume = await loadCheckpoint(await latestCheckpoint(o.runDir));
    model = resume.model;
    trainConfig = o.train?.steps ? resolveTrainConfig({ ...resume.trainConfig, steps: o.train.steps }) : resume.trainConfig;
    log(`resuming ${resume.dir} at step ${resume.state.step}`);
    // Without --data / --val, the run continues on the datasets its checkpoints name.
    const saved = resume.model.info;
    if (data.length === 0) {
      const ok = Array.isArray(saved.datasets) && saved.datasets.length > 0 && saved.datasets.every((d) => typeof d === 'string');
      if (!ok) {
        disposeTransformer(model);
        throw new UsageError(`${resume.dir} does not name its training data; pass --data DIR[,DIR] to resume`);
      }
      data = saved.datasets as string[];
    }
    if (valDir === undefined && typeof saved.valDataset === 'string') valDir = saved.valDataset;
  } else {
    trainConfig = resolveTrainConfig(o.train);
    if (o.init) {
      if (o.model || o.preset) throw new UsageError('--init takes the model config from the model folder; drop the model options');
      model = await loadTransformer(o.init);
      model.info = warmStartInfo(model.info, o.init);
      if (o.reinitImage) {
        reinitImageParams(model.params, model.config, o.modelSeed ?? trainConfig.seed);
        delete model.info.dvaeId; // its image codes are gone; the training data's dVAE sets it below
        log(`warm start from ${o.init}, image-code embeddings and image head re-initialised`);
      } else if (o.remapImage) {
        try {
          remapFrom = [];
          for (const dir of o.remapImage) remapFrom.push(await openChecked(dir, model)); // encoded by the init model's dVAE
        } catch (err) {
          disposeTransformer(model);
          throw err;
        }
        delete model.info.dvaeId; // the training data's dVAE sets it below, once the codes are carried over
      } else {
        log(`warm start from ${o.init}`);
      }
    } else {
      const base = transformerPreset(o.preset ?? 'emoji-64');
      model = createTransformer(resolveTransformerConfig({ ...base, ...o.model }), o.modelSeed ?? trainConfig.seed);
    }
  }
  try {
    const sets: TokenDataset[] = [];
    for (const dir of data) {
      try {
        sets.push(await openChecked(dir, model));
      } catch (err) {
        if (o.init && !o.reinitImage && err instanceof UsageError && err.message.includes('dvaeId')) {
          throw new UsageError(`${err.message}; to warm-start from a model trained on another dVAE's codes, add --reinit-image (fresh image part) or --remap-image DIR (carried over, DIR holding the same images encoded by the model's dVAE)`);
        }
        throw err;
      }
    }
    const train = concatSources(sets, data);
    if (remapFrom) {
      let co: CodeCooccurrence | undefined;
      remapFrom.forEach((from, d) => {
        const one = codeCooccurrence(from, sets[d], [o.remapImage![d], data[d]]);
        if (!co) co = one;
        else for (let k = 0; k < one.counts.length; k++) co.counts[k] += one.counts[k];
      });
      const { used, agreement } = remapImageParams(model.params, model.config, co!, o.modelSeed ?? trainConfig.seed);
      log(`warm start from ${o.init}, image codes carried over from ${o.remapImage!.join(', ')}: ${used} of ${model.config.imageVocabSize} new codes occur; ${(agreement * 100).toFixed(1)}% of grid positions agree with their code's most frequent old code`);
    }
    let createOrder = createEpochOrder;
    if (trainConfig.balanceGroups) {
      const groups = joinedGroups(sets, data);
      if (trainConfig.focus > 0) {
        const modelName = o.init ? path.resolve(o.init) : 'the fresh model';
        const focus = await loadOrMeasureFocus({ runDir: o.runDir, resume: !!resume, quiet: o.quiet, log, modelName }, model, train, groups, trainConfig);
        const weights = focus.weights;
        createOrder = (_size, state) => new GroupBalancedSampler(groups.ids, state, weights);
        log(`data order: ${groups.names.length} record groups (by ${groups.by}) sampled by their image loss under ${focus.model}`);
        log(describeFocus(focus));
      } else {
        createOrder = (_size, state) => new GroupBalancedSampler(groups.ids, state);
        log(`data order: ${groups.names.length} record groups (by ${groups.by}) sampled evenly`);
      }
    }
    model.info = { ...model.info, dvaeId: train.manifest.dvaeId, tokenizerId: train.manifest.tokenizerId };
    const val = valDir ? await openChecked(valDir, model) : undefined;
    log(`model: ${JSON.stringify(model.config)} (${(countParams(model.config) / 1e6).toFixed(2)} M parameters)`);
    log(`training: ${JSON.stringify(trainConfig)}`);
    log(`data: ${train.size} sequences from ${data.join(', ')}${val ? `; validation: ${val.size} from ${valDir}` : ''}`);

    const startStep = resume?.state.step ?? 0;
    const progress = new Progress({ total: trainConfig.steps, label: 'train', unit: 'step', quiet: o.quiet });
    progress.set(startStep);
    let tokens = 0;
    let seconds = 0;
    const result = await trainTransformer({
      model,
      config: trainConfig,
      train,
      val,
      createOrder,
      runDir: o.runDir,
      resume,
      stopAfterStep: o.stopAfterStep,
      signal: o.signal,
      info: { datasets: data.map((d) => path.resolve(d)), ...(valDir ? { valDataset: path.resolve(valDir) } : {}) },
      workers: o.workers,
      onStep: (s) => {
        tokens += s.tokens;
        seconds += s.seconds;
        progress.tick(1, { loss: s.loss, text: s.text, image: s.image, lr: s.lr.toExponential(2), 'tok/s': seconds > 0 ? tokens / seconds : 0 });
      },
      onValidation: (step, v) => log(`step ${step}: validation text ${v.text.toFixed(4)} image ${v.image.toFixed(4)}`),
    });
    progress.finish();
    if (result.reason === 'interrupted') log(`interrupted at step ${result.step}; checkpoint ${result.checkpoint}; continue with --resume ${o.runDir}`);
    let gain: ConditionalGain | undefined;
    if (val && result.reason === 'done') {
      gain = conditionalGain(model, val, { batchSize: trainConfig.batchSize });
      log(`validation image loss: true captions ${gain.trueCaptions.toFixed(4)}, shuffled captions ${gain.shuffledCaptions.toFixed(4)} (${(gain.gain * 100).toFixed(1)}% lower with true captions)`);
    }
    let exported: string | undefined;
    if (o.exportDir && result.reason === 'done') {
      const info: Record<string, unknown> = { trainedSteps: result.step, datasets: data.map((d) => path.resolve(d)) };
      if (result.val) info.val = { text: result.val.text, image: result.val.image };
      if (gain) info.conditionalGain = gain;
      await saveTransformer(o.exportDir, model, info);
      exported = o.exportDir;
      log(`exported ${o.exportDir}`);
    }
    return { train: result, config: model.config, trainConfig, val: result.val, gain, exported };
  } finally {
    disposeTransformer(model);
  }
}
