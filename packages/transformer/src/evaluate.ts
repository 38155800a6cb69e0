// Held-out losses: text and image cross-entropy, and the conditional gain (image loss with the
// true captions versus with captions shuffled across images), which shows the model reads the text.
import * as tf from '@tensorflow/tfjs-core';
import { Rng, UsageError } from '@dalle/core';
import { transformerLayout } from './config.ts';
import type { TokenBatchSource } from './dataset.ts';
import { modelBatch } from './layout.ts';
import { transformerLoss, type TransformerModel } from './transformer.ts';

export interface EvalOptions {
  /** Sequences per forward pass. */
  batchSize?: number;
  /** Items to use from the start of the dataset (default all). */
  maxItems?: number;
}

export interface EvalLosses {
  /** Mean cross-entropy per text token, nats. */
  text: number;
  /** Mean cross-entropy per image token, nats. */
  image: number;
  /** The weighted training objective. */
  loss: number;
  items: number;
}

/** Mean losses over items in order; `captionOf(i)` picks the caption row paired with image i. */
function meanLosses(model: TransformerModel, source: TokenBatchSource, options: EvalOptions, captionOf: (i: number) => number): EvalLosses {
  const n = Math.min(source.size, options.maxItems ?? source.size);
  if (n < 1) throw new UsageError('the evaluation dataset is empty');
  const B = options.batchSize ?? 16;
  const layout = transformerLayout(model.config);
  let text = 0;
  let image = 0;
  let loss = 0;
  for (let start = 0; start < n; start += B) {
    const indices = Array.from({ length: Math.min(B, n - start) }, (_, k) => start + k);
    const images = source.batch(indices);
    const captions = source.batch(indices.map(captionOf));
    const batch = modelBatch(layout, captions.text, images.codes, indices.length);
    const [l, t, im] = tf.tidy(() => {
      const parts = transformerLoss(model.params, model.config, batch);
      return [parts.loss, parts.text, parts.image].map((x) => x.dataSync()[0]);
    });
    loss += l * indices.length;
    text += t * indices.length;
    image += im * indices.length;
  }
  return { text: text / n, image: image / n, loss: loss / n, items: n };
}

/** Text and image losses with each image's own caption. */
export function evaluateLoss(model: TransformerModel, source: TokenBatchSource, options: EvalOptions = {}): EvalLosses {
  return meanLosses(model, source, options, (i) => i);
}

export interface ConditionalGain {
  /** Image loss (nats per token) with the true captions. */
  trueCaptions: number;
  /** Image loss with every caption moved to another image. */
  shuffledCaptions: number;
  /** 1 - trueCaptions / shuffledCaptions: 0.2 means 20% lower loss with the true captions. */
  gain: number;
  items: number;
}

/**
 * Image loss with true versus shuffled captions. Shuffling is a seeded derangement: items are put
 * in a random cycle and each takes the next one's caption, so no image keeps its own.
 */
export function conditionalGain(model: TransformerModel, source: TokenBatchSource, options: EvalOptions & { seed?: number } = {}): ConditionalGain {
  const n = Math.min(source.size, options.maxItems ?? source.size);
  if (n < 2) throw new UsageError(`conditionalGain needs at least 2 items, got ${n}`);
  const cycle = new Rng(options.seed ?? 0).shuffle(Array.from({ length: n }, (_, i) => i));
  const partner = new Array<number>(n);
  cycle.forEach((item, k) => (partner[item] = cycle[(k + 1) % n]));
  const trueCaptions = meanLosses(model, source, options, (i) => i).image;
  const shuffledCaptions = meanLosses(model, source, options, (i) => partner[i]).image;
  return { trueCaptions, shuffledCaptions, gain: 1 - trueCaptions / shuffledCaptions, items: n };
}
