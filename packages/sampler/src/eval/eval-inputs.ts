// What dalle-eval checks before any model loads: the eval config, the weights folder (manifest and
// parts), the held-out image spec, a --tokens folder, and a CLIP part when retrieval or R-precision
// runs. Kept apart from run-eval.ts so a bad flag fails without loading the model packages.
import { UsageError } from '@dalle/core';
import { resolveSourceSpec } from '@dalle/data';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_WEIGHTS_DIR, PART_DIRS, readWeightsManifest, type WeightsManifest } from '../weights-folder.ts';
import { resolveEvalConfig, runsPhase, type EvalConfig } from './eval-config.ts';

/** The repository's held-out emoji images (data/emoji/val-images), relative to the package, not the cwd. */
export const DEFAULT_HELD_OUT = path.join(path.dirname(DEFAULT_WEIGHTS_DIR), 'data', 'emoji', 'val-images');

/**
 * A path as the report shows it: relative to `cwd` when it lies inside it (so an eval.md or a
 * manifest written in the repository names `weights`, not this machine's absolute path), else as
 * given. A comma-separated spec is shown part by part.
 */
export function displayPath(p: string, cwd: string = process.cwd()): string {
  return p
    .split(',')
    .map((part) => {
      if (!path.isAbsolute(part)) return part;
      const rel = path.relative(cwd, part);
      return rel === '' ? '.' : rel.startsWith('..') || path.isAbsolute(rel) ? part : rel;
    })
    .join(',');
}

/** Where the evaluation reads from (every field optional: defaults are the repository's). */
export interface EvalInputs {
  /** Weights folder (default: the repository weights/). */
  weights?: string;
  /** Held-out captioned images (default: the repository data/emoji/val-images). */
  images?: string;
  /** A token dataset of the held-out split (dvae-encode); without it the images are encoded here. */
  tokens?: string;
}

/** Does the run read the held-out images (every phase but a transformer fed by --tokens, and the sheet)? */
export function needsHeldOutImages(cfg: Pick<EvalConfig, 'skip'>, tokens: string | undefined): boolean {
  return runsPhase(cfg, 'dvae') || (runsPhase(cfg, 'transformer') && tokens === undefined) || runsPhase(cfg, 'clip') || runsPhase(cfg, 'generation');
}

/** Checks flags and files that need no model, so bad input fails before anything loads. */
export async function checkEvalInputs(options: EvalInputs & Partial<EvalConfig>): Promise<{ cfg: EvalConfig; weights: string; images: string; clipDir: string | null; manifest: WeightsManifest }> {
  const cfg = resolveEvalConfig(options);
  const weights = path.resolve(options.weights ?? DEFAULT_WEIGHTS_DIR);
  const manifest = await readWeightsManifest(weights);
  const images = options.images ?? DEFAULT_HELD_OUT;
  if (needsHeldOutImages(cfg, options.tokens)) resolveSourceSpec(images);
  if (options.tokens !== undefined && !existsSync(options.tokens)) throw new UsageError(`no token dataset at ${options.tokens} (make one with dvae-encode from the held-out images, or leave --tokens out to encode them here)`);
  const clipPath = path.join(weights, PART_DIRS.clip);
  const needClip = runsPhase(cfg, 'clip') || runsPhase(cfg, 'generation');
  if (needClip && !existsSync(clipPath)) throw new UsageError(`no CLIP model at ${clipPath}: retrieval and R-precision need one (or pass --skip clip,generation)`);
  return { cfg, weights, images, clipDir: existsSync(clipPath) ? clipPath : null, manifest };
}

