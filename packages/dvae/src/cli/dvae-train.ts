// dvae-train: trains the discrete VAE on a captioned-image source, with checkpoints every N steps
// and on Ctrl-C, exact --resume, validation, sample sheets and --export of the final model folder.
import * as path from 'node:path';
import { createCommand, interruptOnSigint, formatDuration, parseFloatOption, parseIntOption, Progress, readModelConfig, runCli, setupBackend, UsageError, type FitMode } from '@dalle/core';
import type { Command } from 'commander';
import { dvaePreset, DVAE_PRESETS, imageSeqLen, resolveDvaeConfig, type DvaeConfig } from '../config.ts';
import { checkDvaeConfigMatch, dvaeCodesId, dvaeIdentity, DVAE_FORMAT_VERSION, DVAE_KIND, loadDvae, saveDvae } from '../io.ts';
import { loadImageArray } from '../image-data.ts';
import { resolveDvaeTrainConfig, type DvaeTrainConfig } from '../train-config.ts';
import { latestCheckpoint, trainDvae, TRAINER_STATE_FILE } from '../trainer.ts';
import { countParams } from '../params.ts';
import { promises as fsp } from 'node:fs';

/** CLI option -> DvaeConfig field. */
const MODEL_OPTIONS: Record<string, keyof DvaeConfig> = {
  imageSize: 'imageSize',
  downsampleFactor: 'downsampleFactor',
  codebookSize: 'codebookSize',
  codebookDim: 'codebookDim',
  hiddenChannels: 'hiddenChannels',
  resBlocks: 'resBlocks',
  reconLoss: 'reconLoss',
  decoderHiddenChannels: 'decoderHiddenChannels',
  decoderResBlocks: 'decoderResBlocks',
};

/** CLI option -> DvaeTrainConfig field (names match, so --kl-weight -> klWeight). */
const TRAIN_OPTIONS: (keyof DvaeTrainConfig)[] = [
  'steps', 'batchSize', 'lr', 'lrMin', 'warmupSteps', 'temperatureStart', 'temperatureEnd', 'temperatureAnnealFraction',
  'hard', 'decoderOnly', 'klWeight', 'klWarmupFraction', 'seed', 'logEvery', 'checkpointEvery', 'valEvery', 'keepCheckpoints',
];

const int = (name: string, min: number, max?: number) => parseIntOption(name, min, max);
const num = (name: string, min: number, max: number, minExclusive = false) => parseFloatOption(name, min, max, { minExclusive });

const program = createCommand('dvae-train', 'Train the discrete VAE (image tokenizer) on captioned images.')
  .requiredOption('--data <spec>', 'training images: folder of images + .txt, .tar shard(s), .jsonl, or a comma list of these')
  .option('--val <spec>', 'validation images (PSNR through hard codes, code usage, sample sheets)')
  .option('--out <dir>', 'run folder for a new run: checkpoints/, samples/, log.jsonl', 'runs/dvae')
  .option('--resume <dir>', 'continue the run in this folder from its latest checkpoint (same schedule, data order and RNG)')
  .option('--init <dir>', 'start a new run from this dVAE model folder (its config; model flags must agree)')
  .option('--preset <name>', `model preset: ${Object.keys(DVAE_PRESETS).join(', ')}`, 'emoji-64')
  .option('--image-size <n>', 'override the preset: image side in pixels (power of 2)', int('--image-size', 8))
  .option('--downsample-factor <n>', 'override the preset: 4, 8 or 16', int('--downsample-factor', 4, 16))
  .option('--codebook-size <n>', 'override the preset: K codes', int('--codebook-size', 2, 65536))
  .option('--codebook-dim <n>', 'override the preset: codebook embedding width', int('--codebook-dim', 1))
  .option('--hidden-channels <n>', 'override the preset: full-resolution width', int('--hidden-channels', 1))
  .option('--res-blocks <n>', 'override the preset: residual blocks per resolution', int('--res-blocks', 0, 8))
  .option('--recon-loss <name>', 'override the preset: mse, l1 or logit-laplace')
  .option('--decoder-hidden-channels <n>', 'decoder full-resolution width, when it differs from the encoder\'s (with --init: only with --decoder-only)', int('--decoder-hidden-channels', 1))
  .option('--decoder-res-blocks <n>', 'residual blocks per decoder resolution, when they differ from the encoder\'s (with --init: only with --decoder-only)', int('--decoder-res-blocks', 0, 8))
  .option('--steps <n>', 'optimisation steps in the whole run', int('--steps', 1))
  .option('--batch-size <n>', 'images per step', int('--batch-size', 1))
  .option('--lr <x>', 'peak learning rate (linear warmup, cosine decay to --lr-min)', num('--lr', 0, 1, true))
  .option('--lr-min <x>', 'final learning rate', num('--lr-min', 0, 1))
  .option('--warmup-steps <n>', 'learning-rate warmup steps', int('--warmup-steps', 0))
  .option('--temperature-start <x>', 'Gumbel-softmax temperature at step 0', num('--temperature-start', 0, 100, true))
  .option('--temperature-end <x>', 'temperature after the anneal (DALL-E: 0.0625)', num('--temperature-end', 0, 100, true))
  .option('--temperature-anneal-fraction <x>', 'fraction of the run over which the temperature decays', num('--temperature-anneal-fraction', 0, 1))
  .option('--hard', 'straight-through codes (one-hot forward, relaxed gradient)')
  .option('--decoder-only', 'with --init: train only the codebook and decoder on the frozen encoder\'s hard codes, so every image keeps its codes and a transformer trained on them still fits')
  .option('--kl-weight <x>', 'beta: weight of KL(q || uniform), relative to the NLL summed over pixel values', num('--kl-weight', 0, 1e6))
  .option('--kl-warmup-fraction <x>', 'fraction of the run over which beta ramps up from 0', num('--kl-warmup-fraction', 0, 1))
  .option('--seed <n>', 'seed of init, data order and Gumbel noise', int('--seed', 0, 2 ** 32 - 1))
  .option('--log-every <n>', 'steps between log.jsonl lines', int('--log-every', 1))
  .option('--checkpoint-every <n>', 'steps between checkpoints (0: only at the end and on Ctrl-C)', int('--checkpoint-every', 0))
  .option('--val-every <n>', 'steps between validations and sample sheets (0: only at the end)', int('--val-every', 0))
  .option('--keep-checkpoints <n>', 'checkpoints kept on disk', int('--keep-checkpoints', 1))
  .option('--limit <n>', 'load at most N training images', int('--limit', 1))
  .option('--fit <mode>', 'how images are made square: cover (centre crop), contain, fill', 'cover')
  .option('--export <dir>', 'after training, write the final model folder (config.json + model.safetensors) here')
  .action(async (opts: Record<string, unknown>, cmd: Command) => {
    const fit = opts.fit as FitMode;
    if (!['cover', 'contain', 'fill'].includes(fit)) throw new UsageError(`--fit must be cover, contain or fill, got "${fit}"`);
    const fromCli = (key: string) => cmd.getOptionValueSource(key) === 'cli';
    const modelOverrides: Partial<DvaeConfig> = {};
    for (const [opt, field] of Object.entries(MODEL_OPTIONS)) if (opts[opt] !== undefined) (modelOverrides as Record<string, unknown>)[field] = opts[opt];
    const trainOverrides: Partial<DvaeTrainConfig> = {};
    for (const field of TRAIN_OPTIONS) if (opts[field] !== undefined) (trainOverrides as Record<string, unknown>)[field] = opts[field];

    const resumeDir = opts.resume as string | undefined;
    const initDir = opts.init as string | undefined;
    if (resumeDir && initDir) throw new UsageError('--init starts a new run and --resume continues one: give one of them');
    if (!resumeDir && !initDir && opts.decoderOnly) throw new UsageError('--decoder-only trains the decoder on the codes of a trained encoder: give the model with --init');
    let runDir: string;
    let config: DvaeConfig;
    let train: DvaeTrainConfig;
    if (resumeDir) {
      if (fromCli('preset')) throw new UsageError('--preset cannot change on --resume (the checkpoint holds the model config)');
      const ckpt = await latestCheckpoint(resumeDir);
      if (!ckpt) throw new UsageError(`${resumeDir} has no checkpoints to resume from`);
      config = resolveDvaeConfig((await readModelConfig<DvaeConfig>(ckpt, { kind: DVAE_KIND, formatVersion: DVAE_FORMAT_VERSION })).config);
      train = resolveDvaeTrainConfig((JSON.parse(await fsp.readFile(path.join(ckpt, TRAINER_STATE_FILE), 'utf8')) as { train: DvaeTrainConfig }).train);
      // The schedule is part of the run: a flag that would change it is refused, not ignored.
      for (const [k, v] of Object.entries(trainOverrides)) {
        if (fromCli(k) && (train as unknown as Record<string, unknown>)[k] !== v) {
          throw new UsageError(`--resume continues the saved schedule: ${k} is ${JSON.stringify((train as unknown as Record<string, unknown>)[k])} in ${ckpt} but ${JSON.stringify(v)} was given`);
        }
      }
      runDir = resumeDir;
    } else if (initDir) {
      if (fromCli('preset')) throw new UsageError('--preset cannot be combined with --init (the model folder holds the config)');
      const initConfig = resolveDvaeConfig((await readModelConfig<DvaeConfig>(initDir, { kind: DVAE_KIND, formatVersion: DVAE_FORMAT_VERSION })).config);
      // The encoder must stay the init model's; a decoder-only fine-tune may resize the decoder.
      const { decoderHiddenChannels, decoderResBlocks, ...encoderSide } = modelOverrides;
      checkDvaeConfigMatch(initConfig, encoderSide, initDir);
      const decoder = Object.fromEntries(Object.entries({ decoderHiddenChannels, decoderResBlocks }).filter(([, v]) => v !== undefined));
      if (Object.keys(decoder).length > 0 && !opts.decoderOnly) throw new UsageError('--decoder-hidden-channels and --decoder-res-blocks resize a trained model\'s decoder only with --decoder-only (a fresh decoder on its codes)');
      config = resolveDvaeConfig({ ...initConfig, ...decoder });
      train = resolveDvaeTrainConfig(trainOverrides);
      runDir = opts.out as string;
    } else {
      config = resolveDvaeConfig({ ...dvaePreset(opts.preset as string), ...modelOverrides });
      train = resolveDvaeTrainConfig(trainOverrides);
      runDir = opts.out as string;
    }
    const backend = await setupBackend(opts);
    console.error(`backend: ${backend.name}`);
    console.error(`model: ${JSON.stringify(config)} (${imageSeqLen(config)} tokens per image)`);
    console.error(`training: ${JSON.stringify(train)}`);

    const load = async (spec: string, label: string, limit?: number) => {
      const t0 = Date.now();
      const r = await loadImageArray(spec, { imageSize: config.imageSize, limit, fit, onImage: (n) => n % 500 === 0 && console.error(`${label}: ${n} images read`) });
      console.error(`${label}: ${r.images.length} images from ${spec}${r.skipped ? `, ${r.skipped} skipped` : ''} (${formatDuration((Date.now() - t0) / 1000)})`);
      return r.images;
    };
    const images = await load(opts.data as string, 'train', opts.limit as number | undefined);
    const val = opts.val ? await load(opts.val as string, 'val') : undefined;

    const init = initDir ? await loadDvae(initDir) : undefined;
    if (init) console.error(`init: ${initDir} (identity ${dvaeIdentity(init).slice(0, 16)}...)${train.decoderOnly ? `; decoder only, keeping the codes of ${dvaeCodesId(init).slice(0, 16)}...` : ''}`);
    const interrupt = interruptOnSigint();
    const progress = new Progress({ total: train.steps, label: 'dvae', unit: 'step' });
    try {
      const r = await trainDvae({
        images,
        val,
        config: resumeDir ? modelOverrides : config,
        init,
        train,
        runDir,
        resume: Boolean(resumeDir),
        signal: interrupt.signal,
        onStart: (s) => {
          progress.set(s.step);
          if (s.step > 0) console.error(`resuming at step ${s.step} of ${s.train.steps}`);
        },
        // A decoder-only step decodes hard codes: no temperature to show.
        onStep: (l) => progress.tick(1, train.decoderOnly ? { loss: l.loss, psnr: l.psnr, ppl: l.perplexity } : { loss: l.loss, psnr: l.psnr, ppl: l.perplexity, tau: l.temperature }),
        onVal: (v) => console.error(`\nstep ${v.step}: hard-code PSNR ${v.psnr.toFixed(2)} dB, ${v.codesUsed} codes used, perplexity ${v.perplexity.toFixed(1)}`),
      });
      progress.finish();
      try {
        if (r.interrupted) {
          console.log(`stopped at step ${r.step}; checkpoint ${r.lastCheckpoint} (continue with --resume ${runDir})`);
          return;
        }
        const params = countParams(r.dvae.params);
        if (opts.export) {
          const exportDir = opts.export as string;
          const from = r.dvae.codesFrom ? { decoderOnly: true, ...(initDir ? { init: initDir } : {}) } : {};
          await saveDvae(exportDir, r.dvae, { steps: r.step, parameters: params, data: opts.data, val: r.val, identity: dvaeIdentity(r.dvae), ...from });
          const codes = r.dvae.codesFrom ? `; codes of ${r.dvae.codesFrom.slice(0, 16)}...` : '';
          console.log(`exported ${exportDir} (identity ${dvaeIdentity(r.dvae).slice(0, 16)}...${codes})`);
        }
        console.log(`done: ${r.step} steps; hard-code PSNR ${r.val?.psnr.toFixed(2)} dB; checkpoint ${r.lastCheckpoint}`);
      } finally {
        r.dvae.dispose();
      }
    } finally {
      interrupt.dispose();
      init?.dispose();
    }
  });

await runCli(program);
