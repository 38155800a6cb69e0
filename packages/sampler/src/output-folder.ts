// Writing a generate() result as a folder: 01.png … (best first), grid.png (contact sheet) and
// results.json (prompt, settings, per-image scores and seeds, phase timings). Everything goes into
// a temporary folder that then replaces --out in one rename, so --out never holds half a run.
import { contactSheet, imageFileName, promptSlug, UsageError, writeDirAtomic } from '@dalle/core';
import { constants as fsc, existsSync, promises as fsp, statSync } from 'node:fs';
import * as path from 'node:path';
import type { GenerateResult } from './generate.ts';

/** Files a previous run leaves in an output folder; a folder holding anything else is refused. */
const OUTPUT_FILE = /^(\d{2,}\.png|grid\.png|results\.json)$/;

export { promptSlug, imageFileName };

/**
 * Checks before any sampling that `outDir` can be written: its parent can be created and written,
 * and it is absent, empty, or a previous run's output. Throws UsageError saying what is wrong.
 */
export async function checkOutputFolder(outDir: string): Promise<void> {
  const dir = path.resolve(outDir);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new UsageError(`--out ${outDir} exists and is not a folder`);
    const others = (await fsp.readdir(dir)).filter((f) => !OUTPUT_FILE.test(f));
    if (others.length > 0) throw new UsageError(`--out ${outDir} already holds other files (e.g. ${others[0]}); choose a new or empty folder, or one a previous run wrote`);
  }
  const parent = path.dirname(dir);
  try {
    await fsp.mkdir(parent, { recursive: true });
    await fsp.access(parent, fsc.W_OK);
    const probe = await fsp.mkdtemp(path.join(parent, `.${path.basename(dir)}.probe-`));
    await fsp.rmdir(probe);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(`cannot write to --out ${outDir}: ${e.code ?? ''} ${e.message.split('\n')[0]}`.replace(/\s+/g, ' '));
  }
}

/** The results.json object. `settings` adds what the caller knows (weights, clip, backend, prime). */
export function resultsJson(result: GenerateResult, settings: Record<string, unknown> = {}, writeMs?: number): Record<string, unknown> {
  const r4 = (v: number | null) => (v === null ? null : Math.round(v * 1e4) / 1e4);
  return {
    prompt: result.prompt,
    truncated: result.truncated,
    settings: { ...result.config, ...settings, reranker: result.reranker, primeRows: result.primeRows, backend: result.backend, imageSize: result.imageSize, gridSize: result.gridSize },
    images: result.images.map((img) => ({ file: imageFileName(img.rank, result.images.length), rank: img.rank, candidate: img.candidate, seed: img.seed, clipScore: r4(img.clipScore), selfScore: r4(img.selfScore), codes: Array.from(img.codes) })),
    candidates: result.candidates.map((c) => ({ candidate: c.candidate, seed: c.seed, clipScore: r4(c.clipScore), selfScore: r4(c.selfScore) })),
    timingsMs: Object.fromEntries(Object.entries({ ...result.timings, ...(writeMs === undefined ? {} : { writeMs }) }).map(([k, v]) => [k.replace(/Ms$/, ''), Math.round(v)])),
  };
}

/** Writes the images, grid.png and results.json into `outDir` atomically; returns results.json's object. */
export async function writeOutputFolder(outDir: string, result: GenerateResult, settings: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const size = result.imageSize;
  const grid = await contactSheet(result.images.map((i) => i.pixels), size, { scale: Math.max(1, Math.round(128 / size)) });
  let json: Record<string, unknown> = {};
  await writeDirAtomic(path.resolve(outDir), async (tmp) => {
    for (const img of result.images) await fsp.writeFile(path.join(tmp, imageFileName(img.rank, result.images.length)), img.png);
    await fsp.writeFile(path.join(tmp, 'grid.png'), grid);
    json = resultsJson(result, settings, performance.now() - t0);
    await fsp.writeFile(path.join(tmp, 'results.json'), JSON.stringify(json, null, 2) + '\n');
  });
  return json;
}
