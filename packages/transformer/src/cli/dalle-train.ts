// dalle-train: trains the text-to-image transformer on token datasets (see runTraining).
import { InvalidArgumentError } from 'commander';
import * as path from 'node:path';
import { createCommand, interruptOnSigint, parseFloatOption, parseIntOption, runCli, setupBackend, type CommonOptions } from '@dalle/core';
import { parseAttentionPatterns, TRANSFORMER_PRESETS, type TransformerConfig } from '../config.ts';
import { MAX_TRAIN_WORKERS } from '../data-parallel.ts';
import type { TrainConfig } from '../train-config.ts';
import { runTraining } from '../train-run.ts';

interface Options extends CommonOptions {
  data?: string;
  val?: string;
  name?: string;
  runsDir: string;
  resume?: string;
  init?: string;
  reinitImage?: boolean;
  remapImage?: string;
  export?: string;
  preset?: string;
  modelSeed?: number;
  // model fields
  layers?: number;
  dModel?: number;
  heads?: number;
  attention?: string;
  convKernelSize?: number;
  textLossWeight?: number;
  captionDropout?: number;
  // train fields
  steps?: number;
  batchSize?: number;
  gradAccum?: number;
  lr?: number;
  warmupSteps?: number;
  minLrFraction?: number;
  weightDecay?: number;
  clipNorm?: number;
  dropout?: number;
  seed?: number;
  balance?: boolean;
  focus?: number;
  checkpointEvery?: number;
  logEvery?: number;
  valEvery?: number;
  valBatches?: number;
  quiet?: boolean;
  workers: number;
}

const program = createCommand('dalle-train', 'Train the text-to-image transformer on token datasets (made by dvae-encode).')
  .option('--data <dirs>', 'token dataset folder(s), comma-separated (with --resume: default the run\'s own)')
  .option('--val <dir>', 'held-out token dataset: text and image validation losses, and image loss with true vs shuffled captions (with --resume: default the run\'s own)')
  .option('--name <name>', 'run name: writes runs/<name>/ (default: a timestamp)')
  .option('--runs-dir <dir>', 'where run folders go', 'runs')
  .option('--resume <runDir>', 'continue runs/<name> from its newest checkpoint (same data order and schedule)')
  .option('--init <modelDir>', 'warm start from a transformer model folder')
  .option('--reinit-image', 'with --init: fresh image-code embeddings and image head, keeping the text and transformer weights (for data encoded by another dVAE)')
  .option('--remap-image <dirs>', 'with --init: carry the image-code embeddings and image head over to the new codes instead (folders, one per --data folder, holding the same images encoded by the --init model\'s dVAE: the same dvae-encode run with the old dVAE)')
  .option('--export <dir>', 'write the final model folder here (config.json + model.safetensors)')
  .option('--preset <name>', `model preset for a new model: ${Object.keys(TRANSFORMER_PRESETS).join(', ')} (default emoji-64)`)
  .option('--model-seed <n>', 'seed of a new model\'s weights (default: --seed)', parseIntOption('--model-seed', 0))
  .option('--layers <n>', 'numLayers', parseIntOption('--layers', 1, 1024))
  .option('--d-model <n>', 'dModel', parseIntOption('--d-model', 1))
  .option('--heads <n>', 'numHeads', parseIntOption('--heads', 1))
  .option('--attention <list>', 'attentionPatterns, one per layer: full,row,column,conv')
  .option('--conv-kernel-size <n>', 'convKernelSize (odd)', parseIntOption('--conv-kernel-size', 1))
  .option('--text-loss-weight <x>', 'textLossWeight (default 0.125)', parseFloatOption('--text-loss-weight', 0, 1))
  .option('--caption-dropout <p>', 'captionDropout (default 0.1)', parseFloatOption('--caption-dropout', 0, 1))
  .option('--steps <n>', 'optimizer steps in the run (default 20000)', parseIntOption('--steps', 1))
  .option('--batch-size <n>', 'sequences per micro-batch (default 16)', parseIntOption('--batch-size', 1))
  .option('--grad-accum <n>', 'micro-batches per optimizer step (default 1)', parseIntOption('--grad-accum', 1))
  .option('--lr <x>', 'peak learning rate (default 1e-3)', parseFloatOption('--lr', 0, 1, { minExclusive: true }))
  .option('--warmup-steps <n>', 'linear warm-up steps (default 500)', parseIntOption('--warmup-steps', 0))
  .option('--min-lr-fraction <x>', 'final learning rate as a fraction of the peak (default 0.1)', parseFloatOption('--min-lr-fraction', 0, 1))
  .option('--weight-decay <x>', 'AdamW weight decay (default 0.01)', parseFloatOption('--weight-decay', 0, 1))
  .option('--clip-norm <x>', 'global gradient-norm clip, 0 = off (default 1)', parseFloatOption('--clip-norm', 0))
  .option('--dropout <p>', 'residual dropout on the embeddings and the attention and MLP outputs, against overfitting a small dataset; in [0, 1) (default 0)', parseFloatOption('--dropout', 0, 1))
  .option('--seed <n>', 'seed of data order, caption dropout and dropout masks (default 0)', parseIntOption('--seed', 0))
  .option('--balance', 'draw the record groups of the data (dvae-encode --group-by) evenly, not the records: rare concepts come up as often as ones drawn many times')
  .option('--focus <alpha>', 'with --balance: draw each group in proportion to its image loss under the starting model to the power alpha (measured on 4 of its records when the run starts, kept in the run folder; every group keeps at least a quarter of its even share), so concepts the model draws worst come up most; e.g. 2 (default 0: evenly)', parseFloatOption('--focus', 0, 16))
  .option('--checkpoint-every <n>', 'steps between checkpoints (default 500)', parseIntOption('--checkpoint-every', 1))
  .option('--log-every <n>', 'steps between log.jsonl lines (default 10)', parseIntOption('--log-every', 1))
  .option('--val-every <n>', 'steps between validation passes, 0 = at the end only (default 1000)', parseIntOption('--val-every', 0))
  .option('--val-batches <n>', 'validation batches per pass, 0 = all (default 0)', parseIntOption('--val-batches', 0))
  .option('--workers <n>', 'data-parallel ways on this machine (wasm/cpu backends): each micro-batch is split between this thread and n - 1 worker threads, one core each', parseIntOption('--workers', 1, MAX_TRAIN_WORKERS), 1)
  .option('-q, --quiet', 'no progress bar')
  .addHelpText('after', '\nCtrl-C writes a checkpoint and stops; continue with --resume runs/<name>.\nExample: dalle-train --data data/emoji-tokens/train --val data/emoji-tokens/val --name emoji --export weights/transformer')
  .action(async (opts: Options) => {
    await setupBackend(opts);
    const defined = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
    const model = defined<Partial<TransformerConfig>>({
      numLayers: opts.layers,
      dModel: opts.dModel,
      numHeads: opts.heads,
      attentionPatterns: opts.attention === undefined ? undefined : parseAttentionPatterns(opts.attention),
      convKernelSize: opts.convKernelSize,
      textLossWeight: opts.textLossWeight,
      captionDropout: opts.captionDropout,
    });
    const train = defined<Partial<TrainConfig>>({
      steps: opts.steps,
      batchSize: opts.batchSize,
      gradAccumSteps: opts.gradAccum,
      learningRate: opts.lr,
      warmupSteps: opts.warmupSteps,
      minLearningRateFraction: opts.minLrFraction,
      weightDecay: opts.weightDecay,
      clipNorm: opts.clipNorm,
      dropout: opts.dropout,
      seed: opts.seed,
      balanceGroups: opts.balance,
      focus: opts.focus,
      checkpointEvery: opts.checkpointEvery,
      logEvery: opts.logEvery,
      valEvery: opts.valEvery,
      valBatches: opts.valBatches,
    });
    if (opts.resume && opts.name) throw new InvalidArgumentError('--resume names the run folder itself; drop --name');
    const runDir = opts.resume ?? path.join(opts.runsDir, opts.name ?? new Date().toISOString().replace(/[:.]/g, '-'));
    const interrupt = interruptOnSigint();
    try {
      await runTraining({
        data: (opts.data ?? '').split(',').map((s) => s.trim()).filter(Boolean),
        val: opts.val,
        runDir,
        resume: Boolean(opts.resume),
        init: opts.init,
        reinitImage: opts.reinitImage,
        remapImage: opts.remapImage?.split(',').map((s) => s.trim()).filter(Boolean),
        preset: opts.preset,
        model: Object.keys(model).length > 0 ? model : undefined,
        modelSeed: opts.modelSeed,
        train,
        exportDir: opts.export,
        signal: interrupt.signal,
        log: (line) => console.log(line),
        quiet: opts.quiet,
        workers: opts.workers,
      });
    } finally {
      interrupt.dispose();
    }
  });

await runCli(program);
