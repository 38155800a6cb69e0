// A tiny weights folder built in a temp dir through the other packages' library functions:
// a BPE tokenizer trained on a few captions, a random tiny dVAE (16x16 images, 4x4 grid, K 32)
// and a random tiny transformer sized to both, optionally a random tiny CLIP (transformers.js
// layout), plus manifest.json. `change` makes mismatched folders.
import { ClipModel, CLIP_PRESETS, exportTransformersJs } from '@dalle/clip';
import { trainTextTokenizer } from '@dalle/data';
import { dvaeIdentity, Dvae, DVAE_PRESETS, saveDvae } from '@dalle/dvae';
import { createTransformer, disposeTransformer, resolveTransformerConfig, saveTransformer, TRANSFORMER_PRESETS, type TransformerConfig } from '@dalle/transformer';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export const FIXTURE_CAPTIONS = ['a red heart', 'a blue star', 'a smiling cat face', 'a green tree', 'a yellow sun with a smile', 'a grinning face'];

export interface TinyWeights {
  dir: string;
  textSeqLen: number;
  gridSize: number;
  codebookSize: number;
  imageSize: number;
}

export async function makeTinyWeights(options: { dir?: string; seed?: number; transformer?: Partial<TransformerConfig>; manifest?: Record<string, unknown>; clip?: boolean } = {}): Promise<TinyWeights> {
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'sampler-weights-'));
  const seed = options.seed ?? 1;
  const textSeqLen = 12; // "a red heart" is 9 tokens under this small BPE
  const tok = await trainTextTokenizer(FIXTURE_CAPTIONS, { outDir: path.join(dir, 'tokenizer'), vocabSize: 300, textSeqLen });
  const dvae = Dvae.create(DVAE_PRESETS.tiny, seed);
  const dvaeId = dvaeIdentity(dvae);
  await saveDvae(path.join(dir, 'dvae'), dvae);
  const facts = { textSeqLen, gridSize: dvae.gridSize, codebookSize: dvae.codebookSize, imageSize: dvae.imageSize };
  dvae.dispose();
  const cfg = resolveTransformerConfig({
    ...TRANSFORMER_PRESETS.tiny,
    textSeqLen,
    textVocabSize: tok.vocabSize,
    gridSize: facts.gridSize,
    imageVocabSize: facts.codebookSize,
    ...options.transformer,
  });
  const model = createTransformer(cfg, seed);
  await saveTransformer(path.join(dir, 'transformer'), model, { tokenizerId: tok.identity, dvaeId });
  disposeTransformer(model);
  if (options.clip) {
    // A random tiny CLIP on the same tokenizer, exported in the transformers.js layout (clip/).
    const clip = new ClipModel({ ...CLIP_PRESETS.tiny, imageSize: facts.imageSize, textVocabSize: tok.vocabSize }, seed);
    await exportTransformersJs(clip, path.join(dir, 'tokenizer'), path.join(dir, 'clip'));
    clip.dispose();
  }
  const manifest = { name: 'tiny-fixture', version: '0.0.0', ...facts, tokenizerId: tok.identity, ...options.manifest };
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return { dir, ...facts };
}
