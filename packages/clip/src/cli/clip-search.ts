// clip-search: ranks the images of a folder by CLIP similarity to a prompt and prints the top k.
import { createCommand, parseIntOption, Progress, runCli, setupBackend } from '@dalle/core';
import { loadClipScorer } from '../clip-scorer.ts';
import { listImages, searchImages } from '../image-search.ts';

interface Options {
  backend?: string;
  verbose?: boolean;
  k: number;
  clip: string;
  allowRemote?: boolean;
  quantized: boolean;
  json?: boolean;
}

const program = createCommand('clip-search', 'Rank a folder of images by CLIP similarity to a text prompt.')
  .argument('<dir>', 'folder of images')
  .argument('<prompt>', 'text to search for')
  .option('-k, --k <n>', 'how many results to print', parseIntOption('-k', 1), 5)
  .option('--clip <model>', 'CLIP folder in the transformers.js layout, or a hub id with --allow-remote', 'weights/clip')
  .option('--allow-remote', 'allow downloading a hub model such as Xenova/clip-vit-base-patch32')
  .option('--no-quantized', 'load onnx/*_model.onnx instead of *_model_quantized.onnx')
  .option('--json', 'print JSON instead of text')
  .action(async (dir: string, prompt: string, opts: Options) => {
    const files = await listImages(dir);
    await setupBackend(opts);
    const scorer = await loadClipScorer(opts.clip, { allowRemote: opts.allowRemote, quantized: opts.quantized });
    try {
      const progress = new Progress({ total: files.length, label: 'search', unit: 'img', quiet: files.length < 64 });
      const hits = await searchImages(scorer, files, prompt, opts.k, (n) => progress.tick(n));
      progress.finish();
      if (opts.json) {
        console.log(JSON.stringify(hits, null, 2));
        return;
      }
      hits.forEach((h, i) => console.log(`${String(i + 1).padStart(3)}. ${h.score.toFixed(4)}  ${h.file}`));
    } finally {
      await scorer.dispose();
    }
  });

await runCli(program);
