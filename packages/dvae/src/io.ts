// Saving and loading a dVAE model folder (config.json + model.safetensors through core's
// weights I/O) and the identity hash that token datasets record to name the dVAE they used.
import { assignVariables, encodeSafetensors, loadModelDir, saveModelDir, sha256, tensorsToData, UsageError, type StorageDtype } from '@dalle/core';
import { resolveDvaeConfig, type DvaeConfig } from './config.ts';
import { Dvae } from './dvae.ts';
import { initDvaeParams } from './params.ts';

export const DVAE_KIND = 'dalle-dvae';
export const DVAE_FORMAT_VERSION = 1;

/** Writes `dir`/config.json and `dir`/model.safetensors atomically. */
export async function saveDvae(dir: string, dvae: Dvae, info?: Record<string, unknown>, options: { dtype?: StorageDtype; extraFiles?: Record<string, string | Uint8Array> } = {}): Promise<void> {
  const file = { kind: DVAE_KIND, formatVersion: DVAE_FORMAT_VERSION, config: dvae.config, ...(info ? { info } : {}) };
  await saveModelDir(dir, file, tensorsToData(dvae.params), options);
}

/**
 * Throws naming the first field of `expected` that differs from `actual`, with both values,
 * e.g. `runs/a: codebookSize is 512 in the checkpoint but 256 was requested`.
 */
export function checkDvaeConfigMatch(actual: DvaeConfig, expected: Partial<DvaeConfig>, source: string): void {
  for (const [k, v] of Object.entries(expected)) {
    if (v === undefined) continue;
    const have = (actual as unknown as Record<string, unknown>)[k];
    if (have !== v) throw new UsageError(`${source}: ${k} is ${JSON.stringify(have)} in the checkpoint but ${JSON.stringify(v)} was requested`);
  }
}

/**
 * Rebuilds a Dvae from a model folder. Refuses another kind or format version, a config.json
 * that does not match the weights (naming the tensor and both shapes), and, when `expect` is
 * given, a config that differs from it (naming the field and both values).
 */
export async function loadDvae(dir: string, options: { expect?: Partial<DvaeConfig> } = {}): Promise<Dvae> {
  const { file, tensors } = await loadModelDir<DvaeConfig>(dir, { kind: DVAE_KIND, formatVersion: DVAE_FORMAT_VERSION });
  const cfg = resolveDvaeConfig(file.config);
  if (options.expect) checkDvaeConfigMatch(cfg, options.expect, dir);
  const params = initDvaeParams(cfg, 0);
  try {
    assignVariables(params, tensors, `${dir}: config.json does not match model.safetensors`);
  } catch (err) {
    for (const v of Object.values(params)) v.dispose();
    throw err;
  }
  return new Dvae(cfg, params);
}

/**
 * sha256 (hex) of the model's kind, config and float32 weights: equal for equal models however
 * they were stored, different when any weight differs. Token datasets record it as dvaeId.
 */
export function dvaeIdentity(dvae: Dvae): string {
  const weights = encodeSafetensors(tensorsToData(dvae.params), { dtype: 'F32' });
  const head = JSON.stringify({ kind: DVAE_KIND, formatVersion: DVAE_FORMAT_VERSION, config: dvae.config });
  return sha256(Buffer.concat([Buffer.from(head + '\n', 'utf8'), weights]));
}
