// Tiny captioned-image datasets built with sharp in a temp folder, for the data tests.
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';

export async function makeTempDir(prefix: string): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), `dalle-data-${prefix}-`));
}

/** A w x h RGB image with a per-seed gradient, so every image differs. */
export function gradientRgb(w: number, h: number, seed: number): Buffer {
  const buf = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      buf[i] = (x * 7 + seed * 40) & 255;
      buf[i + 1] = (y * 5 + seed * 90) & 255;
      buf[i + 2] = ((x + y) * 3 + seed * 13) & 255;
    }
  }
  return buf;
}

export interface FixtureItem {
  key: string;
  ext: 'png' | 'jpg' | 'webp';
  bytes: Buffer;
  captions: string[];
}

/** Four small good images in three formats with one to three captions each. */
export async function goodItems(): Promise<FixtureItem[]> {
  const raw = (w: number, h: number, seed: number) => sharp(gradientRgb(w, h, seed), { raw: { width: w, height: h, channels: 3 } });
  return [
    { key: 'a-red', ext: 'png', bytes: await raw(20, 20, 1).png().toBuffer(), captions: ['a red square', 'red'] },
    { key: 'b-wide', ext: 'jpg', bytes: await raw(40, 24, 2).jpeg({ quality: 90 }).toBuffer(), captions: ['a wide picture'] },
    { key: 'c-webp', ext: 'webp', bytes: await raw(16, 32, 3).webp({ lossless: true }).toBuffer(), captions: ['tall, lossless webp', 'second caption', 'Émoji 🥑 too'] },
    { key: 'd-tiny', ext: 'png', bytes: await raw(3, 3, 4).png().toBuffer(), captions: ['tiny'] },
  ];
}

/** Writes items as an image folder: <key>.<ext> + <key>.txt (one caption per line). */
export async function writeFolder(dir: string, items: FixtureItem[]): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  for (const it of items) {
    await fsp.writeFile(path.join(dir, `${it.key}.${it.ext}`), it.bytes);
    await fsp.writeFile(path.join(dir, `${it.key}.txt`), it.captions.join('\n') + '\n');
  }
}
