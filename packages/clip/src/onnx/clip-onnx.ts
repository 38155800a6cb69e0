// ONNX graphs of our two CLIP towers, op for op the same math as towers.ts, with the inputs and
// outputs transformers.js uses for CLIPTextModelWithProjection (input_ids int64 [B, T] ->
// text_embeds) and CLIPVisionModelWithProjection (pixel_values float [B, 3, H, W] -> image_embeds).
import * as tf from '@tensorflow/tfjs-core';
import { numPatches, patchDim, patchGridSize, type ClipConfig } from '../config.ts';
import { MASKED } from '../layers.ts';
import type { ClipModel } from '../model.ts';
import type { BlockParams, LayerNormParams, LinearParams } from '../params.ts';
import { GraphBuilder } from './graph-builder.ts';

function values(t: tf.Tensor): Float32Array {
  return Float32Array.from(t.dataSync() as Float32Array);
}

/** Columns [from, to) of a [rows, cols] matrix. */
function columns(t: tf.Tensor2D, from: number, to: number): Float32Array {
  const [rows, cols] = t.shape;
  const src = t.dataSync() as Float32Array;
  const out = new Float32Array(rows * (to - from));
  for (let r = 0; r < rows; r++) out.set(src.subarray(r * cols + from, r * cols + to), r * (to - from));
  return out;
}

/** The shared pieces (layer norm, linear, attention, block) as ONNX nodes. */
class TowerWriter {
  private readonly axisLast: string;
  constructor(
    readonly g: GraphBuilder,
    private readonly eps: number,
  ) {
    this.axisLast = g.int64('axis_last', [-1]);
  }

  layerNorm(x: string, p: LayerNormParams, name: string): string {
    const g = this.g;
    const mean = g.node('ReduceMean', [x], { axes: [-1], keepdims: 1 });
    const centred = g.node('Sub', [x, mean]);
    const variance = g.node('ReduceMean', [g.node('Mul', [centred, centred])], { axes: [-1], keepdims: 1 });
    const denom = g.node('Sqrt', [g.node('Add', [variance, g.float(`${name}.eps`, [this.eps], [])])]);
    const normed = g.node('Div', [centred, denom]);
    return g.node('Add', [g.node('Mul', [normed, g.float(`${name}.gamma`, values(p.gamma), p.gamma.shape)]), g.float(`${name}.beta`, values(p.beta), p.beta.shape)]);
  }

  linear(x: string, p: LinearParams, name: string): string {
    const g = this.g;
    return g.node('Add', [g.node('MatMul', [x, g.float(`${name}.kernel`, values(p.kernel), p.kernel.shape)]), g.float(`${name}.bias`, values(p.bias), p.bias.shape)]);
  }

  /** Same as layers.selfAttention; q, k and v get their own MatMul (the fused kernel is split by columns). */
  attention(x: string, p: BlockParams['attn'], C: number, numHeads: number, name: string, maskBias?: string): string {
    const g = this.g;
    const hd = C / numHeads;
    const part = (i: number, tag: string) =>
      g.node('Add', [
        g.node('MatMul', [x, g.float(`${name}.${tag}.kernel`, columns(p.qkv.kernel, i * C, (i + 1) * C), [C, C])]),
        g.float(`${name}.${tag}.bias`, values(p.qkv.bias).subarray(i * C, (i + 1) * C), [C]),
      ]);
    const heads = g.int64(`${name}.heads_shape`, [0, 0, numHeads, hd]);
    const q = g.node('Transpose', [g.node('Reshape', [part(0, 'q'), heads])], { perm: [0, 2, 1, 3] }); // [B, H, T, hd]
    const kt = g.node('Transpose', [g.node('Reshape', [part(1, 'k'), heads])], { perm: [0, 2, 3, 1] }); // [B, H, hd, T]
    const v = g.node('Transpose', [g.node('Reshape', [part(2, 'v'), heads])], { perm: [0, 2, 1, 3] }); // [B, H, T, hd]
    let scores = g.node('Mul', [g.node('MatMul', [q, kt]), g.float(`${name}.scale`, [1 / Math.sqrt(hd)], [])]); // [B, H, T, T]
    if (maskBias) scores = g.node('Add', [scores, maskBias]);
    const att = g.node('Softmax', [scores], { axis: -1 });
    const out = g.node('Transpose', [g.node('MatMul', [att, v])], { perm: [0, 2, 1, 3] }); // [B, T, H, hd]
    const merged = g.node('Reshape', [out, g.int64(`${name}.merge_shape`, [0, 0, C])]); // [B, T, C]
    return this.linear(merged, p.proj, `${name}.proj`);
  }

  block(x: string, p: BlockParams, C: number, numHeads: number, name: string, maskBias?: string): string {
    const g = this.g;
    const h = g.node('Add', [x, this.attention(this.layerNorm(x, p.ln1, `${name}.ln1`), p.attn, C, numHeads, `${name}.attn`, maskBias)]);
    const fc = this.linear(this.layerNorm(h, p.ln2, `${name}.ln2`), p.mlp.fc, `${name}.mlp.fc`);
    const act = g.node('Mul', [fc, g.node('Sigmoid', [g.node('Mul', [fc, g.float(`${name}.gelu`, [1.702], [])])])]);
    return g.node('Add', [h, this.linear(act, p.mlp.proj, `${name}.mlp.proj`)]);
  }

  /** Rows scaled to unit L2 norm (as layers.l2Normalize). */
  l2Normalize(x: string): string {
    const g = this.g;
    const norm = g.node('Sqrt', [g.node('ReduceSum', [g.node('Mul', [x, x]), this.axisLast], { keepdims: 1 })]);
    return g.node('Div', [x, g.node('Max', [norm, g.float('norm_floor', [1e-12], [])])]);
  }
}

/** text_model.onnx: input_ids int64 [batch, sequence <= textSeqLen] -> text_embeds float [batch, embedDim]. */
export function textModelOnnx(model: ClipModel): Uint8Array {
  const cfg = model.config;
  const p = model.params.text;
  const g = new GraphBuilder('clip_text_model');
  const w = new TowerWriter(g, cfg.layerNormEps);
  const ids = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const T = g.node('Slice', [g.node('Shape', [ids]), g.int64('one', [1]), g.int64('two', [2]), g.int64('zero', [0])]); // [1]: the text length
  const tokens = g.node('Gather', [g.float('text.tokenEmbedding', values(p.tokenEmbedding), p.tokenEmbedding.shape), ids], { axis: 0 }); // [B, T, C]
  const positions = g.node('Slice', [g.float('text.positionEmbedding', values(p.positionEmbedding), p.positionEmbedding.shape), g.int64('zero1', [0]), T, g.int64('axis0', [0])]); // [T, C]
  let x = g.node('Add', [tokens, positions]);
  const L = cfg.textSeqLen;
  const causal = new Float32Array(L * L);
  for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) causal[i * L + j] = MASKED;
  const TT = g.node('Concat', [T, T], { axis: 0 });
  const mask = g.node('Slice', [g.float('text.causal_mask', causal, [L, L]), g.int64('zeros2', [0, 0]), TT, g.int64('axes01', [0, 1])]); // [T, T]
  p.blocks.forEach((b, i) => {
    x = w.block(x, b, cfg.textWidth, cfg.textHeads, `text.blocks.${i}`, mask);
  });
  x = w.layerNorm(x, p.lnFinal, 'text.lnFinal');
  const keep = g.node('Cast', [g.node('Not', [g.node('Equal', [ids, g.int64('pad_id', [cfg.padId], [])])])], { to: 1 /* FLOAT */ }); // [B, T]
  const axis1 = g.int64('axis1', [1]);
  const summed = g.node('ReduceSum', [g.node('Mul', [x, g.node('Unsqueeze', [keep, g.int64('axis2', [2])])]), axis1], { keepdims: 0 }); // [B, C]
  const count = g.node('Max', [g.node('ReduceSum', [keep, axis1], { keepdims: 1 }), g.float('one_f', [1], [])]); // [B, 1]
  const pooled = g.node('Div', [summed, count]);
  const projected = g.node('MatMul', [pooled, g.float('text.projection', values(p.projection), p.projection.shape)]);
  g.output(w.l2Normalize(projected), 'text_embeds', 'float', ['batch_size', cfg.embedDim]);
  return g.encode('dalle CLIP text tower (L2-normalised embeddings)');
}

/** vision_model.onnx: pixel_values float [batch, 3, imageSize, imageSize] (already normalised) -> image_embeds [batch, embedDim]. */
export function visionModelOnnx(model: ClipModel): Uint8Array {
  const cfg: ClipConfig = model.config;
  const p = model.params.vision;
  const g = new GraphBuilder('clip_vision_model');
  const w = new TowerWriter(g, cfg.layerNormEps);
  const S = cfg.imageSize;
  const ps = cfg.patchSize;
  const pixels = g.input('pixel_values', 'float', ['batch_size', 3, S, S]);
  const nhwc = g.node('Transpose', [pixels], { perm: [0, 2, 3, 1] }); // [B, H, W, 3]
  const rows = g.node('Reshape', [nhwc, g.int64('rows_shape', [-1, ps, patchGridSize(cfg), ps * 3])]); // [B*gy, py, gx, px*3]
  const grid = g.node('Transpose', [rows], { perm: [0, 2, 1, 3] }); // [B*gy, gx, py, px*3]
  const patches = g.node('Reshape', [grid, g.int64('patches_shape', [-1, numPatches(cfg), patchDim(cfg)])]); // [B, N, p*p*3]
  let x = g.node('Add', [w.linear(patches, p.patchEmbedding, 'vision.patchEmbedding'), g.float('vision.positionEmbedding', values(p.positionEmbedding), p.positionEmbedding.shape)]);
  p.blocks.forEach((b, i) => {
    x = w.block(x, b, cfg.visionWidth, cfg.visionHeads, `vision.blocks.${i}`);
  });
  x = w.layerNorm(x, p.lnFinal, 'vision.lnFinal');
  const pooled = g.node('ReduceMean', [x], { axes: [1], keepdims: 0 }); // [B, C]
  const projected = g.node('MatMul', [pooled, g.float('vision.projection', values(p.projection), p.projection.shape)]);
  g.output(w.l2Normalize(projected), 'image_embeds', 'float', ['batch_size', cfg.embedDim]);
  return g.encode('dalle CLIP vision tower (L2-normalised embeddings)');
}
