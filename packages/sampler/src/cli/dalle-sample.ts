// dalle-sample PROMPT: generates images for a prompt with the shipped (or --weights) model and
// writes 01.png … (best first), grid.png and results.json into --out. A thin layer over generate().
import { createCommand, formatDuration, loadImageRgb, parseFloatOption, parseIntOption, Progress, runCli, setupBackend, UsageError } from '@dalle/core';
import * as path from 'node:path';
import { MAX_IMAGES, resolveSamplerConfig, SAMPLER_DEFAULTS, type SamplerConfig } from '../config.ts';
import { checkOutputFolder, promptSlug, writeOutputFolder } from '../output-folder.ts';
import { rerankerChoice } from '../reranker-choice.ts';
import { DEFAULT_WEIGHTS_DIR, readWeightsManifest } from '../weights-folder.ts';

interface SampleOptions {
  images?: number;
  candidates?: number;
  topK?: number;
  topP?: number;
  temperature?: number;
  condScale?: number;
  seed?: number;
  batchSize?: number;
  out?: string;
  weights?: string;
  clip?: string;
  allowRemote?: boolean;
  prime?: string;
  primeRows?: number;
  json?: boolean;
  backend?: string;
  verbose?: boolean;
}

const D = SAMPLER_DEFAULTS;
/** Where --top-k, --top-p, --temperature and --cond-scale look first when not given. */
const W = 'the weights\' manifest.json "sampling"';
const program = createCommand('dalle-sample', 'Generate images for a text prompt, reranked by CLIP, best first')
  .argument('<prompt>', 'what to draw, e.g. "a red heart with a smile"')
  .option('-n, --images <count>', `images to keep (n, default ${D.n})`, parseIntOption('-n', 1, MAX_IMAGES))
  .option('--candidates <count>', `images to sample and rerank (numCandidates, default ${D.numCandidates})`, parseIntOption('--candidates', 1, MAX_IMAGES))
  .option('--top-k <k>', `sample among the k most likely codes, 1..K (default: ${W}, else min(${D.topK}, K))`, parseIntOption('--top-k', 1))
  .option('--top-p <p>', `nucleus sampling mass in (0, 1] (default: ${W}, else ${D.topP})`, parseFloatOption('--top-p', 0, 1, { minExclusive: true }))
  .option('--temperature <t>', `divides the logits, > 0 (default: ${W}, else ${D.temperature})`, parseFloatOption('--temperature', 0, Infinity, { minExclusive: true }))
  .option('--cond-scale <s>', `classifier-free guidance scale; 1 turns it off (default: ${W}, else ${D.condScale})`, parseFloatOption('--cond-scale'))
  .option('--seed <seed>', `base seed; image i of the candidates uses seed + i (default ${D.seed})`, parseIntOption('--seed', 0, 0xffffffff))
  .option('--batch-size <b>', `candidates sampled together (default ${D.batchSize})`, parseIntOption('--batch-size', 1, MAX_IMAGES))
  .option('--out <dir>', 'output folder (default out/<slug-of-prompt>)')
  .option('--weights <dir>', 'weights folder: manifest.json + tokenizer/, dvae/, transformer/, clip/ (default: the repository weights/)')
  .option('--clip <model>', 'reranker: a transformers.js CLIP folder, a hub id (with --allow-remote), or none (rank by self-score); default <weights>/clip')
  .option('--allow-remote', 'let --clip download a model from the Hugging Face hub')
  .option('--prime <image>', 'complete this image: keep its first --prime-rows rows of codes')
  .option('--prime-rows <r>', 'grid rows of the --prime image to keep (default half the grid)', parseIntOption('--prime-rows', 1))
  .option('--json', 'print results.json to stdout')
  .action(async (prompt: string, opts: SampleOptions) => {
    if (prompt.trim() === '') throw new UsageError('the prompt is empty: describe the image to generate, e.g. "a red heart"');
    if (opts.primeRows !== undefined && opts.prime === undefined) throw new UsageError('--prime-rows needs --prime IMAGE');
    const partial: Partial<SamplerConfig> = {
      n: opts.images,
      numCandidates: opts.candidates,
      topK: opts.topK,
      topP: opts.topP,
      temperature: opts.temperature,
      condScale: opts.condScale,
      seed: opts.seed,
      batchSize: opts.batchSize,
    };
    resolveSamplerConfig(partial); // fail fast; the model's codebook size bounds topK below
    const out = opts.out ?? path.join('out', promptSlug(prompt));
    await checkOutputFolder(out);
    if (opts.prime !== undefined) await checkImageFile(opts.prime, '--prime');
    const weights = path.resolve(opts.weights ?? DEFAULT_WEIGHTS_DIR);
    await readWeightsManifest(weights);
    rerankerChoice(weights, { clip: opts.clip, allowRemote: opts.allowRemote });
    const log = (line: string) => console.error(line);

    // The models' packages load only once flags and files are known to be good (bad input fails fast).
    const [{ loadPipeline }, { generate, resolvePrimeRows }] = await Promise.all([import('../pipeline.ts'), import('../generate.ts')]);
    await setupBackend(opts);
    const pipeline = await loadPipeline(weights, { clip: opts.clip, allowRemote: opts.allowRemote });
    try {
      const cfg = resolveSamplerConfig(partial, { codebookSize: pipeline.prior.codebookSize }, pipeline.sampling);
      if (opts.prime !== undefined) resolvePrimeRows(opts.primeRows, pipeline.imageTokenizer.gridSize);
      log(`dalle-sample: ${JSON.stringify(prompt)} n=${cfg.n} candidates=${cfg.numCandidates} topK=${cfg.topK} topP=${cfg.topP} temperature=${cfg.temperature} condScale=${cfg.condScale} seed=${cfg.seed} batchSize=${cfg.batchSize} reranker=${pipeline.rerankerName}`);
      if (opts.verbose) log(`weights ${pipeline.source} (loaded in ${formatDuration(pipeline.loadMs / 1000)}), recommended sampling ${JSON.stringify(pipeline.sampling ?? {})}`);
      const total = cfg.numCandidates * pipeline.prior.imageSeqLen;
      const progress = new Progress({ total, label: 'sampling', unit: 'tok' });
      let ticked = 0; // generate reports absolute counts, Progress.tick takes increments
      const result = await generate(prompt, {
        ...cfg,
        pipeline,
        prime: opts.prime ? { image: opts.prime, rows: opts.primeRows } : undefined,
        onProgress: (done) => {
          progress.tick(done - ticked);
          ticked = done;
        },
        onWarning: (w) => log(`warning: ${w}`),
      });
      progress.finish();
      const json = await writeOutputFolder(out, result, { weights: pipeline.source, clip: pipeline.rerankerName, prime: opts.prime ?? null });
      if (opts.verbose) {
        const t = json.timingsMs as Record<string, number>;
        log(`timings (ms): ${Object.entries(t).map(([k, v]) => `${k} ${v}`).join(', ')}`);
        for (const img of result.images) log(`  ${String(img.rank).padStart(2)}  candidate ${img.candidate}  seed ${img.seed}  clip ${img.clipScore?.toFixed(4) ?? '-'}  self ${img.selfScore.toFixed(4)}`);
      }
      log(`wrote ${result.images.length} image(s), grid.png and results.json to ${out}`);
      if (opts.json) process.stdout.write(JSON.stringify(json, null, 2) + '\n');
    } finally {
      await pipeline.dispose();
    }
  });

/** Decodes an image file once (tiny) so a bad path fails before any model loads. */
async function checkImageFile(file: string, flag: string): Promise<void> {
  try {
    await loadImageRgb(file, 8);
  } catch (err) {
    throw new UsageError(`cannot read the ${flag} image ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
}

await runCli(program);
