// The transformer's weights as a typed record with stable dotted keys (`blocks.3.attn.qkv.kernel`),
// their shapes, and a seeded initialisation (GPT-2's: N(0, 0.02), residual projections scaled down).
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@dalle/core';
import { mlpHidden, type TransformerConfig, transformerLayout } from './config.ts';
import { imageTokenOffset, inputVocabSize, textStreamVocabSize } from './layout.ts';
import type { BlockParams } from './block.ts';

export type BlockParamName =
  | 'ln1.gamma'
  | 'ln1.beta'
  | 'attn.qkv.kernel'
  | 'attn.qkv.bias'
  | 'attn.proj.kernel'
  | 'attn.proj.bias'
  | 'ln2.gamma'
  | 'ln2.beta'
  | 'mlp.fc.kernel'
  | 'mlp.fc.bias'
  | 'mlp.proj.kernel'
  | 'mlp.proj.bias';

export type TopParamName =
  | 'embed.tokens' // [inputVocabSize, C]: every stream id plus the start token
  | 'pos.text' // [T+1, C]: the start position and the T text positions
  | 'pos.row' // [G, C]: image row
  | 'pos.col' // [G, C]: image column
  | 'lnFinal.gamma'
  | 'lnFinal.beta'
  | 'head.text.kernel' // [C, textVocabSize + numTextPadTokens]
  | 'head.text.bias'
  | 'head.image.kernel' // [C, K]
  | 'head.image.bias';

export type TransformerParamKey = TopParamName | `blocks.${number}.${BlockParamName}`;
export type TransformerParams = Record<TransformerParamKey, tf.Variable>;

const BLOCK_PARAM_NAMES: BlockParamName[] = ['ln1.gamma', 'ln1.beta', 'attn.qkv.kernel', 'attn.qkv.bias', 'attn.proj.kernel', 'attn.proj.bias', 'ln2.gamma', 'ln2.beta', 'mlp.fc.kernel', 'mlp.fc.bias', 'mlp.proj.kernel', 'mlp.proj.bias'];

type Init = 'normal' | 'residual' | 'zeros' | 'ones';

/** Every parameter's shape and how it starts, in a fixed order (the init stream depends on it). */
export function paramSpecs(cfg: TransformerConfig): { key: TransformerParamKey; shape: number[]; init: Init }[] {
  const C = cfg.dModel;
  const H = mlpHidden(cfg);
  const layout = transformerLayout(cfg);
  const specs: { key: TransformerParamKey; shape: number[]; init: Init }[] = [
    { key: 'embed.tokens', shape: [inputVocabSize(layout), C], init: 'normal' },
    { key: 'pos.text', shape: [cfg.textSeqLen + 1, C], init: 'normal' },
    { key: 'pos.row', shape: [cfg.gridSize, C], init: 'normal' },
    { key: 'pos.col', shape: [cfg.gridSize, C], init: 'normal' },
  ];
  const block: Record<BlockParamName, [number[], Init]> = {
    'ln1.gamma': [[C], 'ones'],
    'ln1.beta': [[C], 'zeros'],
    'attn.qkv.kernel': [[C, 3 * C], 'normal'],
    'attn.qkv.bias': [[3 * C], 'zeros'],
    'attn.proj.kernel': [[C, C], 'residual'],
    'attn.proj.bias': [[C], 'zeros'],
    'ln2.gamma': [[C], 'ones'],
    'ln2.beta': [[C], 'zeros'],
    'mlp.fc.kernel': [[C, H], 'normal'],
    'mlp.fc.bias': [[H], 'zeros'],
    'mlp.proj.kernel': [[H, C], 'residual'],
    'mlp.proj.bias': [[C], 'zeros'],
  };
  for (let i = 0; i < cfg.numLayers; i++) {
    for (const name of BLOCK_PARAM_NAMES) specs.push({ key: `blocks.${i}.${name}`, shape: block[name][0], init: block[name][1] });
  }
  specs.push(
    { key: 'lnFinal.gamma', shape: [C], init: 'ones' },
    { key: 'lnFinal.beta', shape: [C], init: 'zeros' },
    { key: 'head.text.kernel', shape: [C, textStreamVocabSize(layout)], init: 'normal' },
    { key: 'head.text.bias', shape: [textStreamVocabSize(layout)], init: 'zeros' },
    { key: 'head.image.kernel', shape: [C, cfg.imageVocabSize], init: 'normal' },
    { key: 'head.image.bias', shape: [cfg.imageVocabSize], init: 'zeros' },
  );
  return specs;
}

/** Standard deviation of the normal init (GPT-2). */
export const INIT_STD = 0.02;

/**
 * Fresh variables from `seed`: identical on every backend, since the numbers come from core's Rng.
 * With `seed` null the randomly initialised ones stay zero, for a model whose weights are about to
 * be loaded (the 7 M normal draws of emoji-64 cost about 0.5 s).
 */
export function initTransformerParams(cfg: TransformerConfig, seed: number | null): TransformerParams {
  const rng = new Rng(seed ?? 0);
  const params = {} as TransformerParams;
  const residualStd = INIT_STD / Math.sqrt(2 * cfg.numLayers); // keeps the residual stream's variance flat with depth
  for (const { key, shape, init } of paramSpecs(cfg)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (init === 'ones') data.fill(1);
    else if (seed !== null && (init === 'normal' || init === 'residual')) {
      const std = init === 'normal' ? INIT_STD : residualStd;
      fillNormal(data, rng, std);
    }
    const initial = tf.tensor(data, shape, 'float32');
    params[key] = tf.variable(initial, true, `${key}_${nextVariableId++}`);
    initial.dispose(); // the variable holds its own reference to the data
  }
  return params;
}

/** Fills `data` with N(0, std) draws from `rng`, in index order. */
function fillNormal(data: Float32Array, rng: Rng, std: number): Float32Array {
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() * std;
  return data;
}

// tfjs variable names must be unique in the process; keys stay the checkpoint names.
let nextVariableId = 0;

/**
 * Gives the image-code parameters fresh weights from `seed`, as a new model would have them: the
 * image rows of `embed.tokens` and the image head. Everything else (text embeddings, positions,
 * blocks, text head) is kept. For warm-starting a model trained on another dVAE's codes, whose
 * code ids mean something else. The draw order matches nothing else; it is only seeded.
 */
export function reinitImageParams(params: TransformerParams, cfg: TransformerConfig, seed: number): void {
  const rng = new Rng(seed);
  const normal = (n: number) => fillNormal(new Float32Array(n), rng, INIT_STD);
  const C = cfg.dModel;
  const K = cfg.imageVocabSize;
  assignImageParams(params, cfg, { embed: normal(K * C), kernel: normal(C * K), bias: new Float32Array(K) });
}

/**
 * Replaces the image-code parameters: the K image rows of `embed.tokens` ([K, C], row-major),
 * `head.image.kernel` ([C, K]) and `head.image.bias` ([K]). Every other row and parameter stays.
 */
export function assignImageParams(params: TransformerParams, cfg: TransformerConfig, image: { embed: Float32Array; kernel: Float32Array; bias: Float32Array }): void {
  const C = cfg.dModel;
  const K = cfg.imageVocabSize;
  const offset = imageTokenOffset(transformerLayout(cfg));
  tf.tidy(() => {
    const embed = params['embed.tokens'];
    const parts = [tf.slice(embed, [0, 0], [offset, C]), tf.tensor2d(image.embed, [K, C])];
    const after = embed.shape[0] - offset - K; // 0 today: image codes are the last stream ids
    if (after > 0) parts.push(tf.slice(embed, [offset + K, 0], [after, C]));
    embed.assign(tf.concat(parts, 0));
    params['head.image.kernel'].assign(tf.tensor2d(image.kernel, [C, K]));
    params['head.image.bias'].assign(tf.tensor1d(image.bias));
  });
}

/** Total number of scalars in the parameters. */
export function countParams(cfg: TransformerConfig): number {
  return paramSpecs(cfg).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}

/** Block i's weights as the structured record the block math takes. */
export function blockParams(params: TransformerParams, i: number): BlockParams {
  const g = (name: BlockParamName) => params[`blocks.${i}.${name}`];
  return {
    ln1: { gamma: g('ln1.gamma') as tf.Tensor1D, beta: g('ln1.beta') as tf.Tensor1D },
    attn: {
      qkv: { kernel: g('attn.qkv.kernel') as tf.Tensor2D, bias: g('attn.qkv.bias') as tf.Tensor1D },
      proj: { kernel: g('attn.proj.kernel') as tf.Tensor2D, bias: g('attn.proj.bias') as tf.Tensor1D },
    },
    ln2: { gamma: g('ln2.gamma') as tf.Tensor1D, beta: g('ln2.beta') as tf.Tensor1D },
    mlp: {
      fc: { kernel: g('mlp.fc.kernel') as tf.Tensor2D, bias: g('mlp.fc.bias') as tf.Tensor1D },
      proj: { kernel: g('mlp.proj.kernel') as tf.Tensor2D, bias: g('mlp.proj.bias') as tf.Tensor1D },
    },
  };
}

export function disposeParams(params: TransformerParams): void {
  for (const v of Object.values(params)) v.dispose();
}
