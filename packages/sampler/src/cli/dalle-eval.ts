// dalle-eval: evaluates a weights folder on the held-out split (dVAE PSNR and code perplexity,
// transformer losses and conditional gain, CLIP R@1/R@5, generation R-precision, a contact sheet)
// and writes eval.json, eval.md and contact-sheet.png into --out. A thin layer over evaluateModel().
import { createCommand, parseFloatOption, parseIntOption, Progress, runCli, setupBackend } from '@dalle/core';
import { InvalidArgumentError } from 'commander';
import * as path from 'node:path';
import { MAX_IMAGES, resolveSamplerConfig, SAMPLER_DEFAULTS } from '../config.ts';
import { DEFAULT_SHEET_PROMPTS, EVAL_DEFAULTS, EVAL_PHASES, parseSkip, type EvalPhase } from '../eval/eval-config.ts';
import { checkEvalOutFolder } from '../eval/report.ts';
import { checkEvalInputs, DEFAULT_HELD_OUT } from '../eval/eval-inputs.ts';
import type { EvaluateModelOptions } from '../eval/run-eval.ts';

interface EvalCliOptions {
  weights?: string;
  images?: string;
  tokens?: string;
  limit?: number;
  clipImages?: number;
  prompts?: number;
  candidates?: number;
  perPrompt?: number;
  sheetCandidates?: number;
  sheetPrompt?: string[];
  topK?: number;
  topP?: number;
  temperature?: number;
  condScale?: number;
  seed?: number;
  batchSize?: number;
  skip?: EvalPhase[];
  out: string;
  json?: boolean;
  backend?: string;
  verbose?: boolean;
}

const D = EVAL_DEFAULTS;
const collect = (value: string, previous: string[] = []) => [...previous, value];
const program = createCommand('dalle-eval', 'Evaluate a weights folder on the held-out split; write eval.json, eval.md and contact-sheet.png')
  .option('--weights <dir>', 'weights folder: manifest.json + tokenizer/, dvae/, transformer/, clip/ (default: the repository weights/)')
  .option('--images <spec>', `held-out captioned images: a folder of images + .txt captions, .tar shards or .jsonl (default ${path.relative(process.cwd(), DEFAULT_HELD_OUT) || '.'})`)
  .option('--limit <n>', 'use at most the first n held-out images (and --tokens records); default all', parseIntOption('--limit', 1))
  .option('--tokens <dir>', 'token dataset of the held-out split (dvae-encode) for the transformer losses (default: encode --images here, first caption each)')
  .option('--clip-images <n>', `held-out images in CLIP retrieval; more than ${D.groupSize} are averaged over consecutive groups of ${D.groupSize} (default ${D.clipImages})`, parseIntOption('--clip-images', 1))
  .option('--prompts <n>', `held-out captions to generate for in R-precision (default ${D.prompts})`, parseIntOption('--prompts', 1))
  .option('--candidates <count>', `images sampled per prompt; CLIP keeps the best (default ${D.numCandidates})`, parseIntOption('--candidates', 1, MAX_IMAGES))
  .option('--per-prompt <count>', `contact-sheet images per prompt (default ${D.perPrompt})`, parseIntOption('--per-prompt', 1, MAX_IMAGES))
  .option('--sheet-candidates <count>', `images sampled per contact-sheet prompt, the best --per-prompt shown (default ${D.sheetCandidates}, as dalle-sample)`, parseIntOption('--sheet-candidates', 1, MAX_IMAGES))
  .option('--sheet-prompt <text>', `a contact-sheet prompt, repeatable (default: ${DEFAULT_SHEET_PROMPTS.map((p) => JSON.stringify(p)).join(', ')})`, collect)
  .option('--top-k <k>', `sample among the k most likely codes, 1..K (default: as dalle-sample, the weights' manifest.json "sampling", else min(${SAMPLER_DEFAULTS.topK}, K))`, parseIntOption('--top-k', 1))
  .option('--top-p <p>', `nucleus sampling mass in (0, 1] (default: as dalle-sample, the weights' manifest.json "sampling", else ${SAMPLER_DEFAULTS.topP})`, parseFloatOption('--top-p', 0, 1, { minExclusive: true }))
  .option('--temperature <t>', `divides the logits, > 0 (default: as dalle-sample, the weights' manifest.json "sampling", else ${SAMPLER_DEFAULTS.temperature})`, parseFloatOption('--temperature', 0, Infinity, { minExclusive: true }))
  .option('--cond-scale <s>', `classifier-free guidance scale; 1 turns it off (default: as dalle-sample, the weights' manifest.json "sampling", else ${SAMPLER_DEFAULTS.condScale})`, parseFloatOption('--cond-scale'))
  .option('--seed <seed>', `sampling seed (default ${D.seed})`, parseIntOption('--seed', 0, 0xffffffff))
  .option('--batch-size <b>', `candidates sampled together (default ${D.batchSize})`, parseIntOption('--batch-size', 1, MAX_IMAGES))
  .option('--skip <phases>', `comma list of phases to skip: ${EVAL_PHASES.join(',')}`, parseSkipOption)
  .option('--out <dir>', 'output folder', path.join('out', 'eval'))
  .option('--json', 'print eval.json to stdout')
  .action(async (opts: EvalCliOptions) => {
    const options: EvaluateModelOptions = {
      weights: opts.weights,
      images: opts.images,
      tokens: opts.tokens,
      limit: opts.limit,
      clipImages: opts.clipImages,
      prompts: opts.prompts,
      numCandidates: opts.candidates,
      perPrompt: opts.perPrompt,
      sheetCandidates: opts.sheetCandidates,
      sheetPrompts: opts.sheetPrompt,
      topK: opts.topK,
      topP: opts.topP,
      temperature: opts.temperature,
      condScale: opts.condScale,
      seed: opts.seed,
      batchSize: opts.batchSize,
      skip: opts.skip,
    };
    // Bad flags, files and folders fail here, before the model packages load.
    const { cfg, weights, manifest } = await checkEvalInputs(options);
    await checkEvalOutFolder(opts.out);
    const log = (line: string) => console.error(line);
    const [{ evaluateModel }, { writeEvalFolder, evalMarkdown }] = await Promise.all([import('../eval/run-eval.ts'), import('../eval/report.ts')]);
    await setupBackend(opts);
    // The sampler's own resolution (flags, then the weights' recommendation, then the defaults); K is known once the model loads.
    const planned = resolveSamplerConfig({ topK: cfg.topK, topP: cfg.topP, temperature: cfg.temperature, condScale: cfg.condScale }, undefined, manifest.sampling);
    log(`dalle-eval: weights ${weights} limit=${cfg.limit ?? 'all'} clipImages=${cfg.clipImages} prompts=${cfg.prompts} candidates=${cfg.numCandidates} perPrompt=${cfg.perPrompt} topK=min(${planned.topK}, K) topP=${planned.topP} temperature=${planned.temperature} condScale=${planned.condScale} seed=${cfg.seed} skip=${cfg.skip.join(',') || 'none'}`);
    const result = await evaluateModel({
      ...options,
      progress: (label, total, unit) => new Progress({ total, label, unit }),
      onWarning: (w) => log(`warning: ${w}`),
    });
    const files = await writeEvalFolder(opts.out, result);
    if (opts.verbose) log(evalMarkdown(result.report));
    log(`wrote ${files.join(', ')} to ${opts.out}`);
    if (opts.json) process.stdout.write(JSON.stringify(result.report, null, 2) + '\n');
  });

/** parseSkip's message as commander's own option error (printed with the usage hint, exit 2). */
function parseSkipOption(value: string): EvalPhase[] {
  try {
    return parseSkip(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

await runCli(program);
