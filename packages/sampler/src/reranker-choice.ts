// Which reranker a pipeline will use (--clip): checked from the file system alone, so a bad
// choice fails before any model package loads.
import { UsageError } from '@dalle/core';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Reranker } from './types.ts';
import { PART_DIRS } from './weights-folder.ts';

export interface LoadPipelineOptions {
  /**
   * The reranker: 'none' ranks by self-score only; a folder or (with allowRemote) a hub id of a
   * transformers.js CLIP model; default: the weights folder's clip/ part. A Reranker object is used as is.
   */
  clip?: string | Reranker;
  /** Let --clip name a model on the Hugging Face hub (downloads it); off by default. */
  allowRemote?: boolean;
}

/** null: rank by self-score; a Reranker: use it; otherwise a CLIP folder or hub id to load. */
export type RerankerChoice = Reranker | { name: string; allowRemote: boolean } | null;

/** What --clip asks for, checked before any model loads: a Reranker object, none, or a folder / hub id. */
export function rerankerChoice(weightsDir: string, options: LoadPipelineOptions): RerankerChoice {
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

