// clip-export: writes a trained CLIP folder in the transformers.js layout (config.json, tokenizer,
// preprocessor_config.json, onnx/{text,vision}_model[_quantized].onnx), loadable offline.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { createCommand, runCli, setupBackend, UsageError } from '@dalle/core';
import { exportTransformersJs } from '../export.ts';
import { loadClip } from '../model.ts';

interface Options {
  backend?: string;
  verbose?: boolean;
  out: string;
  tokenizer?: string;
}

const program = createCommand('clip-export', 'Export a trained CLIP (config.json + model.safetensors) as a transformers.js CLIP folder with ONNX graphs.')
  .argument('<model>', 'trained CLIP folder (e.g. runs/clip/final or a checkpoint)')
  .requiredOption('--out <dir>', 'output folder (replaced atomically), e.g. weights/clip')
  .option('--tokenizer <dir>', 'tokenizer folder (default: the model folder, where clip-train copies it)')
  .action(async (model: string, opts: Options) => {
    await setupBackend(opts);
    const tokenizerDir = opts.tokenizer ?? model;
    if (!existsSync(path.join(tokenizerDir, 'tokenizer.json'))) throw new UsageError(`no tokenizer.json in ${tokenizerDir}; pass --tokenizer DIR`);
    const clip = await loadClip(model);
    try {
      await exportTransformersJs(clip, tokenizerDir, opts.out, { exportedFrom: path.resolve(model) });
    } finally {
      clip.dispose();
    }
    console.log(`wrote ${opts.out} (config.json, tokenizer, preprocessor_config.json, onnx/text_model.onnx, onnx/vision_model.onnx and _quantized copies)`);
  });

await runCli(program);
