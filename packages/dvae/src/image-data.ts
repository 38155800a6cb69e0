// Reads a captioned-image source (@dalle/data: folder, tar shards, JSONL) into memory as 8-bit
// HWC images for the trainer, which needs random access for its seeded per-epoch permutation
// (12 KiB per 64x64 image, so 100 k images take 1.2 GiB).
import { UsageError, type FitMode } from '@dalle/core';
import { openImageSource } from '@dalle/data';

export interface LoadedImages {
  images: Uint8Array[];
  keys: string[];
  skipped: number;
}

export async function loadImageArray(
  spec: string,
  options: { imageSize: number; limit?: number; fit?: FitMode; onImage?: (count: number) => void; onSkip?: (key: string, reason: string) => void },
): Promise<LoadedImages> {
  const source = openImageSource(spec, { imageSize: options.imageSize, limit: options.limit, fit: options.fit, onSkip: options.onSkip });
  const images: Uint8Array[] = [];
  const keys: string[] = [];
  for await (const item of source) {
    const bytes = new Uint8Array(item.image.length);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.round(Math.min(1, Math.max(0, item.image[i])) * 255);
    images.push(bytes);
    keys.push(item.key);
    options.onImage?.(images.length);
  }
  if (images.length === 0) throw new UsageError(`${spec}: no usable images (${source.stats.skipped} skipped)`);
  return { images, keys, skipped: source.stats.skipped };
}
