// The CLIP reranker: @dalle/clip's scorer (transformers.js over a local folder or, when allowed,
// a hub id) behind the sampler's Reranker contract. Imported lazily, so `--clip none` never
// loads transformers.js / onnxruntime.
import type { Reranker } from './types.ts';

export async function clipScorerAdapter(modelIdOrDir: string, options: { allowRemote: boolean }): Promise<Reranker> {
  const { loadClipScorer } = await import('@dalle/clip');
  return loadClipScorer(modelIdOrDir, { allowRemote: options.allowRemote });
}
