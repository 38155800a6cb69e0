// Augmented views ("cutouts") of decoded images, as VQGAN+CLIP scores them: random square crops,
// shifted a little and sometimes mirrored, resampled to CLIP's input size. Each view is two small
// matrix products (rows, then columns) with antialiased linear-interpolation matrices built from
// the seeded Rng, so the views are differentiable with matMul alone and identical for equal seeds.
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@dalle/core';

/** One view: a square crop of `side` source pixels whose top-left corner is (y0, x0), maybe mirrored. */
export interface Cutout {
  y0: number;
  x0: number;
  side: number;
  flip: boolean;
}

export interface CutoutSettings {
  cropMin: number;
  shift: number;
  flipProb: number;
}

/** `count` random views of a `size` x `size` image; every number comes from `rng`. */
export function drawCutouts(rng: Rng, count: number, size: number, s: CutoutSettings): Cutout[] {
  const out: Cutout[] = [];
  for (let k = 0; k < count; k++) {
    const side = size * (s.cropMin + (1 - s.cropMin) * rng.next());
    const slack = size - side; // room to place the crop inside the image
    const y0 = slack * rng.next() + s.shift * size * (2 * rng.next() - 1);
    const x0 = slack * rng.next() + s.shift * size * (2 * rng.next() - 1);
    out.push({ y0, x0, side, flip: rng.next() < s.flipProb });
  }
  return out;
}

/** The whole image, unmirrored: resampling with it only resizes. */
export function fullView(size: number): Cutout {
  return { y0: 0, x0: 0, side: size, flip: false };
}

/**
 * [outLen, srcLen] row-stochastic matrix that samples `outLen` points evenly over
 * [start, start + side) of a line of `srcLen` pixels with a triangle (linear) filter, widened to the
 * sampling step when shrinking so it averages instead of aliasing. Points beyond the ends repeat
 * the edge pixel. `flip` reverses the output order.
 */
export function resampleMatrix(start: number, side: number, srcLen: number, outLen: number, flip: boolean): Float32Array {
  const m = new Float32Array(outLen * srcLen);
  const step = side / outLen;
  const radius = Math.max(1, step); // filter half-width in source pixels
  for (let i = 0; i < outLen; i++) {
    const centre = start + (i + 0.5) * step - 0.5; // in source pixel coordinates (pixel j centred at j)
    const row = (flip ? outLen - 1 - i : i) * srcLen;
    let total = 0;
    for (let j = Math.ceil(centre - radius); j <= Math.floor(centre + radius); j++) {
      const w = 1 - Math.abs(j - centre) / radius;
      if (w <= 0) continue;
      m[row + Math.min(srcLen - 1, Math.max(0, j))] += w;
      total += w;
    }
    for (let j = 0; j < srcLen; j++) m[row + j] /= total;
  }
  return m;
}

/**
 * Views of a batch: images [B, H, H, 3] -> [views.length * B, outSize, outSize, 3], view-major
 * (rows k*B .. k*B+B-1 are view k of every image). Differentiable in `images`.
 */
export function applyCutouts(images: tf.Tensor4D, views: Cutout[], outSize: number): tf.Tensor4D {
  const [B, H, W] = images.shape; // batch, height, width (square)
  return tf.tidy(() => {
    const cols = tf.reshape(tf.transpose(images, [1, 0, 2, 3]), [H, B * W * 3]); // [H, B*W*3]
    const parts = views.map((v) => {
      const rowsM = tf.tensor2d(resampleMatrix(v.y0, v.side, H, outSize, false), [outSize, H]);
      const colsM = tf.tensor2d(resampleMatrix(v.x0, v.side, W, outSize, v.flip), [outSize, W]);
      const byRows = tf.reshape(tf.matMul(rowsM, cols), [outSize, B, W, 3]); // [Y, B, W, 3]
      const wFirst = tf.reshape(tf.transpose(byRows, [2, 1, 0, 3]), [W, B * outSize * 3]); // [W, B*Y*3]
      const byCols = tf.reshape(tf.matMul(colsM, wFirst), [outSize, B, outSize, 3]); // [X, B, Y, 3]
      return tf.transpose(byCols, [1, 2, 0, 3]); // [B, Y, X, 3]
    });
    return (parts.length === 1 ? parts[0] : tf.concat(parts, 0)) as tf.Tensor4D; // [K*B, Y, X, 3]
  });
}
