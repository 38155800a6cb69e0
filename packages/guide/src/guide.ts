// CLIP-guided generation over a dVAE's code grid, in the manner of VQGAN+CLIP (Crowson et al.
// 2022) and Pixray: grid logits [n, G*G, K] are relaxed with Gumbel-softmax (Jang et al. 2017) at
// an annealed temperature, decoded with the dVAE's differentiable decoder, scored by our CLIP on
// augmented views against the prompt, and moved by Adam up the score's gradient. The result is the
// argmax code grid, so it is a valid token grid that the dVAE (and the transformer) understand.
import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients, Rng, UsageError } from '@dalle/core';
import type { ClipModel } from '@dalle/clip';
import { encodeText, type TextTokenizer } from '@dalle/data';
import { Adam, gumbelSoftmax } from '@dalle/dvae';
import { resolveGuideConfig, temperatureAt, type GuideConfig } from './config.ts';
import { applyCutouts, drawCutouts, fullView, type Cutout } from './cutouts.ts';
import { clipEmbedder, type ClipEmbedder, type SoftDecoder } from './types.ts';

export interface StepInfo {
  /** Updates done so far, 1..steps. */
  step: number;
  /** Mean CLIP cosine similarity over images and cutouts at this step (before its update). */
  score: number;
  /** Per-image mean over cutouts. */
  imageScores: number[];
  temperature: number;
}

/** The current hard decode: argmax codes and their decoded images, one entry per image. */
export interface GuideFrame {
  /** Updates done so far (0: the starting point). */
  step: number;
  codes: Int32Array[];
  /** HWC floats in [0, 1], imageSize x imageSize x 3 each. */
  images: Float32Array[];
}

export interface GuideOptions extends Partial<GuideConfig> {
  dvae: SoftDecoder;
  clip: ClipModel | ClipEmbedder;
  tokenizer: TextTokenizer;
  /**
   * Starting codes: G*G codes (shared by every image) or n*G*G (one grid per image). The logits
   * start at initScale times their one-hot; without them, at random normal logits.
   */
  initCodes?: ArrayLike<number>;
  onStep?: (info: StepInfo) => void;
  /** Called at step 0 and every frameEvery steps (frameEvery > 0); awaited. */
  onFrame?: (frame: GuideFrame) => void | Promise<void>;
}

export interface GuideResult {
  prompt: string;
  /** True when the prompt had more tokens than CLIP's text length and was cut. */
  truncated: boolean;
  config: GuideConfig;
  /** int32 [n, G*G] argmax codes; the caller disposes. */
  codes: tf.Tensor2D;
  /** [n, H, W, 3] = dvae.decode(codes); the caller disposes. */
  images: tf.Tensor4D;
  /** CLIP cosine similarity of each decoded image (whole image, no augmentation) with the prompt. */
  scores: number[];
  /** Mean augmented score of each step (StepInfo.score), in order. */
  stepScores: number[];
}

/** Values of the logits [n, G*G, K]: a scaled one-hot of the initial codes, or random normal from `rng`. */
function initialLogits(n: number, T: number, K: number, cfg: GuideConfig, rng: Rng, initCodes?: ArrayLike<number>): Float32Array {
  const values = new Float32Array(n * T * K);
  if (initCodes) {
    if (initCodes.length !== T && initCodes.length !== n * T) {
      throw new UsageError(`initial codes must number G*G = ${T} (one grid for every image) or n*G*G = ${n * T}, got ${initCodes.length}`);
    }
    for (let b = 0; b < n; b++) {
      for (let t = 0; t < T; t++) {
        const c = initCodes[initCodes.length === T ? t : b * T + t];
        if (!Number.isInteger(c) || c < 0 || c >= K) throw new UsageError(`initial code ${c} at position ${t} is outside [0, ${K})`);
        values[(b * T + t) * K + c] = cfg.initScale;
      }
    }
  } else {
    for (let i = 0; i < values.length; i++) values[i] = cfg.initStd * rng.normal();
  }
  return values;
}

/**
 * Per-image scores [n] of images [n, H, W, 3] against one text embedding [1, D]: the mean over
 * `views`, or with 'whole' the whole image (only resized when CLIP's input size differs).
 */
function scoreViews(clip: ClipEmbedder, images: tf.Tensor4D, views: Cutout[] | 'whole', text: tf.Tensor2D): tf.Tensor1D {
  const n = images.shape[0];
  const size = images.shape[1];
  const list = views === 'whole' ? [fullView(size)] : views;
  const batch = views === 'whole' && size === clip.imageSize ? images : applyCutouts(images, list, clip.imageSize); // [V*n, S, S, 3]
  const sims = tf.matMul(clip.embedImages(batch), text, false, true); // [V*n, 1] cosines (both L2-normalised)
  return tf.mean(tf.reshape(sims, [list.length, n]), 0) as tf.Tensor1D; // [n]
}

/** Text embedding [1, D] of a prompt; the ids are checked against CLIP's vocabulary. */
function promptEmbedding(prompt: string, tokenizer: TextTokenizer, clip: ClipEmbedder): { text: tf.Tensor2D; truncated: boolean } {
  const { ids, truncated } = encodeText(tokenizer, prompt, clip.textSeqLen);
  if (tokenizer.padId !== clip.padId) throw new UsageError(`the tokenizer pads with id ${tokenizer.padId} but CLIP expects pad id ${clip.padId}: use the tokenizer CLIP was trained with`);
  const bad = ids.find((id) => id < 0 || id >= clip.textVocabSize);
  if (bad !== undefined) throw new UsageError(`the tokenizer produced id ${bad}, outside CLIP's vocabulary of ${clip.textVocabSize}: use the tokenizer CLIP was trained with`);
  if (ids.every((id) => id === clip.padId)) throw new UsageError(`the prompt ${JSON.stringify(prompt)} encodes to no tokens`);
  const text = tf.tidy(() => clip.embedTexts(tf.tensor2d(ids, [1, clip.textSeqLen], 'int32')));
  return { text, truncated };
}

/** Hard decode of the current logits: argmax codes [n, G*G] and their images. */
function hardDecode(dvae: SoftDecoder, logits: tf.Tensor3D): { codes: tf.Tensor2D; images: tf.Tensor4D } {
  const codes = tf.tidy(() => tf.cast(tf.argMax(logits, -1), 'int32') as tf.Tensor2D); // [n, G*G]
  return { codes, images: dvae.decode(codes) };
}

/** Hard-decodes the current logits and hands the frame (plain arrays) to `onFrame`. */
async function emitFrame(step: number, dvae: SoftDecoder, logits: tf.Tensor3D, onFrame: (frame: GuideFrame) => void | Promise<void>): Promise<void> {
  const { codes, images } = hardDecode(dvae, logits);
  let frame: GuideFrame;
  try {
    const [n, T] = codes.shape; // images, grid positions
    const per = images.shape[1] * images.shape[2] * 3; // floats per image
    const c = (await codes.data()) as Int32Array;
    const px = (await images.data()) as Float32Array;
    frame = {
      step,
      codes: Array.from({ length: n }, (_, b) => c.slice(b * T, (b + 1) * T)),
      images: Array.from({ length: n }, (_, b) => px.slice(b * per, (b + 1) * per)),
    };
  } finally {
    tf.dispose([codes, images]);
  }
  await onFrame(frame);
}

/**
 * Optimises n code grids so that their decoded images match `prompt` under CLIP. Deterministic in
 * `seed` (initial logits, Gumbel noise, cutouts). Throws UsageError on bad settings or an empty prompt.
 */
export async function clipGuide(prompt: string, options: GuideOptions): Promise<GuideResult> {
  const { dvae, tokenizer, initCodes, onStep, onFrame, clip: clipIn, ...partial } = options;
  const cfg = resolveGuideConfig(partial);
  if (typeof prompt !== 'string' || prompt.trim() === '') throw new UsageError('the prompt is empty: describe the image to generate, e.g. "a red heart"');
  ensureGradients(); // the Node build of tfjs-core registers no gradients by itself
  // by shape, not instanceof: a test or CLI may hold a second copy of the clip module (ESM and CJS)
  const clip = typeof (clipIn as ClipEmbedder).embedImages === 'function' ? (clipIn as ClipEmbedder) : clipEmbedder(clipIn as ClipModel);
  const T = dvae.gridSize * dvae.gridSize; // grid positions
  const K = dvae.codebookSize; // codes
  const size = dvae.imageSize;
  const rng = new Rng(cfg.seed);
  const initValues = initialLogits(cfg.n, T, K, cfg, rng, initCodes); // checks initCodes before any tensor exists
  const { text, truncated } = promptEmbedding(prompt, tokenizer, clip);
  const init = tf.tensor3d(initValues, [cfg.n, T, K]);
  const logits = tf.variable(init, true, `guide/logits/${variableCounter++}`); // [n, T, K]
  init.dispose();
  // Adam's constructor leaves the zerosLike tensors it seeds its moments from alive (2 per
  // variable); building it in a tidy disposes them, and the moments (variables) survive.
  let adam!: Adam;
  tf.tidy(() => {
    adam = new Adam({ logits });
  });
  const stepScores: number[] = [];
  try {
    if (onFrame && cfg.frameEvery > 0) await emitFrame(0, dvae, logits as tf.Tensor3D, onFrame);
    for (let step = 0; step < cfg.steps; step++) {
      const temperature = temperatureAt(cfg, step);
      const views = drawCutouts(rng, cfg.cutouts, size, cfg);
      const noiseSeed = rng.fork();
      // One tidy per step: the relaxed sample, its decode, the views and the tape all go here.
      const { value, grads, perImage } = tf.tidy(() => {
        let perImage: tf.Tensor1D | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const probs = gumbelSoftmax(logits as tf.Tensor3D, { temperature, hard: false, seed: noiseSeed }); // [n, T, K]
          const scores = scoreViews(clip, dvae.decodeSoft(probs), views, text); // [n]
          perImage = tf.keep(tf.clone(scores));
          return tf.neg(tf.mean(scores)) as tf.Scalar; // maximise the mean cosine
        }, [logits]);
        return { value, grads, perImage: perImage! };
      });
      try {
        const scores = Array.from(await perImage.data());
        const score = scores.reduce((a, b) => a + b, 0) / scores.length; // = -loss
        adam.apply({ logits: grads[logits.name] }, cfg.lr); // variableGrads keys by variable name
        stepScores.push(score);
        onStep?.({ step: step + 1, score, imageScores: scores, temperature });
      } finally {
        tf.dispose([value, perImage, ...Object.values(grads)]);
      }
      if (onFrame && cfg.frameEvery > 0 && (step + 1) % cfg.frameEvery === 0) await emitFrame(step + 1, dvae, logits as tf.Tensor3D, onFrame);
    }
    const { codes, images } = hardDecode(dvae, logits as tf.Tensor3D);
    try {
      const final = tf.tidy(() => scoreViews(clip, images, 'whole', text));
      const scores = Array.from(await final.data());
      final.dispose();
      return { prompt, truncated, config: cfg, codes, images, scores, stepScores };
    } catch (err) {
      tf.dispose([codes, images]);
      throw err;
    }
  } finally {
    adam.dispose();
    logits.dispose();
    text.dispose();
  }
}

let variableCounter = 0;
