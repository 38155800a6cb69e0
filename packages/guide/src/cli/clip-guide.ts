// clip-guide PROMPT: makes images for a prompt by optimising dVAE code grids against our CLIP
// (VQGAN+CLIP style) and writes 01.png … (best first), grid.png, results.json and optional
// frames/ into --out. A thin layer over clipGuide().
import * as path from 'node:path';
import { createCommand, currentBackend, formatDuration, parseFloatOption, parseIntOption, Progress, runCli, setupBackend, UsageError } from '@dalle/core';
import { GUIDE_DEFAULTS, MAX_IMAGES, resolveGuideConfig, type GuideConfig } from '../config.ts';
import { checkOutputFolder, promptSlug, writeFrame, writeOutputFolder } from '../output-folder.ts';
import { DEFAULT_WEIGHTS_DIR } from '../models.ts';

interface GuideCliOptions {
  steps?: number;
  lr?: number;
  seed?: number;
  images?: number;
  cutouts?: number;
  init?: string;
  frames?: number;
  weights?: string;
  clip?: string;
  out?: string;
  json?: boolean;
  backend?: string;
  verbose?: boolean;
}

const D = GUIDE_DEFAULTS;
const program = createCommand('clip-guide', 'Generate images for a text prompt by steering dVAE codes with CLIP gradients (VQGAN+CLIP style), best first')
  .argument('<prompt>', 'what to draw, e.g. "a red heart with a smile"')
  .option('--steps <n>', `optimisation steps (default ${D.steps})`, parseIntOption('--steps', 1))
  .option('--lr <x>', `Adam learning rate on the code logits, > 0 (default ${D.lr})`, parseFloatOption('--lr', 0, Infinity, { minExclusive: true }))
  .option('--seed <n>', `seed of the start, the Gumbel noise and the cutouts (default ${D.seed})`, parseIntOption('--seed', 0, 0xffffffff))
  .option('-n, --images <count>', `images optimised together (default ${D.n})`, parseIntOption('-n', 1, MAX_IMAGES))
  .option('--cutouts <k>', `augmented views scored per image and step (default ${D.cutouts})`, parseIntOption('--cutouts', 1, 256))
  .option('--init <image>', "start from this image's dVAE codes instead of random logits")
  .option('--frames <k>', 'also write frames/step-NNNN.png (all images) at step 0 and every k steps', parseIntOption('--frames', 1))
  .option('--weights <dir>', 'weights folder with dvae/ and clip/ (default: the repository weights/)')
  .option('--clip <dir>', 'our TensorFlow.js CLIP: a clip-train final/ or clip-export folder, with its tokenizer (default <weights>/clip)')
  .option('--out <dir>', 'output folder (default out/guide-<slug-of-prompt>)')
  .option('--json', 'print results.json to stdout')
  .action(async (prompt: string, opts: GuideCliOptions) => {
    if (prompt.trim() === '') throw new UsageError('the prompt is empty: describe the image to generate, e.g. "a red heart"');
    const partial: Partial<GuideConfig> = { steps: opts.steps, lr: opts.lr, seed: opts.seed, n: opts.images, cutouts: opts.cutouts, frameEvery: opts.frames };
    const cfg = resolveGuideConfig(partial);
    const out = opts.out ?? path.join('out', `guide-${promptSlug(prompt)}`);
    await checkOutputFolder(out);
    const log = (line: string) => console.error(line);

    // The models load only once the flags are known to be good (bad input fails fast).
    const [{ loadGuideModels }, { clipGuide }, { codesOfImageFile }] = await Promise.all([import('../models.ts'), import('../guide.ts'), import('../init-image.ts')]);
    await setupBackend(opts);
    const weights = opts.weights ?? DEFAULT_WEIGHTS_DIR;
    const t0 = performance.now();
    const models = await loadGuideModels(weights, { clipDir: opts.clip });
    try {
      const initCodes = opts.init ? await codesOfImageFile(models.dvae, opts.init) : undefined;
      log(`clip-guide: ${JSON.stringify(prompt)} steps=${cfg.steps} lr=${cfg.lr} n=${cfg.n} cutouts=${cfg.cutouts} seed=${cfg.seed} init=${opts.init ?? 'random'} frames=${cfg.frameEvery || 'none'}`);
      if (opts.verbose) log(`models: dvae ${models.sources.dvae}, clip ${models.sources.clip}, tokenizer ${models.sources.tokenizer} (loaded in ${formatDuration((performance.now() - t0) / 1000)})`);
      const progress = new Progress({ total: cfg.steps, label: 'guiding', unit: 'step', quiet: opts.json });
      const settings = { weights, clip: models.sources.clip, init: opts.init ?? null, backend: currentBackend()?.name ?? null };
      const json = await writeOutputFolder(
        out,
        async (tmp) => {
          const result = await clipGuide(prompt, {
            ...cfg,
            dvae: models.dvae,
            clip: models.clip,
            tokenizer: models.tokenizer,
            initCodes,
            onStep: (s) => progress.tick(1, { clip: s.score, tau: s.temperature }),
            onFrame: (f) => writeFrame(tmp, f, cfg.steps, models.dvae.imageSize),
          });
          progress.finish();
          if (result.truncated) log(`warning: the prompt is longer than CLIP's ${models.clip.config.textSeqLen} tokens and was cut`);
          return result;
        },
        settings,
      );
      const images = json.images as { file: string; clipScore: number }[];
      if (opts.verbose) for (const img of images) log(`  ${img.file}  clip ${img.clipScore.toFixed(4)}`);
      log(`wrote ${images.length} image(s), grid.png and results.json${cfg.frameEvery ? ' and frames/' : ''} to ${out} in ${formatDuration((performance.now() - t0) / 1000)}`);
      if (opts.json) process.stdout.write(JSON.stringify(json, null, 2) + '\n');
    } finally {
      models.dispose();
    }
  });

await runCli(program);
