// Conversions between image files/buffers (sharp) and NHWC float tensors in [0, 1].
// The only module in the project that touches pixels on disk. EXIF orientation is applied,
// transparency is flattened on white, greyscale is expanded to RGB, 16-bit is reduced to 8-bit.
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { UsageError } from './errors.ts';
import { writeFileAtomic } from './fs-atomic.ts';

export type FitMode = 'cover' | 'contain' | 'fill';

export interface LoadImageOptions {
  /** cover: centre-crop to a square (DALL-E's choice); contain: letterbox on white; fill: stretch. */
  fit?: FitMode;
}

/** Decodes an image file or buffer to `size` x `size` RGB floats in [0, 1], HWC order. */
export async function loadImageRgb(input: string | Buffer | Uint8Array, size: number, options: LoadImageOptions = {}): Promise<Float32Array> {
  const { data, info } = await sharp(input, { failOn: 'error', limitInputPixels: 1 << 28 })
    .rotate()
    .flatten({ background: '#ffffff' })
    .resize(size, size, { fit: options.fit ?? 'cover', background: '#ffffff', kernel: 'lanczos3' })
    .toColourspace('srgb')
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== size || info.height !== size) {
    throw new UsageError(`decoded image is ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x3`);
  }
  const out = new Float32Array(size * size * 3);
  for (let i = 0; i < out.length; i++) out[i] = data[i] / 255;
  return out;
}

/** Stacks HWC float images into a [B, size, size, 3] tensor. */
export function imagesToTensor(images: Float32Array[], size: number): tf.Tensor4D {
  const batch = new Float32Array(images.length * size * size * 3);
  images.forEach((img, i) => batch.set(img, i * size * size * 3));
  return tf.tensor4d(batch, [images.length, size, size, 3]);
}

/** 8-bit RGB bytes from floats in [0, 1] (clamped, rounded). */
export function floatsToRgbBytes(pixels: Float32Array | ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, pixels[i])) * 255);
  return out;
}

/** Encodes one HWC float image in [0, 1] as PNG bytes (deterministic for equal pixels). */
export async function encodePng(pixels: Float32Array | ArrayLike<number>, width: number, height: number): Promise<Buffer> {
  return sharp(Buffer.from(floatsToRgbBytes(pixels)), { raw: { width, height, channels: 3 } }).png({ compressionLevel: 9 }).toBuffer();
}

/** Encodes each image of a [B, H, W, 3] tensor as PNG bytes. */
export async function tensorToPngs(images: tf.Tensor4D): Promise<Buffer[]> {
  const [B, H, W] = images.shape;
  const data = (await images.data()) as Float32Array;
  const out: Buffer[] = [];
  for (let b = 0; b < B; b++) out.push(await encodePng(data.subarray(b * H * W * 3, (b + 1) * H * W * 3), W, H));
  return out;
}

/**
 * Lays out HWC images (all `size` x `size`) in a contact sheet with `cols` columns and a
 * white `gap`, upscaled by `scale` (nearest) so small images stay crisp. Returns PNG bytes.
 */
export async function contactSheet(images: Float32Array[], size: number, options: { cols?: number; gap?: number; scale?: number } = {}): Promise<Buffer> {
  const cols = Math.max(1, Math.min(options.cols ?? Math.ceil(Math.sqrt(images.length)), images.length));
  const rows = Math.ceil(images.length / cols);
  const gap = options.gap ?? 2;
  const W = cols * size + (cols + 1) * gap;
  const H = rows * size + (rows + 1) * gap;
  const sheet = new Float32Array(W * H * 3).fill(1);
  images.forEach((img, i) => {
    const x0 = gap + (i % cols) * (size + gap);
    const y0 = gap + Math.floor(i / cols) * (size + gap);
    for (let y = 0; y < size; y++) sheet.set(img.subarray(y * size * 3, (y + 1) * size * 3), ((y0 + y) * W + x0) * 3);
  });
  const png = await encodePng(sheet, W, H);
  const scale = options.scale ?? 1;
  return scale === 1 ? png : sharp(png).resize(W * scale, H * scale, { kernel: 'nearest' }).png({ compressionLevel: 9 }).toBuffer();
}

export async function writePng(file: string, pixels: Float32Array, width: number, height: number): Promise<void> {
  await writeFileAtomic(file, await encodePng(pixels, width, height));
}
