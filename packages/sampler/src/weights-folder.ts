// The weights folder the sampler loads: manifest.json + tokenizer/, dvae/, transformer/, clip/.
// Finds it (default: the repository's weights/, relative to this package, not the cwd), checks
// that it is there, and checks that its parts agree, naming the first mismatch.
import { UsageError } from '@dalle/core';
import { existsSync, promises as fsp, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseModelSampling, type ModelSampling } from './config.ts';

/** The repository's weights/ folder (packages/sampler/src -> ../../../weights). */
export const DEFAULT_WEIGHTS_DIR = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../weights');

export const MANIFEST_FILE = 'manifest.json';
export const PART_DIRS = { tokenizer: 'tokenizer', dvae: 'dvae', transformer: 'transformer', clip: 'clip' } as const;

/** The fields of manifest.json the sampler reads; everything else (licences, metrics) is passed through. */
export interface WeightsManifest {
  name?: string;
  version?: string;
  /** Declared shapes; when present they must match the parts. */
  textSeqLen?: number;
  gridSize?: number;
  codebookSize?: number;
  imageSize?: number;
  tokenizerId?: string;
  /** Sampler settings recommended for this model (checked by readWeightsManifest); flags override them. */
  sampling?: ModelSampling;
  [key: string]: unknown;
}

/** What each part says about itself, as far as agreement goes. */
export interface PartFacts {
  tokenizer: { vocabSize: number; padId: number; identity: string };
  /** identity: of the dVAE whose codes it produces (dvaeCodesId), computed only when the transformer records the dVAE it was trained with. */
  dvae: { codebookSize: number; gridSize: number; imageSize: number; identity?: () => string };
  transformer: {
    textSeqLen: number;
    textVocabSize: number;
    textPadId: number;
    imageSeqLen: number;
    codebookSize: number;
    /** The tokenizer identity the transformer was trained with, when it records one. */
    tokenizerId?: string;
    /** The dVAE identity whose codes the transformer was trained on, when it records one. */
    dvaeId?: string;
  };
  manifest?: WeightsManifest;
}

/** Checks that `dir` is a weights folder with the parts the sampler needs; returns its manifest. */
export async function readWeightsManifest(dir: string): Promise<WeightsManifest> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UsageError(`weights folder ${dir} does not exist (expected ${MANIFEST_FILE} + tokenizer/, dvae/, transformer/; pass --weights DIR)`);
  }
  const file = path.join(dir, MANIFEST_FILE);
  let manifest: WeightsManifest;
  try {
    manifest = JSON.parse(await fsp.readFile(file, 'utf8')) as WeightsManifest;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `${dir} is not a weights folder: no ${MANIFEST_FILE}` : `${file} is not valid JSON`);
  }
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) throw new UsageError(`${file}: expected a JSON object`);
  if (manifest.sampling !== undefined) manifest.sampling = parseModelSampling(manifest.sampling, `${file} "sampling"`);
  for (const part of [PART_DIRS.tokenizer, PART_DIRS.dvae, PART_DIRS.transformer]) {
    const p = path.join(dir, part);
    if (!existsSync(p) || !statSync(p).isDirectory()) throw new UsageError(`weights folder ${dir} has no ${part}/ part`);
  }
  return manifest;
}

function mismatch(what: string, aName: string, a: unknown, bName: string, b: unknown): UsageError {
  return new UsageError(`weights parts disagree on ${what}: ${aName} has ${JSON.stringify(a)} but ${bName} has ${JSON.stringify(b)}`);
}

/** Throws a UsageError naming the first disagreement between the parts (and the manifest). */
export function checkPartsAgree(f: PartFacts): void {
  const { tokenizer, dvae, transformer: tr, manifest: m = {} } = f;
  if (dvae.codebookSize !== tr.codebookSize) throw mismatch('the codebook size', 'dvae/', dvae.codebookSize, 'transformer/', tr.codebookSize);
  if (dvae.gridSize * dvae.gridSize !== tr.imageSeqLen) {
    throw mismatch('the image grid', 'dvae/', `${dvae.gridSize}x${dvae.gridSize} = ${dvae.gridSize ** 2} codes`, 'transformer/', `${tr.imageSeqLen} image positions`);
  }
  if (tokenizer.vocabSize > tr.textVocabSize) throw mismatch('the text vocabulary size', 'tokenizer/', tokenizer.vocabSize, 'transformer/', tr.textVocabSize);
  if (tokenizer.padId !== tr.textPadId) throw mismatch('the text pad id', 'tokenizer/', tokenizer.padId, 'transformer/', tr.textPadId);
  if (tr.tokenizerId !== undefined && tr.tokenizerId !== tokenizer.identity) throw mismatch('the tokenizer identity', 'tokenizer/', tokenizer.identity, 'transformer/ (trained with)', tr.tokenizerId);
  if (tr.dvaeId !== undefined && dvae.identity) {
    const id = dvae.identity();
    if (id !== tr.dvaeId) throw mismatch('the dVAE identity', 'dvae/', id, 'transformer/ (trained on codes of)', tr.dvaeId);
  }
  if (m.codebookSize !== undefined && m.codebookSize !== dvae.codebookSize) throw mismatch('the codebook size', 'manifest.json', m.codebookSize, 'dvae/', dvae.codebookSize);
  if (m.gridSize !== undefined && m.gridSize !== dvae.gridSize) throw mismatch('the grid size', 'manifest.json', m.gridSize, 'dvae/', dvae.gridSize);
  if (m.imageSize !== undefined && m.imageSize !== dvae.imageSize) throw mismatch('the image size', 'manifest.json', m.imageSize, 'dvae/', dvae.imageSize);
  if (m.textSeqLen !== undefined && m.textSeqLen !== tr.textSeqLen) throw mismatch('the text length', 'manifest.json', m.textSeqLen, 'transformer/', tr.textSeqLen);
  if (m.tokenizerId !== undefined && m.tokenizerId !== tokenizer.identity) throw mismatch('the tokenizer identity', 'manifest.json', m.tokenizerId, 'tokenizer/', tokenizer.identity);
}
