// `tsx scripts/dvae-bounds.ts [--train DIR] [--val DIR] [--patches N] [--iters N]`
//
// Reference points for the dVAE's reconstruction quality on a captioned-image folder, with no
// network at all: what PSNR a grid of G x G discrete codes can reach when each code stands for
// one factor x factor patch on its own.
// - block mean: every patch replaced by its mean colour (a continuous code, no quantisation);
// - patch VQ: k-means codebook of K patches learnt on training patches (Lloyd's algorithm,
//   seeded), each validation patch replaced by its nearest codeword.
// A dVAE decoder also sees neighbouring codes, so it can beat patch VQ, but these figures show
// how hard a PSNR target is at a given factor and K. PSNR is -10 log10 of the mean squared
// error over all validation pixels (as dvae-train reports it); perplexity is exp(entropy) of
// the codes used on validation.
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { loadImageRgb, Rng, selectBackend } from '@dalle/core';
import { histogramPerplexity } from '@dalle/sampler';

const { values } = parseArgs({
  options: {
    train: { type: 'string', default: 'data/emoji/train' },
    val: { type: 'string', default: 'data/emoji/val-images' },
    size: { type: 'string', default: '64' },
    patches: { type: 'string', default: '60000' },
    iters: { type: 'string', default: '10' },
    configs: { type: 'string', default: '8x512,8x8192,4x512' },
  },
});
await selectBackend();
const S = Number(values.size);

async function readFolder(dir: string): Promise<Float32Array[]> {
  const files = readdirSync(dir).filter((f) => /\.(png|jpe?g|webp)$/i.test(f)).sort();
  return Promise.all(files.map((f) => loadImageRgb(path.join(dir, f), S)));
}

/** All factor x factor x 3 patches of the images, row-major, as [count, factor*factor*3]. */
function patchesOf(images: Float32Array[], f: number): Float32Array {
  const D = f * f * 3;
  const perImage = (S / f) ** 2;
  const out = new Float32Array(images.length * perImage * D);
  let o = 0;
  for (const px of images) {
    for (let by = 0; by < S; by += f) {
      for (let bx = 0; bx < S; bx += f) {
        for (let y = by; y < by + f; y++) {
          out.set(px.subarray((y * S + bx) * 3, (y * S + bx + f) * 3), o);
          o += f * 3;
        }
      }
    }
  }
  return out;
}

/** Index of the nearest codeword of each row: argmin |x|^2 - 2 x.c + |c|^2 over c. */
function nearest(x: tf.Tensor2D, codebook: tf.Tensor2D): Int32Array {
  return tf.tidy(() => {
    const c2 = tf.sum(tf.square(codebook), 1); // [K]
    const d = tf.sub(c2, tf.mul(tf.matMul(x, codebook, false, true), 2)); // [N, K] (|x|^2 is constant per row)
    return tf.argMin(d, 1).dataSync() as Int32Array;
  });
}

/** nearest() over rows in chunks, so the distance matrix stays bounded. */
function assign(x: Float32Array, D: number, codebook: Float32Array, K: number): Int32Array {
  const N = x.length / D;
  const out = new Int32Array(N);
  const cb = tf.tensor2d(codebook, [K, D]);
  const chunk = Math.max(1, Math.floor(2 ** 24 / K));
  for (let s = 0; s < N; s += chunk) {
    const n = Math.min(chunk, N - s);
    const xs = tf.tensor2d(x.subarray(s * D, (s + n) * D), [n, D]);
    out.set(nearest(xs, cb), s);
    xs.dispose();
  }
  cb.dispose();
  return out;
}

function psnrAndPerplexity(x: Float32Array, D: number, codebook: Float32Array, K: number): { psnr: number; perplexity: number; used: number } {
  const N = x.length / D;
  const counts = new Float64Array(K);
  let err = 0;
  const idx = assign(x, D, codebook, K);
  for (let i = 0; i < N; i++) {
    counts[idx[i]]++;
    const c = idx[i] * D;
    for (let j = 0; j < D; j++) err += (x[i * D + j] - codebook[c + j]) ** 2;
  }
  const { perplexity, codesUsed } = histogramPerplexity(counts);
  return { psnr: -10 * Math.log10(err / x.length), perplexity, used: codesUsed };
}

const t0 = performance.now();
const train = await readFolder(values.train!);
const val = await readFolder(values.val!);
console.log(`${train.length} training and ${val.length} validation images at ${S}x${S} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
console.log('| factor | grid | K | code | val PSNR | codes used | perplexity | time |');
console.log('| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |');

const factors = [...new Set(values.configs!.split(',').map((c) => Number(c.split('x')[0])))];
for (const f of factors) {
  const D = f * f * 3;
  const valPatches = patchesOf(val, f);
  // Block mean: the error of each patch around its per-channel mean.
  let err = 0;
  for (let p = 0; p < valPatches.length; p += D) {
    for (let c = 0; c < 3; c++) {
      let m = 0;
      for (let j = c; j < D; j += 3) m += valPatches[p + j];
      m /= f * f;
      for (let j = c; j < D; j += 3) err += (valPatches[p + j] - m) ** 2;
    }
  }
  console.log(`| ${f} | ${S / f}x${S / f} | - | block mean colour | ${(-10 * Math.log10(err / valPatches.length)).toFixed(2)} dB | - | - | - |`);

  const all = patchesOf(train, f);
  const total = all.length / D;
  const rng = new Rng(0);
  const n = Math.min(Number(values.patches), total);
  const sample = new Float32Array(n * D);
  for (let i = 0; i < n; i++) {
    const k = Math.floor(rng.next() * total);
    sample.set(all.subarray(k * D, (k + 1) * D), i * D);
  }
  for (const K of values.configs!.split(',').filter((c) => Number(c.split('x')[0]) === f).map((c) => Number(c.split('x')[1]))) {
    const start = performance.now();
    const codebook = new Float32Array(K * D);
    for (let k = 0; k < K; k++) {
      const i = Math.floor(rng.next() * n);
      codebook.set(sample.subarray(i * D, (i + 1) * D), k * D);
    }
    for (let it = 0; it < Number(values.iters); it++) {
      const idx = assign(sample, D, codebook, K);
      const sums = new Float64Array(K * D);
      const counts = new Float64Array(K);
      for (let i = 0; i < n; i++) {
        counts[idx[i]]++;
        for (let j = 0; j < D; j++) sums[idx[i] * D + j] += sample[i * D + j];
      }
      for (let k = 0; k < K; k++) {
        if (counts[k] === 0) {
          // An empty cluster restarts at a random patch.
          const i = Math.floor(rng.next() * n);
          codebook.set(sample.subarray(i * D, (i + 1) * D), k * D);
        } else for (let j = 0; j < D; j++) codebook[k * D + j] = sums[k * D + j] / counts[k];
      }
    }
    const r = psnrAndPerplexity(valPatches, D, codebook, K);
    console.log(
      `| ${f} | ${S / f}x${S / f} | ${K} | patch VQ (k-means, ${n} patches, ${values.iters} iters) | ${r.psnr.toFixed(2)} dB | ${r.used} | ${r.perplexity.toFixed(1)} | ${((performance.now() - start) / 1000).toFixed(0)} s |`,
    );
  }
}
