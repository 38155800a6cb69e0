// clip-train: trains our CLIP contrastively on captioned images (the dVAE's data sources), with
// checkpoints every N steps and on Ctrl-C, --resume, and an optional transformers.js export.
import { createCommand, interruptOnSigint, parseFloatOption, parseIntOption, runCli, setupBackend, UsageError } from '@dalle/core';
import { CLIP_PRESET_NAMES, clipPreset, resolveClipConfig } from '../config.ts';
import { trainClipRun } from '../train-run.ts';

interface Options {
  backend?: string;
  verbose?: boolean;
  data: string;
  tokenizer: string;
  out: string;
  preset: string;
  steps: number;
  batchSize: number;
  lr: number;
  warmup: number;
  weightDecay: number;
  checkpointEvery: number;
  logEvery: number;
  seed: number;
  resume?: boolean;
  init?: string;
  shift: number;
  limit?: number;
  fit: 'cover' | 'contain' | 'fill';
  export?: string;
}

const program = createCommand('clip-train', 'Train a small CLIP (text transformer + ViT) contrastively on captioned images.')
  .requiredOption('--data <spec>', 'captioned images: folder of images + .txt, .tar shard(s), .jsonl, or a comma list of these')
  .requiredOption('--tokenizer <dir>', 'text tokenizer folder (tokenizer.json + tokenizer_config.json, from tokenizer-train)')
  .option('--out <dir>', 'run folder (checkpoints/, final/, log.jsonl)', 'runs/clip')
  .option('--preset <name>', `model preset: ${CLIP_PRESET_NAMES.join(', ')}`, 'emoji-64')
  .option('--steps <n>', 'total optimisation steps', parseIntOption('--steps', 1), 1000)
  .option('--batch-size <n>', 'image/caption pairs per step (more negatives help contrastive learning)', parseIntOption('--batch-size', 2), 64)
  .option('--lr <x>', 'peak learning rate (linear warm-up, cosine decay to 10%)', parseFloatOption('--lr', 0, 1, { minExclusive: true }), 1e-3)
  .option('--warmup <n>', 'warm-up steps', parseIntOption('--warmup', 0), 100)
  .option('--weight-decay <x>', 'AdamW decoupled weight decay on matrices', parseFloatOption('--weight-decay', 0, 1), 0.1)
  .option('--checkpoint-every <n>', 'write a checkpoint every N steps (0: only at the end and on Ctrl-C)', parseIntOption('--checkpoint-every', 0), 250)
  .option('--log-every <n>', 'append to log.jsonl every N steps', parseIntOption('--log-every', 1), 10)
  .option('--seed <n>', 'seed of init, data order and caption choice', parseIntOption('--seed', 0, 2 ** 32 - 1), 0)
  .option('--resume', 'continue from the latest checkpoint in --out')
  .option('--init <dir>', "warm start from a CLIP model folder (a run's final/ or checkpoints/step-N/; its config and tokenizer must match)")
  .option('--shift <px>', 'augmentation: shift each training image by up to this many pixels (edges replicated); 0 = off', parseIntOption('--shift', 0), 0)
  .option('--limit <n>', 'load at most N images', parseIntOption('--limit', 2))
  .option('--fit <mode>', 'how images are made square: cover (centre crop), contain, fill', 'cover')
  .option('--export <dir>', 'at the end, also write the transformers.js folder (as clip-export) here')
  .action(async (opts: Options) => {
    if (!['cover', 'contain', 'fill'].includes(opts.fit)) throw new UsageError(`--fit must be cover, contain or fill, got "${opts.fit}"`);
    await setupBackend(opts);
    const config = clipPreset(opts.preset);
    resolveClipConfig(config); // validate early; the vocabulary size comes from the tokenizer
    const interrupt = interruptOnSigint();
    try {
      const r = await trainClipRun({
        data: opts.data,
        tokenizerDir: opts.tokenizer,
        outDir: opts.out,
        config,
        steps: opts.steps,
        batchSize: opts.batchSize,
        learningRate: opts.lr,
        warmupSteps: opts.warmup,
        weightDecay: opts.weightDecay,
        checkpointEvery: opts.checkpointEvery,
        logEvery: opts.logEvery,
        seed: opts.seed,
        resume: Boolean(opts.resume),
        init: opts.init,
        shift: opts.shift,
        limit: opts.limit,
        fit: opts.fit,
        exportDir: opts.export,
        signal: interrupt.signal,
        log: (l) => console.error(l),
      });
      const metrics = r.last ? ` loss ${r.last.loss.toFixed(4)}, in-batch accuracy ${(100 * r.last.accuracy).toFixed(1)}%` : '';
      console.log(r.stopped ? `stopped at step ${r.step}; checkpoint ${r.checkpointDir} (continue with --resume)` : `done: ${r.step} steps,${metrics}; model ${r.finalDir}`);
    } finally {
      interrupt.dispose();
    }
  });

await runCli(program);
