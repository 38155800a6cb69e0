// The dVAE's weights as one flat record of variables with stable dotted keys
// ("enc.groups.1.blocks.0.conv1.kernel"), initialised deterministically from a seed.
// He-normal conv kernels (fan-in, ReLU nets), zero biases, unit-normal codebook.
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@dalle/core';
import { decoderGroupWidth, decoderResBlocks, groupWidth, numDownsamples, type DvaeConfig } from './config.ts';

export type DvaeParams = Record<string, tf.Variable>;

/** True for the encoder's weights ("enc.*"), which alone decide an image's codes. */
export function isEncoderKey(key: string): boolean {
  return key.startsWith('enc.');
}

/** A kernel/bias pair of a 2-D convolution, NHWC; kernel is [k, k, inChannels, outChannels]. */
export interface ConvParams {
  kernel: tf.Variable<tf.Rank.R4>;
  bias: tf.Variable<tf.Rank.R1>;
}

/** Shapes of every tensor, by key: the single description both init and the loaders use. */
export function dvaeParamShapes(cfg: DvaeConfig): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  const conv = (key: string, k: number, cin: number, cout: number) => {
    shapes[`${key}.kernel`] = [k, k, cin, cout];
    shapes[`${key}.bias`] = [cout];
  };
  const block = (key: string, cin: number, cout: number) => {
    conv(`${key}.conv1`, 3, cin, cout);
    conv(`${key}.conv2`, 3, cout, cout);
    if (cin !== cout) conv(`${key}.skip`, 1, cin, cout);
  };
  const L = numDownsamples(cfg);
  // Encoder: stem at full resolution, then groups 0..L (max-pool between groups), then logits.
  conv('enc.stem', 3, 3, groupWidth(cfg, 0));
  let width = groupWidth(cfg, 0);
  for (let g = 0; g <= L; g++) {
    for (let b = 0; b < cfg.resBlocks; b++) {
      block(`enc.groups.${g}.blocks.${b}`, width, groupWidth(cfg, g));
      width = groupWidth(cfg, g);
    }
    if (cfg.resBlocks === 0 && width !== groupWidth(cfg, g)) {
      conv(`enc.groups.${g}.proj`, 1, width, groupWidth(cfg, g));
      width = groupWidth(cfg, g);
    }
  }
  conv('enc.logits', 1, width, cfg.codebookSize);
  // Decoder: codebook lookup, groups L..0 (nearest upsample between groups), then output.
  shapes['codebook'] = [cfg.codebookSize, cfg.codebookDim];
  width = cfg.codebookDim;
  const decBlocks = decoderResBlocks(cfg);
  for (let g = L; g >= 0; g--) {
    for (let b = 0; b < decBlocks; b++) {
      block(`dec.groups.${g}.blocks.${b}`, width, decoderGroupWidth(cfg, g));
      width = decoderGroupWidth(cfg, g);
    }
    if (decBlocks === 0 && width !== decoderGroupWidth(cfg, g)) {
      conv(`dec.groups.${g}.proj`, 1, width, decoderGroupWidth(cfg, g));
      width = decoderGroupWidth(cfg, g);
    }
  }
  conv('dec.out', 1, width, 3); // RGB logits, or the logit-Laplace location
  if (cfg.reconLoss === 'logit-laplace') conv('dec.outScale', 1, width, 3); // logit-Laplace log-scale
  return shapes;
}

/** Fresh weights for `cfg`; the same seed always gives the same values. */
let instances = 0;

export function initDvaeParams(cfg: DvaeConfig, seed: number): DvaeParams {
  const rng = new Rng(seed);
  // tfjs variable names are global; a per-instance prefix lets several models coexist.
  const prefix = `dvae${instances++}`;
  const params: DvaeParams = {};
  for (const [key, shape] of Object.entries(dvaeParamShapes(cfg))) {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    let std = 0;
    if (key.endsWith('.kernel')) {
      const [k, , cin] = shape;
      std = Math.sqrt(2 / (k * k * cin));
      // The residual branch's last conv starts small so that every block begins near identity.
      if (key.endsWith('conv2.kernel')) std *= 0.1;
    } else if (key === 'codebook') {
      std = 1;
    }
    if (std > 0) for (let i = 0; i < size; i++) values[i] = rng.normal() * std;
    params[key] = variableFrom(tf.tensor(values, shape, 'float32'), `${prefix}/${key}`);
  }
  return params;
}

/** A trainable variable holding `t`'s values; disposes `t` (tf.variable keeps its input alive). */
export function variableFrom(t: tf.Tensor, name?: string, trainable = true): tf.Variable {
  const v = tf.variable(t, trainable, name);
  t.dispose();
  return v;
}

export function convParams(params: DvaeParams, key: string): ConvParams {
  return { kernel: params[`${key}.kernel`] as tf.Variable<tf.Rank.R4>, bias: params[`${key}.bias`] as tf.Variable<tf.Rank.R1> };
}

export function countParams(params: DvaeParams): number {
  return Object.values(params).reduce((n, v) => n + v.size, 0);
}

export function disposeParams(params: DvaeParams): void {
  for (const v of Object.values(params)) v.dispose();
}
