// A model folder: config.json (kind, format version, full config) beside model.safetensors.
// Loading checks kind and version first, then that the key set and every shape match the model
// being rebuilt, and names the first mismatch before anything is assigned.
import * as tf from '@tensorflow/tfjs-core';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { UsageError } from './errors.ts';
import { writeDirAtomic, writeFileAtomic } from './fs-atomic.ts';
import { encodeSafetensors, readSafetensors, type NamedTensors, type StorageDtype, type TensorData } from './safetensors.ts';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';

export interface ModelConfigFile<C> {
  kind: string;
  formatVersion: number;
  config: C;
  /** Free-form facts about training (steps, metrics, data); never needed to rebuild the model. */
  info?: Record<string, unknown>;
}

/** Plain data from a tensor (reads it synchronously; fine for saving weights). */
export function tensorToData(t: tf.Tensor): TensorData {
  if (t.dtype === 'int32') return { dtype: 'int32', shape: [...t.shape], data: t.dataSync() as Int32Array };
  return { dtype: 'float32', shape: [...t.shape], data: Float32Array.from(t.dataSync() as Float32Array) };
}

export function tensorsToData(tensors: Record<string, tf.Tensor>): NamedTensors {
  const out: NamedTensors = {};
  for (const [k, t] of Object.entries(tensors)) out[k] = tensorToData(t);
  return out;
}

export function dataToTensor(d: TensorData): tf.Tensor {
  return tf.tensor(d.data, d.shape, d.dtype);
}

/**
 * Checks that `loaded` has exactly the keys and shapes of `expected` (e.g. a freshly
 * initialised parameter record); throws naming the first missing, extra or mis-shaped tensor.
 */
export function checkTensorSet(expected: Record<string, { shape: number[] | readonly number[] }>, loaded: NamedTensors, source: string): void {
  const want = Object.keys(expected).sort();
  const have = new Set(Object.keys(loaded));
  for (const k of want) {
    if (!have.has(k)) throw new UsageError(`${source}: missing tensor "${k}" (expected shape [${expected[k].shape}])`);
  }
  const wantSet = new Set(want);
  for (const k of [...have].sort()) {
    if (!wantSet.has(k)) throw new UsageError(`${source}: unexpected tensor "${k}" (shape [${loaded[k].shape}]) that this model does not have`);
  }
  for (const k of want) {
    const a = [...expected[k].shape];
    const b = loaded[k].shape;
    if (a.length !== b.length || a.some((d, i) => d !== b[i])) throw new UsageError(`${source}: tensor "${k}" has shape [${b}] but the model expects [${a}]`);
  }
}

/** Assigns loaded values into variables after checking the whole set (see checkTensorSet). */
export function assignVariables(vars: Record<string, tf.Variable>, loaded: NamedTensors, source: string): void {
  checkTensorSet(vars, loaded, source);
  for (const [k, v] of Object.entries(vars)) {
    const t = dataToTensor(loaded[k]);
    const value = v.dtype === t.dtype ? t : tf.cast(t, v.dtype);
    v.assign(value);
    tf.dispose([t, value]);
  }
}

export interface SaveModelOptions {
  /** Storage dtype of float tensors (F16 halves shipped weights). */
  dtype?: StorageDtype;
  /** Extra files written into the same folder, e.g. optimizer state. */
  extraFiles?: Record<string, string | Uint8Array>;
}

/** Writes config.json + model.safetensors (and extra files) into `dir`, atomically as a whole. */
export async function saveModelDir<C>(dir: string, file: ModelConfigFile<C>, tensors: NamedTensors, options: SaveModelOptions = {}): Promise<void> {
  const weights = encodeSafetensors(tensors, { dtype: options.dtype, metadata: { kind: file.kind, formatVersion: String(file.formatVersion) } });
  await writeDirAtomic(dir, async (tmp) => {
    await fsp.writeFile(path.join(tmp, CONFIG_FILE), JSON.stringify(file, null, 2) + '\n');
    await fsp.writeFile(path.join(tmp, WEIGHTS_FILE), weights);
    for (const [name, data] of Object.entries(options.extraFiles ?? {})) await fsp.writeFile(path.join(tmp, name), data);
  });
}

/** Reads and checks config.json of a model folder without touching the weights. */
export async function readModelConfig<C>(dir: string, expect: { kind: string; formatVersion: number }): Promise<ModelConfigFile<C>> {
  const file = path.join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    throw new UsageError(`no ${CONFIG_FILE} in ${dir}: is this a ${expect.kind} model folder?`);
  }
  let parsed: ModelConfigFile<C>;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`${file} is not valid JSON`);
  }
  if (parsed.kind !== expect.kind) throw new UsageError(`${file}: expected a model of kind "${expect.kind}" but found "${parsed.kind}"`);
  if (parsed.formatVersion !== expect.formatVersion) throw new UsageError(`${file}: format version ${parsed.formatVersion} is not supported (this build reads version ${expect.formatVersion})`);
  return parsed;
}

/** Reads config.json and model.safetensors of a model folder. */
export async function loadModelDir<C>(dir: string, expect: { kind: string; formatVersion: number }): Promise<{ file: ModelConfigFile<C>; tensors: NamedTensors }> {
  const file = await readModelConfig<C>(dir, expect);
  const { tensors } = await readSafetensors(path.join(dir, WEIGHTS_FILE));
  return { file, tensors };
}

export { writeFileAtomic };
