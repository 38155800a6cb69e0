// Tiny random models for the guide tests, built here: a tiny dVAE (16x16 images, 4x4 grid, K 32),
// a tiny CLIP (16x16 images, text length 8) and a word-level tokenizer object over a fixed word
// list; plus a weights folder (dvae/, clip/, tokenizer/) written through the packages' savers.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CLIP_PRESETS, ClipModel, saveClip } from '@dalle/clip';
import { trainTextTokenizer, type TextTokenizer } from '@dalle/data';
import { Dvae, DVAE_PRESETS, saveDvae } from '@dalle/dvae';

export const WORDS = ['[PAD]', '[UNK]', 'a', 'red', 'green', 'blue', 'heart', 'star', 'cat', 'face', 'smiling'];

/** Splits on spaces; unknown words map to [UNK] (1); pads with 0. */
export const wordTokenizer: TextTokenizer = {
  vocabSize: WORDS.length,
  padId: 0,
  identity: 'test-words',
  encode: (text) => text.toLowerCase().split(/\s+/).filter(Boolean).map((w) => Math.max(1, WORDS.indexOf(w))),
  decode: (ids) => ids.map((i) => WORDS[i]).join(' '),
};

export interface TinyModels {
  dvae: Dvae;
  clip: ClipModel;
  dispose(): void;
}

export function tinyModels(seed = 1, textVocabSize = WORDS.length): TinyModels {
  const dvae = Dvae.create(DVAE_PRESETS.tiny, seed);
  const clip = new ClipModel({ ...CLIP_PRESETS.tiny, textVocabSize }, seed + 1);
  return {
    dvae,
    clip,
    dispose: () => {
      dvae.dispose();
      clip.dispose();
    },
  };
}

export const FIXTURE_CAPTIONS = ['a red heart', 'a blue star', 'a smiling cat face', 'a green tree'];

/** A weights folder with dvae/, clip/ and tokenizer/ (a BPE tokenizer trained on a few captions). */
export async function makeTinyWeights(seed = 1): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'guide-weights-'));
  const tok = await trainTextTokenizer(FIXTURE_CAPTIONS, { outDir: path.join(dir, 'tokenizer'), vocabSize: 300, textSeqLen: 8 });
  const m = tinyModels(seed, tok.vocabSize);
  try {
    await saveDvae(path.join(dir, 'dvae'), m.dvae);
    await saveClip(m.clip, path.join(dir, 'clip'));
  } finally {
    m.dispose();
  }
  return dir;
}
