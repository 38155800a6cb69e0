// loadPipeline(): loads a weights folder once (tokenizer, dVAE, transformer, optional CLIP
// reranker), checks that the parts agree, and wraps them behind the sampler's contracts so
// many prompts can reuse them (dalle-sample, dalle-eval).
import { UsageError } from '@dalle/core';
import { clipScorerAdapter } from './clip-adapter.ts';
import { encodeText, loadTextTokenizer, type TextTokenizer } from '@dalle/data';
import { dvaeIdentity, loadDvae, type Dvae } from '@dalle/dvae';
import { disposeTransformer, imageSeqLen, loadTransformer, type TransformerModel } from '@dalle/transformer';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Pipeline } from './generate.ts';
import { transformerPrior } from './transformer-prior.ts';
import type { PromptEncoder, Reranker } from './types.ts';
import { checkPartsAgree, DEFAULT_WEIGHTS_DIR, PART_DIRS, readWeightsManifest, type WeightsManifest } from './weights-folder.ts';

export interface LoadPipelineOptions {
  /**
   * The reranker: 'none' ranks by self-score only; a folder or (with allowRemote) a hub id of a
   * transformers.js CLIP model; default: the weights folder's clip/ part. A Reranker object is used as is.
   */
  clip?: string | Reranker;
  /** Let --clip name a model on the Hugging Face hub (downloads it); off by default. */
  allowRemote?: boolean;
}

/** The text tokenizer behind the sampler's PromptEncoder contract. */
export function tokenizerPromptEncoder(tok: TextTokenizer, textSeqLen: number): PromptEncoder {
  return { textSeqLen, padId: tok.padId, encode: (prompt) => encodeText(tok, prompt, textSeqLen) };
}

/** What --clip asks for, checked before any model loads: a Reranker object, none, or a folder / hub id. */
function rerankerSpec(weightsDir: string, options: LoadPipelineOptions): Reranker | { name: string; allowRemote: boolean } | null {
  const clip = options.clip;
  if (clip !== undefined && typeof clip !== 'string') return clip;
  if (clip === 'none') return null;
  if (clip === undefined) {
    const dir = path.join(weightsDir, PART_DIRS.clip);
    if (!existsSync(dir)) throw new UsageError(`no CLIP model at ${dir}: pass --clip none to rank by self-score, or --clip MODEL`);
    return { name: dir, allowRemote: false };
  }
  if (clip.trim() === '') throw new UsageError('--clip is empty: give a CLIP model folder, a hub id (with --allow-remote) or none');
  const allowRemote = options.allowRemote ?? false;
  if (!allowRemote && !existsSync(clip)) throw new UsageError(`no CLIP folder at ${clip}: give a transformers.js CLIP folder, none, or a hub id with --allow-remote`);
  return { name: clip, allowRemote };
}

async function loadReranker(spec: ReturnType<typeof rerankerSpec>): Promise<{ reranker: Reranker | null; name: string }> {
  if (spec === null) return { reranker: null, name: 'none' };
  if ('score' in spec) return { reranker: spec, name: 'custom' };
  return { reranker: await clipScorerAdapter(spec.name, { allowRemote: spec.allowRemote }), name: spec.name };
}

/** Loads and checks a weights folder (default: the repository's weights/). */
export async function loadPipeline(weightsDir: string = DEFAULT_WEIGHTS_DIR, options: LoadPipelineOptions = {}): Promise<Pipeline & { manifest: WeightsManifest }> {
  const t0 = performance.now();
  const dir = path.resolve(weightsDir);
  const manifest = await readWeightsManifest(dir);
  const spec = rerankerSpec(dir, options); // fail fast, before the models load
  let dvae: Dvae | undefined;
  let model: TransformerModel | undefined;
  try {
    const tokenizer = await loadTextTokenizer(path.join(dir, PART_DIRS.tokenizer));
    dvae = await loadDvae(path.join(dir, PART_DIRS.dvae));
    model = await loadTransformer(path.join(dir, PART_DIRS.transformer));
    const cfg = model.config;
    checkPartsAgree({
      manifest,
      tokenizer: { vocabSize: tokenizer.vocabSize, padId: tokenizer.padId, identity: tokenizer.identity },
      dvae: { codebookSize: dvae.codebookSize, gridSize: dvae.gridSize, imageSize: dvae.imageSize, identity: () => dvaeIdentity(dvae!) },
      transformer: {
        textSeqLen: cfg.textSeqLen,
        textVocabSize: cfg.textVocabSize,
        textPadId: cfg.textPadId,
        imageSeqLen: imageSeqLen(cfg),
        codebookSize: cfg.imageVocabSize,
        tokenizerId: typeof model.info?.tokenizerId === 'string' ? model.info.tokenizerId : undefined,
        dvaeId: typeof model.info?.dvaeId === 'string' ? model.info.dvaeId : undefined,
      },
    });
    const { reranker, name } = await loadReranker(spec);
    const loaded = model;
    const loadedDvae = dvae;
    return {
      source: dir,
      manifest,
      prior: transformerPrior(loaded),
      imageTokenizer: loadedDvae,
      promptEncoder: tokenizerPromptEncoder(tokenizer, cfg.textSeqLen),
      reranker,
      rerankerName: name,
      loadMs: performance.now() - t0,
      async dispose() {
        disposeTransformer(loaded);
        loadedDvae.dispose();
        await reranker?.dispose?.();
      },
    };
  } catch (err) {
    if (model) disposeTransformer(model);
    dvae?.dispose();
    throw err;
  }
}
