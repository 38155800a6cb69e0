// Finding and loading what clip-guide needs from a weights folder: the dVAE (dvae/), our CLIP as a
// TensorFlow.js model (clip/: the folder clip-export writes also holds model.safetensors, which
// loadClip reads), and the text tokenizer CLIP was trained with (beside it, or in tokenizer/).
import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '@dalle/core';
import { loadClip, type ClipModel } from '@dalle/clip';
import { loadTextTokenizer, TOKENIZER_FILE, type TextTokenizer } from '@dalle/data';
import { loadDvae, type Dvae } from '@dalle/dvae';

/** The repository's weights/ folder (packages/guide/src -> ../../../weights), whatever the cwd. */
export const DEFAULT_WEIGHTS_DIR = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../weights');

export interface GuideModels {
  dvae: Dvae;
  clip: ClipModel;
  tokenizer: TextTokenizer;
  /** The folders they came from, for results.json. */
  sources: { dvae: string; clip: string; tokenizer: string };
  dispose(): void;
}

function isDir(p: string): boolean {
  return existsSync(p) && statSync(p).isDirectory();
}

/**
 * Loads the dVAE from `weightsDir`/dvae and CLIP from `clipDir` (default `weightsDir`/clip), with
 * the tokenizer found beside CLIP or in `weightsDir`/tokenizer. Missing parts throw a UsageError
 * naming the folder that was looked at.
 */
export async function loadGuideModels(weightsDir: string, options: { clipDir?: string } = {}): Promise<GuideModels> {
  const dvaeDir = path.join(weightsDir, 'dvae');
  const clipDir = options.clipDir ?? path.join(weightsDir, 'clip');
  if (!options.clipDir && !isDir(weightsDir)) throw new UsageError(`weights folder ${weightsDir} does not exist (expected dvae/ and clip/ inside; pass --weights DIR)`);
  if (!isDir(dvaeDir)) throw new UsageError(`no dVAE at ${dvaeDir} (expected config.json + model.safetensors from dvae-train; pass --weights DIR)`);
  if (!isDir(clipDir)) throw new UsageError(`no CLIP at ${clipDir} (expected a folder from clip-train (final/) or clip-export; pass --clip DIR)`);
  const tokenizerDir = [clipDir, path.join(weightsDir, 'tokenizer')].find((d) => existsSync(path.join(d, TOKENIZER_FILE)));
  if (!tokenizerDir) throw new UsageError(`no ${TOKENIZER_FILE} beside CLIP in ${clipDir} nor in ${path.join(weightsDir, 'tokenizer')}`);
  const tokenizer = await loadTextTokenizer(tokenizerDir);
  const dvae = await loadDvae(dvaeDir);
  let clip: ClipModel;
  try {
    clip = await loadClip(clipDir);
  } catch (err) {
    dvae.dispose();
    if (err instanceof UsageError) throw new UsageError(`${err.message} (clip-guide needs our TensorFlow.js CLIP: a folder from clip-train (final/) or clip-export)`);
    throw err;
  }
  if (tokenizer.vocabSize !== clip.config.textVocabSize || tokenizer.padId !== clip.config.padId) {
    dvae.dispose();
    clip.dispose();
    throw new UsageError(
      `the tokenizer in ${tokenizerDir} (vocabulary ${tokenizer.vocabSize}, pad id ${tokenizer.padId}) does not match CLIP in ${clipDir} (vocabulary ${clip.config.textVocabSize}, pad id ${clip.config.padId})`,
    );
  }
  return {
    dvae,
    clip,
    tokenizer,
    sources: { dvae: dvaeDir, clip: clipDir, tokenizer: tokenizerDir },
    dispose: () => {
      dvae.dispose();
      clip.dispose();
    },
  };
}
