// evaluateModel(): the held-out evaluation of a weights folder, phase by phase: dVAE reconstruction
// (PSNR, code perplexity), transformer losses with true and shuffled captions (conditional gain),
// CLIP retrieval R@1/R@5, generation R-precision (DALL-E / AttnGAN protocol) and a contact sheet.
import { contactSheet, currentBackend, UsageError } from '@dalle/core';
import type { ClipScorer } from '@dalle/clip';
import { openCaptionSource, openTokenDataset } from '@dalle/data';
import { checkDatasetFits, disposeTransformer, evaluateLoss, loadTransformer, type EvalLosses, type TokenBatchSource, type TransformerModel } from '@dalle/transformer';
import * as tf from '@tensorflow/tfjs-core';
import * as path from 'node:path';
import { resolveSamplerConfig, type SamplerConfig } from '../config.ts';
import { generate, type Pipeline } from '../generate.ts';
import { loadPipeline } from '../pipeline.ts';
import type { Reranker } from '../types.ts';
import { PART_DIRS } from '../weights-folder.ts';
import { runsPhase, type EvalConfig, type EvalPhase } from './eval-config.ts';
import { checkEvalInputs, displayPath, needsHeldOutImages, type EvalInputs } from './eval-inputs.ts';
import { encodeHeldOut, memoryTokenSource, readHeldOut, shuffledCaptions, type DvaeMetrics, type HeldOutImages } from './held-out.ts';
import { conditionalGainOf, consecutiveGroups, meanRecall, retrievalRecall, rPrecision, type RecallAtK, type SimilarityMatrix } from './metrics.ts';

/** A progress bar for one phase (the CLI passes core's Progress). */
export interface PhaseProgress {
  tick(n?: number): void;
  finish(): void;
}
export type ProgressFactory = (label: string, total: number, unit: string) => PhaseProgress;

export interface EvaluateModelOptions extends Partial<EvalConfig>, EvalInputs {
  progress?: ProgressFactory;
  onWarning?: (message: string) => void;
}

export interface TransformerMetrics {
  records: number;
  /** Where the records came from: a token dataset folder, or the held-out images encoded here. */
  source: string;
  /** Nats per token with each image's own caption. */
  trueCaptions: { text: number; image: number };
  /** Nats per token with captions deranged among the records (the text loss cannot change: same captions). */
  shuffledCaptions: { text: number; image: number };
  /** 1 - true / shuffled image loss. */
  conditionalGain: number;
  shuffleSeed: number;
}

export interface ClipMetrics {
  images: number;
  groups: number;
  groupSize: number;
  /** How the figure was formed, in words. */
  protocol: string;
  imageToText: RecallAtK;
  textToImage: RecallAtK;
}

export interface GenerationMetrics {
  prompts: number;
  numCandidates: number;
  groups: number;
  /** Captions each generated image is ranked among. */
  among: number;
  protocol: string;
  rPrecision: number;
  correct: number;
  /** Mean CLIP cosine similarity of each kept image with its own caption. */
  meanClipScore: number;
}

export interface SheetInfo {
  file: string;
  prompts: string[];
  perPrompt: number;
  numCandidates: number;
  scale: number;
}

export interface EvalReport {
  kind: 'dalle-eval';
  formatVersion: 1;
  weights: string;
  manifest: { name: string | null; version: string | null };
  heldOut: { spec: string; images: number; skipped: number; limit: number | 'all' } | null;
  backend: string;
  settings: SamplerSettings & { numCandidates: number; groupSize: number; skip: EvalPhase[] };
  dvae: DvaeMetrics | null;
  transformer: TransformerMetrics | null;
  clip: ClipMetrics | null;
  generation: GenerationMetrics | null;
  sheet: SheetInfo | null;
  /** Wall time of each phase; a skipped phase is absent. */
  timingsMs: Record<string, number>;
}

export interface EvalResult {
  report: EvalReport;
  /** contact-sheet.png bytes (null when the sheet was skipped). */
  sheetPng: Buffer | null;
}

export const SHEET_FILE = 'contact-sheet.png';
const SHEET_SCALE = 2;

const noProgress: ProgressFactory = () => ({ tick() {}, finish() {} });

/** Runs every phase not skipped and returns the report (plus the sheet's PNG bytes). */
export async function evaluateModel(options: EvaluateModelOptions = {}): Promise<EvalResult> {
  const { cfg, weights, images, clipDir, manifest } = await checkEvalInputs(options);
  const progress = options.progress ?? noProgress;
  const warn = options.onWarning ?? (() => {});
  const timingsMs: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      timingsMs[name] = Math.round(performance.now() - t0);
    }
  };

  let scorer: ClipScorer | null = null;
  let pipeline: Pipeline | undefined;
  try {
    // One CLIP for every phase: retrieval, R-precision and the pipeline's reranker.
    const tLoad = performance.now();
    if (clipDir) scorer = await (await import('@dalle/clip')).loadClipScorer(clipDir);
    const s = scorer;
    const reranker: Reranker | string = s ? { score: (prompt, imgs) => s.score(prompt, imgs) } : 'none';
    pipeline = await loadPipeline(weights, { clip: reranker });
    timingsMs.load = Math.round(performance.now() - tLoad);
    const p = pipeline;
    const tok = p.imageTokenizer;
    const sc = resolveSamplerConfig(
      { n: 1, numCandidates: cfg.numCandidates, topK: cfg.topK, topP: cfg.topP, temperature: cfg.temperature, condScale: cfg.condScale, seed: cfg.seed, batchSize: cfg.batchSize },
      { codebookSize: p.prior.codebookSize },
      p.sampling,
    );
    const sampler: SamplerSettings = { topK: sc.topK, topP: sc.topP, temperature: sc.temperature, condScale: sc.condScale, seed: sc.seed, batchSize: sc.batchSize };

    let heldOut: HeldOutImages | null = null;
    if (needsHeldOutImages(cfg, options.tokens)) {
      heldOut = await timed('read', async () => {
        const bar = progress('reading', await countRecords(images, cfg.limit), 'img');
        const h = await readHeldOut(images, tok.imageSize, cfg.limit, () => bar.tick());
        bar.finish();
        return h;
      });
    }

    // dVAE: one encode pass; the transformer phase reuses its codes when no --tokens is given.
    let dvae: DvaeMetrics | null = null;
    let codes: Int32Array[] | null = null;
    const needCodes = runsPhase(cfg, 'dvae') || (runsPhase(cfg, 'transformer') && !options.tokens);
    if (needCodes && heldOut) {
      const h = heldOut;
      const encoded = await timed(runsPhase(cfg, 'dvae') ? 'dvae' : 'encode', async () => {
        const bar = progress('dvae', h.images.length, 'img');
        let ticked = 0;
        const r = await encodeHeldOut(tok, h.images, cfg.evalBatchSize, (done) => {
          bar.tick(done - ticked);
          ticked = done;
        });
        bar.finish();
        return r;
      });
      codes = encoded.codes;
      if (runsPhase(cfg, 'dvae')) dvae = encoded.metrics;
    }

    let transformer: TransformerMetrics | null = null;
    if (runsPhase(cfg, 'transformer')) {
      transformer = await timed('transformer', () => transformerPhase(weights, cfg, options.tokens, heldOut, codes, p, progress));
    }

    let clip: ClipMetrics | null = null;
    if (runsPhase(cfg, 'clip') && heldOut && s) {
      const h = heldOut;
      clip = await timed('clip', () => clipPhase(s, h, cfg, progress, warn));
    }

    let generation: GenerationMetrics | null = null;
    if (runsPhase(cfg, 'generation') && heldOut && s) {
      const h = heldOut;
      generation = await timed('generation', () => generationPhase(p, s, h, cfg, sampler, progress, warn));
    }

    let sheet: SheetInfo | null = null;
    let sheetPng: Buffer | null = null;
    if (runsPhase(cfg, 'sheet')) {
      const made = await timed('sheet', () => sheetPhase(p, cfg, sampler, progress));
      sheet = made.info;
      sheetPng = made.png;
    }

    const report: EvalReport = {
      kind: 'dalle-eval',
      formatVersion: 1,
      weights: displayPath(weights),
      manifest: { name: typeof manifest.name === 'string' ? manifest.name : null, version: typeof manifest.version === 'string' ? manifest.version : null },
      heldOut: heldOut ? { spec: displayPath(heldOut.spec), images: heldOut.images.length, skipped: heldOut.skipped, limit: cfg.limit ?? 'all' } : null,
      backend: currentBackend()?.name ?? tf.getBackend(),
      settings: { ...sampler, numCandidates: cfg.numCandidates, groupSize: cfg.groupSize, skip: cfg.skip },
      dvae,
      transformer,
      clip,
      generation,
      sheet,
      timingsMs,
    };
    return { report, sheetPng };
  } finally {
    // The pipeline's reranker wraps the scorer without a dispose of its own: free the scorer here.
    await pipeline?.dispose();
    await scorer?.dispose();
  }
}

/** Records in an image source, counted from its captions alone (no image decoding). */
async function countRecords(spec: string, limit: number | null): Promise<number> {
  let n = 0;
  for await (const _ of openCaptionSource(spec, { limit: limit ?? undefined, onSkip: () => {} })) n++;
  return n;
}

/** Weighted mean losses over `source` in windows of `batchSize` records, ticking once per window. */
function windowedLoss(model: TransformerModel, source: TokenBatchSource, n: number, batchSize: number, tick: () => void): EvalLosses {
  let text = 0;
  let image = 0;
  let loss = 0;
  for (let start = 0; start < n; start += batchSize) {
    const count = Math.min(batchSize, n - start);
    const window: TokenBatchSource = { size: count, manifest: source.manifest, batch: (idx) => source.batch(idx.map((i) => start + i)) };
    const l = evaluateLoss(model, window, { batchSize });
    text += l.text * count;
    image += l.image * count;
    loss += l.loss * count;
    tick();
  }
  return { text: text / n, image: image / n, loss: loss / n, items: n };
}

async function transformerPhase(
  weights: string,
  cfg: EvalConfig,
  tokens: string | undefined,
  heldOut: HeldOutImages | null,
  codes: Int32Array[] | null,
  p: Pipeline,
  progress: ProgressFactory,
): Promise<TransformerMetrics> {
  // The pipeline holds the same transformer behind the sampler's ImagePrior contract, which hides
  // the parameters evaluateLoss needs, so the losses load their own copy (freed after the phase).
  const model = await loadTransformer(path.join(weights, PART_DIRS.transformer));
  try {
    const mc = model.config;
    let source: TokenBatchSource;
    let where: string;
    if (tokens !== undefined) {
      const ds = await openTokenDataset(tokens);
      checkDatasetFits(mc, model.info, ds.manifest, tokens);
      source = ds;
      where = displayPath(path.resolve(tokens));
    } else {
      if (!heldOut || !codes) throw new Error('internal: the held-out codes were not computed');
      const str = (v: unknown) => (typeof v === 'string' ? v : '');
      const identity = { textSeqLen: mc.textSeqLen, gridSize: mc.gridSize, codebookSize: mc.imageVocabSize, textVocabSize: mc.textVocabSize, dvaeId: str(model.info.dvaeId), tokenizerId: str(model.info.tokenizerId) };
      source = memoryTokenSource(heldOut.captions, codes, p.promptEncoder, identity);
      where = `${displayPath(heldOut.spec)} (encoded here: first caption of each image)`;
    }
    const n = Math.min(source.size, cfg.limit ?? source.size);
    if (n < 2) throw new UsageError(`the transformer phase needs at least 2 held-out records (true versus shuffled captions), got ${n}`);
    const windows = Math.ceil(n / cfg.evalBatchSize);
    const bar = progress('transformer', 2 * windows, 'batch');
    const own = windowedLoss(model, source, n, cfg.evalBatchSize, () => bar.tick());
    const shuffled = windowedLoss(model, shuffledCaptions(source, n, cfg.shuffleSeed), n, cfg.evalBatchSize, () => bar.tick());
    bar.finish();
    return {
      records: n,
      source: where,
      trueCaptions: { text: own.text, image: own.image },
      shuffledCaptions: { text: shuffled.text, image: shuffled.image },
      conditionalGain: conditionalGainOf(own.image, shuffled.image),
      shuffleSeed: cfg.shuffleSeed,
    };
  } finally {
    disposeTransformer(model);
  }
}

/** Cosine similarities [rows.length, cols.length] of two sets of L2-normalised embeddings, as numbers. */
async function similarityRows(imageEmb: tf.Tensor2D, textEmb: tf.Tensor2D, rows: number[]): Promise<SimilarityMatrix> {
  const sim = tf.tidy(() => {
    const idx = tf.tensor1d(rows, 'int32');
    return tf.matMul(tf.gather(imageEmb, idx), tf.gather(textEmb, idx), false, true);
  });
  try {
    return (await sim.array()) as number[][];
  } finally {
    sim.dispose();
  }
}

function groupProtocol(used: number, groups: number, among: number, what: string): string {
  return groups === 1 ? `first ${used} ${what}, one group of ${among}` : `average over ${groups} consecutive groups of ${among} (first ${used} ${what})`;
}

async function clipPhase(scorer: ClipScorer, h: HeldOutImages, cfg: EvalConfig, progress: ProgressFactory, warn: (m: string) => void): Promise<ClipMetrics> {
  const n = Math.min(cfg.clipImages, h.images.length);
  if (n < cfg.clipImages) warn(`CLIP retrieval: only ${n} held-out images (asked for ${cfg.clipImages}); ranking among ${Math.min(n, cfg.groupSize)}`);
  const groups = consecutiveGroups(n, cfg.groupSize);
  const used = groups.length * groups[0].length;
  const bar = progress('clip', groups.length + 1, 'group');
  const size = h.imageSize;
  const imageEmb = await scorer.embedImages(h.images.slice(0, used).map((data) => ({ data, width: size, height: size })));
  let textEmb: tf.Tensor2D | undefined;
  try {
    textEmb = await scorer.embedTexts(h.captions.slice(0, used));
    bar.tick();
    const recalls = [];
    for (const g of groups) {
      recalls.push(retrievalRecall(await similarityRows(imageEmb, textEmb, g)));
      bar.tick();
    }
    bar.finish();
    const mean = meanRecall(recalls);
    return { images: used, groups: groups.length, groupSize: mean.among, protocol: groupProtocol(used, groups.length, mean.among, 'held-out images with their first caption'), imageToText: mean.imageToText, textToImage: mean.textToImage };
  } finally {
    imageEmb.dispose();
    textEmb?.dispose();
  }
}

/** The sampler settings that generation and the sheet share, as resolved for the loaded model. */
type SamplerSettings = Pick<SamplerConfig, 'topK' | 'topP' | 'temperature' | 'condScale' | 'seed' | 'batchSize'>;

async function generationPhase(
  p: Pipeline,
  scorer: ClipScorer,
  h: HeldOutImages,
  cfg: EvalConfig,
  sampler: SamplerSettings,
  progress: ProgressFactory,
  warn: (m: string) => void,
): Promise<GenerationMetrics> {
  const P = Math.min(cfg.prompts, h.captions.length);
  if (P < cfg.prompts) warn(`generation: only ${P} held-out captions (asked for ${cfg.prompts})`);
  const groups = consecutiveGroups(P, cfg.groupSize);
  const used = groups.length * groups[0].length;
  if (used < P) warn(`generation: ${P - used} prompt(s) beyond the last full group of ${cfg.groupSize} are left out`);
  const captions = h.captions.slice(0, used);
  const perPrompt = cfg.numCandidates * p.prior.imageSeqLen;
  const bar = progress('generation', used * perPrompt, 'tok');
  const pixels: Float32Array[] = [];
  let clipSum = 0;
  for (const caption of captions) {
    let ticked = 0;
    const r = await generate(caption, {
      ...sampler,
      pipeline: p,
      n: 1,
      numCandidates: cfg.numCandidates,
      onProgress: (done) => {
        bar.tick(done - ticked);
        ticked = done;
      },
    });
    pixels.push(r.images[0].pixels);
    clipSum += r.images[0].clipScore ?? 0;
  }
  bar.finish();
  const size = p.imageTokenizer.imageSize;
  const imageEmb = await scorer.embedImages(pixels.map((data) => ({ data, width: size, height: size })));
  let textEmb: tf.Tensor2D | undefined;
  try {
    textEmb = await scorer.embedTexts(captions);
    let correct = 0;
    for (const g of groups) correct += rPrecision(await similarityRows(imageEmb, textEmb, g)).correct;
    const among = groups[0].length;
    return {
      prompts: used,
      numCandidates: cfg.numCandidates,
      groups: groups.length,
      among,
      protocol: groupProtocol(used, groups.length, among, 'held-out captions (first caption of each image)'),
      rPrecision: correct / used,
      correct,
      meanClipScore: clipSum / used,
    };
  } finally {
    imageEmb.dispose();
    textEmb?.dispose();
  }
}

async function sheetPhase(p: Pipeline, cfg: EvalConfig, sampler: SamplerSettings, progress: ProgressFactory): Promise<{ info: SheetInfo; png: Buffer }> {
  const numCandidates = Math.max(cfg.sheetCandidates, cfg.perPrompt);
  const bar = progress('sheet', cfg.sheetPrompts.length * numCandidates * p.prior.imageSeqLen, 'tok');
  const pixels: Float32Array[] = [];
  for (const prompt of cfg.sheetPrompts) {
    let ticked = 0;
    const r = await generate(prompt, {
      ...sampler,
      pipeline: p,
      n: cfg.perPrompt,
      numCandidates,
      onProgress: (done) => {
        bar.tick(done - ticked);
        ticked = done;
      },
    });
    for (const img of r.images) pixels.push(img.pixels);
  }
  bar.finish();
  const png = await contactSheet(pixels, p.imageTokenizer.imageSize, { cols: cfg.perPrompt, scale: SHEET_SCALE });
  return { info: { file: SHEET_FILE, prompts: [...cfg.sheetPrompts], perPrompt: cfg.perPrompt, numCandidates, scale: SHEET_SCALE }, png };
}
