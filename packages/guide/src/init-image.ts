// Starting codes from an image (clip-guide --init): the image is loaded at the dVAE's size (centre
// crop, as everywhere else) and encoded to its code grid; clipGuide starts from their one-hot logits.
import * as tf from '@tensorflow/tfjs-core';
import { imagesToTensor, loadImageRgb, UsageError } from '@dalle/core';
import type { ImageTokenizer } from '@dalle/dvae';

/** The dVAE's codes [G*G] of one HWC float image (imageSize x imageSize x 3, in [0, 1]). */
export async function codesOfPixels(dvae: ImageTokenizer, pixels: Float32Array): Promise<Int32Array> {
  const images = imagesToTensor([pixels], dvae.imageSize);
  const codes = dvae.encode(images);
  try {
    return Int32Array.from(await codes.data());
  } finally {
    tf.dispose([images, codes]);
  }
}

/** The dVAE's codes [G*G] of an image file; unreadable files throw a UsageError naming the file. */
export async function codesOfImageFile(dvae: ImageTokenizer, file: string): Promise<Int32Array> {
  let pixels: Float32Array;
  try {
    pixels = await loadImageRgb(file, dvae.imageSize);
  } catch (err) {
    throw new UsageError(`cannot read the --init image ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  return codesOfPixels(dvae, pixels);
}
