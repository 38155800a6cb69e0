// clip-classify: zero-shot classification of image files against comma-separated labels with a
// CLIP in the transformers.js layout (ours from clip-export, or a hub id with --allow-remote).
import { createCommand, Progress, runCli, setupBackend } from '@dalle/core';
import { loadClipScorer } from '../clip-scorer.ts';
import { classifyImages, parseLabels } from '../image-search.ts';

interface Options {
  backend?: string;
  verbose?: boolean;
  labels: string;
  clip: string;
  allowRemote?: boolean;
  quantized: boolean;
  json?: boolean;
}

const program = createCommand('clip-classify', 'Print label probabilities per image (softmax of CLIP-scaled similarities).')
  .argument('<images...>', 'image files')
  .requiredOption('--labels <list>', 'comma-separated labels, e.g. "a cat,a dog,a human"')
  .option('--clip <model>', 'CLIP folder in the transformers.js layout, or a hub id with --allow-remote', 'weights/clip')
  .option('--allow-remote', 'allow downloading a hub model such as Xenova/clip-vit-base-patch32')
  .option('--no-quantized', 'load onnx/*_model.onnx instead of *_model_quantized.onnx')
  .option('--json', 'print JSON instead of text')
  .action(async (images: string[], opts: Options) => {
    const labels = parseLabels(opts.labels);
    await setupBackend(opts);
    const scorer = await loadClipScorer(opts.clip, { allowRemote: opts.allowRemote, quantized: opts.quantized });
    try {
      const progress = new Progress({ total: images.length, label: 'classify', unit: 'img', quiet: images.length < 32 });
      const results = await classifyImages(scorer, images, labels, (n) => progress.tick(n));
      progress.finish();
      if (opts.json) {
        console.log(JSON.stringify(results, null, 2));
        return;
      }
      for (const r of results) console.log(`${r.file}: ${r.labels.map((l) => `${l.label} ${(100 * l.probability).toFixed(1)}%`).join(', ')}`);
    } finally {
      await scorer.dispose();
    }
  });

await runCli(program);
