// Writing a clipGuide result as a folder, as dalle-sample does: 01.png … (best CLIP score first),
// grid.png (core's contact sheet), results.json (prompt, settings, per-image score, seed, codes) and,
// when asked, frames/step-NNNN.png. Everything is written into a temporary folder that replaces
// --out in one rename, so --out never holds half a run.
import { constants as fsc, existsSync, promises as fsp, statSync } from 'node:fs';
import * as path from 'node:path';
import { contactSheet, encodePng, imageFileName, promptSlug, UsageError, writeDirAtomic } from '@dalle/core';
import type { GuideFrame, GuideResult } from './guide.ts';

/** What a previous run leaves in an output folder; a folder holding anything else is refused. */
const OUTPUT_ENTRY = /^(\d{2,}\.png|grid\.png|results\.json|frames)$/;

export const FRAMES_DIR = 'frames';

export { promptSlug, imageFileName };

/** frames/step-0000.png … padded to the width of the last step. */
export function frameFileName(step: number, steps: number): string {
  return path.join(FRAMES_DIR, `step-${String(step).padStart(Math.max(4, String(steps).length), '0')}.png`);
}

/** Scale factor that makes small images about 128 px wide in contact sheets. */
function sheetScale(size: number): number {
  return Math.max(1, Math.round(128 / size));
}

/**
 * Checks before any work that `outDir` can be written: its parent can be created and written, and
 * it is absent, empty, or a previous run's output. Throws UsageError saying what is wrong.
 */
export async function checkOutputFolder(outDir: string): Promise<void> {
  const dir = path.resolve(outDir);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new UsageError(`--out ${outDir} exists and is not a folder`);
    const others = (await fsp.readdir(dir)).filter((f) => !OUTPUT_ENTRY.test(f));
    if (others.length > 0) throw new UsageError(`--out ${outDir} already holds other files (e.g. ${others[0]}); choose a new or empty folder, or one a previous run wrote`);
  }
  const parent = path.dirname(dir);
  try {
    await fsp.mkdir(parent, { recursive: true });
    await fsp.access(parent, fsc.W_OK);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(`cannot write to --out ${outDir}: ${e.code ?? ''} ${e.message.split('\n')[0]}`.replace(/\s+/g, ' '));
  }
}

/** Writes one frame (a contact sheet of every image, in batch order) under `dir`/frames/. */
export async function writeFrame(dir: string, frame: GuideFrame, steps: number, imageSize: number): Promise<void> {
  const file = path.join(dir, frameFileName(frame.step, steps));
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await fsp.writeFile(file, await contactSheet(frame.images, imageSize, { scale: sheetScale(imageSize) }));
}

/** Batch indices sorted by final CLIP score, best first (ties keep batch order). */
export function rankByScore(scores: number[]): number[] {
  return scores.map((s, i) => ({ s, i })).sort((a, b) => b.s - a.s || a.i - b.i).map(({ i }) => i);
}

/** Writes 01.png …, grid.png and results.json into `dir` (an existing folder); returns results.json's object. */
export async function writeResults(dir: string, result: GuideResult, settings: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const [n, size] = result.images.shape;
  const T = result.codes.shape[1];
  const pixels = (await result.images.data()) as Float32Array;
  const codes = (await result.codes.data()) as Int32Array;
  const per = size * size * 3;
  const order = rankByScore(result.scores);
  const r4 = (v: number) => Math.round(v * 1e4) / 1e4;
  const images: Record<string, unknown>[] = [];
  const ranked: Float32Array[] = [];
  for (let rank = 1; rank <= n; rank++) {
    const b = order[rank - 1];
    const img = pixels.subarray(b * per, (b + 1) * per);
    ranked.push(img);
    const file = imageFileName(rank, n);
    await fsp.writeFile(path.join(dir, file), await encodePng(img, size, size));
    images.push({ file, rank, index: b, seed: result.config.seed, clipScore: r4(result.scores[b]), codes: Array.from(codes.subarray(b * T, (b + 1) * T)) });
  }
  await fsp.writeFile(path.join(dir, 'grid.png'), await contactSheet(ranked, size, { scale: sheetScale(size) }));
  const json = {
    prompt: result.prompt,
    truncated: result.truncated,
    settings: { ...result.config, ...settings, imageSize: size, gridSize: Math.round(Math.sqrt(T)) },
    images,
    stepScores: result.stepScores.map(r4),
  };
  await fsp.writeFile(path.join(dir, 'results.json'), JSON.stringify(json, null, 2) + '\n');
  return json;
}

/**
 * Runs `work(tmpDir)` (which may write frames into it), then writes its result into the same
 * temporary folder, which finally replaces `outDir`. On failure `outDir` is left as it was.
 */
export async function writeOutputFolder(outDir: string, work: (tmpDir: string) => Promise<GuideResult>, settings: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  let json: Record<string, unknown> = {};
  await writeDirAtomic(path.resolve(outDir), async (tmp) => {
    const result = await work(tmp);
    try {
      json = await writeResults(tmp, result, settings);
    } finally {
      result.codes.dispose();
      result.images.dispose();
    }
  });
  return json;
}
