// loadPipeline(): loads a weights folder once (tokenizer, dVAE, transformer, optional CLIP
// reranker), checks that the parts agree, and wraps them behind the sampler's contracts so
// many prompts can reuse them (dalle-sample, dalle-eval).
import { clipScorerAdapter } from './clip-adapter.ts';
import { encodeText, loadTextTokenizer, type TextTokenizer } from '@dalle/data';
import { dvaeCodesId, loadDvae, type Dvae } from '@dalle/dvae';
import { disposeTransformer, imageSeqLen, loadTransformer, type TransformerModel } from '@dalle/transformer';
import * as path from 'node:path';
import type { Pipeline } from './generate.ts';
import { transformerPrior } from './transformer-prior.ts';
import { rerankerChoice, type LoadPipelineOptions, type RerankerChoice } from './reranker-choice.ts';
import type { PromptEncoder, Reranker } from './types.ts';
import { checkPartsAgree, DEFAULT_WEIGHTS_DIR, PART_DIRS, readWeightsManifest, type WeightsManifest } from './weights-folder.ts';

export type { LoadPipelineOptions } from './reranker-choice.ts';

/** The text tokenizer behind the sampler's PromptEncoder contract. */
export function tokenizerPromptEncoder(tok: TextTokenizer, textSeqLen: number): PromptEncoder {
  return { textSeqLen, padId: tok.padId, encode: (prompt) => encodeText(tok, prompt, textSeqLen) };
}

async function loadReranker(spec: RerankerChoice): Promise<{ reranker: Reranker | null; name: string }> {
  if (spec === null) return { reranker: null, name: 'none' };
  if ('score' in spec) return { reranker: spec, name: 'custom' };
  return { reranker: await clipScorerAdapter(spec.name, { allowRemote: spec.allowRemote }), name: spec.name };
}

/** Loads and checks a weights folder (default: the repository's weights/). */
export async function loadPipeline(weightsDir: string = DEFAULT_WEIGHTS_DIR, options: LoadPipelineOptions = {}): Promise<Pipeline & { manifest: WeightsManifest }> {
  const t0 = performance.now();
  const dir = path.resolve(weightsDir);
  const manifest = await readWeightsManifest(dir);
  const spec = rerankerChoice(dir, options); // fail fast, before the models load
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
      dvae: { codebookSize: dvae.codebookSize, gridSize: dvae.gridSize, imageSize: dvae.imageSize, identity: () => dvaeCodesId(dvae!) },
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
      sampling: manifest.sampling,
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
