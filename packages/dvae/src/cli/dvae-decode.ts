// dvae-decode: turns image-code grids back into PNGs, from a codes file (JSON array of grids, or
// one grid per line of integers) or from a token dataset written by dvae-encode.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { contactSheet, createCommand, parseIntOption, Progress, runCli, setupBackend, tensorToPngs, UsageError, writeFileAtomic, writeDirAtomic } from '@dalle/core';
import { openTokenDataset } from '@dalle/data';
import * as tf from '@tensorflow/tfjs-core';
import { dvaeCodesId, loadDvae } from '../io.ts';

interface Options {
  backend?: string;
  verbose?: boolean;
  dvae: string;
  codes?: string;
  dataset?: string;
  out: string;
  start: number;
  limit?: number;
  batchSize: number;
  sheet?: boolean;
}

/** Grids from a codes file: a JSON array of arrays (or {"codes": [...]}) or lines of integers. */
export async function readCodesFile(file: string, seqLen: number): Promise<number[][]> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    throw new UsageError(`cannot read codes file ${file}`);
  }
  let grids: unknown;
  const trimmed = text.trim();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    try {
      grids = JSON.parse(trimmed);
    } catch (err) {
      throw new UsageError(`${file} is not valid JSON: ${(err as Error).message}`);
    }
    if (grids && !Array.isArray(grids) && typeof grids === 'object') grids = (grids as { codes?: unknown }).codes;
    if (Array.isArray(grids) && grids.length > 0 && typeof grids[0] === 'number') grids = [grids];
  } else {
    grids = trimmed.split('\n').filter((l) => l.trim()).map((l) => l.trim().split(/[\s,]+/).map(Number));
  }
  if (!Array.isArray(grids) || grids.length === 0) throw new UsageError(`${file}: expected a non-empty list of code grids`);
  return grids.map((g, i) => {
    if (!Array.isArray(g) || g.length !== seqLen || !g.every((c) => Number.isInteger(c))) {
      throw new UsageError(`${file}: grid ${i} must be ${seqLen} integers (this dVAE's grid), got ${Array.isArray(g) ? g.length + ' values' : typeof g}`);
    }
    return g as number[];
  });
}

const program = createCommand('dvae-decode', 'Decode dVAE image-code grids to PNG images.')
  .requiredOption('--dvae <dir>', 'dVAE model folder (config.json + model.safetensors)')
  .option('--codes <file>', 'codes file: JSON array of grids, or one grid of integers per line')
  .option('--dataset <dir>', 'token dataset (from dvae-encode) whose image codes to decode')
  .requiredOption('--out <dir>', 'output folder for 000000.png, 000001.png, ... (replaced atomically)')
  .option('--start <n>', 'first dataset record', parseIntOption('--start', 0), 0)
  .option('--limit <n>', 'decode at most N grids', parseIntOption('--limit', 1))
  .option('--batch-size <n>', 'grids per decoder call', parseIntOption('--batch-size', 1, 4096), 32)
  .option('--sheet', 'also write sheet.png with all decoded images')
  .action(async (opts: Options) => {
    if (Boolean(opts.codes) === Boolean(opts.dataset)) throw new UsageError('give exactly one of --codes FILE or --dataset DIR');
    await setupBackend(opts);
    const dvae = await loadDvae(opts.dvae);
    try {
      const N = dvae.gridSize ** 2;
      let grids: ArrayLike<number>[];
      if (opts.codes) {
        grids = await readCodesFile(opts.codes, N);
      } else {
        // The dataset must come from this very dVAE; other codes decode to noise.
        const ds = await openTokenDataset(opts.dataset!, { gridSize: dvae.gridSize, codebookSize: dvae.codebookSize, dvaeId: dvaeCodesId(dvae) });
        if (opts.start >= ds.size) throw new UsageError(`--start ${opts.start} is past the dataset's ${ds.size} records`);
        const end = Math.min(ds.size, opts.start + (opts.limit ?? ds.size));
        grids = [];
        for (let i = opts.start; i < end; i++) grids.push(ds.record(i).codes);
      }
      if (opts.codes && opts.limit) grids = grids.slice(0, opts.limit);
      const progress = new Progress({ total: grids.length, label: 'decode', unit: 'img' });
      const pixels: Float32Array[] = [];
      await writeDirAtomic(opts.out, async (tmp) => {
        for (let i = 0; i < grids.length; i += opts.batchSize) {
          const chunk = grids.slice(i, i + opts.batchSize);
          const flat = new Int32Array(chunk.length * N);
          chunk.forEach((g, b) => flat.set(Array.from(g), b * N));
          const codes = tf.tensor2d(flat, [chunk.length, N], 'int32');
          let images: tf.Tensor4D | undefined;
          try {
            images = dvae.decode(codes);
            const pngs = await tensorToPngs(images);
            for (const [b, png] of pngs.entries()) await fsp.writeFile(path.join(tmp, `${String(i + b).padStart(6, '0')}.png`), png);
            if (opts.sheet) {
              const data = (await images.data()) as Float32Array;
              const n = dvae.imageSize ** 2 * 3;
              for (let b = 0; b < chunk.length; b++) pixels.push(data.slice(b * n, (b + 1) * n));
            }
          } finally {
            tf.dispose([codes, images]);
          }
          progress.tick(chunk.length);
        }
        if (opts.sheet) await writeFileAtomic(path.join(tmp, 'sheet.png'), await contactSheet(pixels, dvae.imageSize, { scale: 2 }));
      });
      progress.finish();
      console.log(`wrote ${grids.length} images to ${opts.out}`);
    } finally {
      dvae.dispose();
    }
  });

await runCli(program);
