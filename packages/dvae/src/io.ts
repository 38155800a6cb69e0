// Saving and loading a dVAE model folder (config.json + model.safetensors through core's
// weights I/O) and the identity hash that token datasets record to name the dVAE they used.
import { assignVariables, encodeSafetensors, loadModelDir, saveModelDir, sha256, tensorsToData, UsageError, type StorageDtype } from '@dalle/core';
import { resolveDvaeConfig, type DvaeConfig } from './config.ts';
import { Dvae } from './dvae.ts';
import { initDvaeParams, isEncoderKey, type DvaeParams } from './params.ts';

export const DVAE_KIND = 'dalle-dvae';
export const DVAE_FORMAT_VERSION = 1;

/**
 * Writes `dir`/config.json and `dir`/model.safetensors atomically. A decoder-only fine-tune also
 * records, in info, the dVAE whose codes it keeps (`codesFrom`) and its encoder's hash
 * (`encoderIdentity`), which loadDvae checks.
 */
export async function saveDvae(dir: string, dvae: Dvae, info?: Record<string, unknown>, options: { dtype?: StorageDtype; extraFiles?: Record<string, string | Uint8Array> } = {}): Promise<void> {
  const codes = dvae.codesFrom ? { codesFrom: dvae.codesFrom, encoderIdentity: encoderIdentity(dvae) } : undefined;
  const allInfo = info || codes ? { ...info, ...codes } : undefined;
  const file = { kind: DVAE_KIND, formatVersion: DVAE_FORMAT_VERSION, config: dvae.config, ...(allInfo ? { info: allInfo } : {}) };
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
    const codesFrom = file.info?.codesFrom;
    if (codesFrom === undefined) return new Dvae(cfg, params);
    if (typeof codesFrom !== 'string' || !/^[0-9a-f]{64}$/.test(codesFrom)) throw new UsageError(`${dir}: config.json info.codesFrom must be a dVAE identity (64 hex digits), got ${JSON.stringify(codesFrom)}`);
    const dvae = new Dvae(cfg, params, { codesFrom });
    if (encoderIdentity(dvae) !== file.info?.encoderIdentity) {
      throw new UsageError(`${dir}: config.json says this dVAE keeps the codes of dVAE ${codesFrom.slice(0, 12)}, but its encoder weights are not the ones recorded in info.encoderIdentity; re-export the model, or delete info.codesFrom to treat its codes as new`);
    }
    return dvae;
  } catch (err) {
    for (const v of Object.values(params)) v.dispose();
    throw err;
  }
}

/**
 * sha256 (hex) of the model's kind, config and float32 weights: equal for equal models however
 * they were stored, different when any weight differs. Token datasets record dvaeCodesId, which is
 * this identity for every dVAE but a decoder-only fine-tune.
 */
export function dvaeIdentity(dvae: Dvae): string {
  return hashWeights(dvae.config, dvae.params);
}

/**
 * sha256 (hex) of the kind, config (without the decoder-only fields) and float32 encoder weights:
 * what decides each image's codes.
 */
export function encoderIdentity(dvae: Dvae): string {
  const { decoderHiddenChannels: _width, decoderResBlocks: _blocks, ...config } = dvae.config;
  return hashWeights(config, Object.fromEntries(Object.entries(dvae.params).filter(([key]) => isEncoderKey(key))));
}

/**
 * The identity of the dVAE whose codes this one produces: its own, or, for a decoder-only
 * fine-tune, that of the model it started from. Token datasets record it as dvaeId and
 * transformers as the dVAE they were trained on.
 */
export function dvaeCodesId(dvae: Dvae): string {
  return dvae.codesFrom ?? dvaeIdentity(dvae);
}

function hashWeights(config: Partial<DvaeConfig>, params: DvaeParams): string {
  const weights = encodeSafetensors(tensorsToData(params), { dtype: 'F32' });
  const head = JSON.stringify({ kind: DVAE_KIND, formatVersion: DVAE_FORMAT_VERSION, config });
  return sha256(Buffer.concat([Buffer.from(head + '\n', 'utf8'), weights]));
}
